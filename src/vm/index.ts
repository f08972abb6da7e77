// Feather-weight VMs: namespace virtualization for processes and IPC (docs/vm.md).
export { Vms, type VmBackend, type VmHostHooks, type VmInfo, type VmProcess } from './ops.js';
export { dbVmStore, type VmStore, type VmRecord } from './store.js';
export { planVmCreate, planVmForget } from './lifecycle.js';
export {
  compilePolicy,
  decide,
  DEFAULT_OPEN,
  DEFAULT_RULES,
  globMatch,
  parseRules,
  type NameKind,
  type Rule,
  type RuleKind,
  type Rules,
} from './policy.js';
export { objectNameInVm, pipeNameInVm, validateVmName, vmNameProblem, vmPrefix, VM_NAME } from './names.js';
export { cloneKeys, cowKey, diffKeys, removeKeys, type KeyChange } from './keys.js';
export { decideKey } from './policy.js';
export { parsePolicy, PolicyFile } from './policy-file.js';
export { vmDiff, type VmDiff } from './diff.js';
export { vmRulesOf, rulesFile } from './rules.js';
