// Feather-weight VMs: namespace virtualization for processes and IPC (docs/vm.md).
export { Vms, type VmBackend, type VmInfo, type VmProcess } from './ops.js';
export { dbVmStore, type VmStore, type VmRecord } from './store.js';
export { compilePolicy, decide, DEFAULT_OPEN, globMatch, parsePolicy, PolicyFile, type NameKind } from './policy.js';
export { objectNameInVm, pipeNameInVm, validateVmName, vmNameProblem, vmPrefix, VM_NAME } from './names.js';
export { cloneKeys, cowKey, diffKeys, removeKeys, type KeyChange } from './keys.js';
export { decideKey } from './policy.js';
