// VM names and how a VM's names are spelled on the host (docs/vm.md, "Names").
// Pure: the hook (native/hook/names.c) is the authority; this mirrors it for users and tests.
import { UsageError } from '../errors.js';
import { RESERVED_DEVICE_NAME } from '../plan/names.js';

/** Lowercase letters, digits and inner hyphens, 1 to 32 characters, starting with a letter. */
export const VM_NAME = /^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
export const VM_NAME_MAX = 32;

/** Words svcdup's own host names use after `svcdup.` (docs/vm.md). */
export const RESERVED_VM_NAMES = ['pid', 'job', 'vmctl', 'relay'];

// one list of device names for VMs and services (plan/names.ts sits below vm/)
export { RESERVED_DEVICE_NAME };

/** Why a VM name is not acceptable, or undefined when it is. */
export function vmNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > VM_NAME_MAX) return `it is longer than ${VM_NAME_MAX} characters`;
  if (/[A-Z]/.test(name)) return 'it has uppercase letters (Windows object names ignore case: use lowercase)';
  if (!/^[a-z]/.test(name)) return 'it must start with a letter';
  if (name.endsWith('-')) return 'it must not end with a hyphen';
  if (!VM_NAME.test(name)) return 'only lowercase letters, digits and hyphens are allowed (no dots, spaces or backslashes)';
  // svcdup.<word>. names of svcdup's own (svcdup.job.<vm>: membership) must not be a VM's prefix
  if (RESERVED_VM_NAMES.includes(name)) return `it is reserved for svcdup's own names (${RESERVED_VM_NAMES.join(', ')})`;
  if (RESERVED_DEVICE_NAME.test(name)) return 'it is a Windows device name (con, prn, aux, nul, com1-9, lpt1-9)';
  return undefined;
}

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
