// VM names and how a VM's names are spelled on the host (docs/vm.md, "Names").
// Pure: the hook (native/hook/names.c) is the authority; this mirrors it for users and tests.
import { UsageError } from '../errors.js';
import { RESERVED_DEVICE_NAME, RESERVED_VM_NAMES, VM_NAME, VM_NAME_MAX, vmNameProblem } from '../plan/names.js';

// one VM name rule and one list of device names for VMs, services and svcdup-host's command line
// (plan/names.ts sits below vm/, and plan/plan.ts checks names before they reach a command line)
export { RESERVED_DEVICE_NAME, RESERVED_VM_NAMES, VM_NAME, VM_NAME_MAX, vmNameProblem };

export function validateVmName(name: string): string {
  const p = vmNameProblem(name);
  if (p) throw new UsageError(`invalid VM name "${name}": ${p}`);
  return name;
}

/** The prefix every renamed name component gets. VM names hold no dot, so prefixes cannot collide. */
export const vmPrefix = (vm: string): string => `svcdup.${vm}.`;

/** `Global\X` (or `Local\X`, `X`) as the host sees it when a process of VM `vm` creates it. */
export function objectNameInVm(vm: string, name: string): string {
  const m = /^(Global\\|Local\\|Session\\\d+\\)?(.*)$/i.exec(name)!;
  return `${m[1] ?? ''}${vmPrefix(vm)}${m[2]}`;
}

/** `\\.\pipe\X` as the host sees it when a process of VM `vm` creates or opens it. */
export function pipeNameInVm(vm: string, pipe: string): string {
  return `\\\\.\\pipe\\${vmPrefix(vm)}${pipe.replace(/^\\\\\.\\pipe\\/i, '')}`;
}
