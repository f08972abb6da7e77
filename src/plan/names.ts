// How a duplicate is named in the host SCM, and the one parser of `SERVICE@VM`. Pure and deterministic.

/**
 * Windows' reserved device names: `CON`, `NUL.txt`, `com1` name a device in any folder, in
 * any case, with any extension, so a VM or service of that name would have files and
 * folders Windows cannot make (and names that mean a device to every program).
 */
export const RESERVED_DEVICE_NAME = /^(con|prn|aux|nul|com[1-9\u00b9\u00b2\u00b3]|lpt[1-9\u00b9\u00b2\u00b3])(\.[^\\/]*)?$/i;

/** The SCM's limit on a service name (and on a display name). */
/** Lowercase letters, digits and inner hyphens, 1 to 32 characters, starting with a letter. */
export const VM_NAME = /^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
export const VM_NAME_MAX = 32;

/** Words svcdup's own host names use after `svcdup.` (docs/vm.md). */
export const RESERVED_VM_NAMES = ['pid', 'job', 'vmctl', 'relay'];

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

export const MAX_SERVICE_NAME = 256;

/**
 * Why a host service name cannot be duplicated, or undefined when it can. `@` separates
 * SERVICE from VM in a duplicate's name, so a service name holding one would make a name
 * that parses back wrong (`x@a` into VM `b` would be `x@a@b`).
 */
export function serviceNameProblem(service: string): string | undefined {
  if (service.length === 0) return 'it is empty';
  if (service.includes('@')) return `it contains '@', which svcdup reserves for SERVICE@VM`;
  if (RESERVED_DEVICE_NAME.test(service.trimEnd())) return 'it is a Windows device name (con, prn, aux, nul, com1-9, lpt1-9)';
  return undefined;
}

/**
 * Why a service name cannot be an argument of svcdup-host's command line (`--service NAME`,
 * a relayed duplicate's ImagePath), or undefined: the rule of svcdup-host's own
 * `svc_name_ok` (native/hook/scmnames.c), so what svcdup writes is what svcdup-host takes.
 * A `"` would close the quoted argument and add flags of the name's choosing; `\` and `/`
 * would make a registry path of it; `@` a duplicate's name; control characters a second line.
 */
export function hostArgumentProblem(service: string): string | undefined {
  if (service.length === 0 || service.length > MAX_SERVICE_NAME) return `it is not 1 to ${MAX_SERVICE_NAME} characters`;
  const bad = [...service].find((c) => c < ' ' || c === '"' || c === '\\' || c === '/' || c === '@');
  if (bad !== undefined) return `it contains ${JSON.stringify(bad)}, which svcdup-host refuses in a service name`;
  return undefined;
}

/** A VM's duplicate of SERVICE is `SERVICE@VM` in the host SCM; `@` never occurs in a VM name. */
export function duplicateServiceName(service: string, vm: string): string {
  const problem = serviceNameProblem(service);
  if (problem) throw new RangeError(`service name "${service}" cannot be duplicated: ${problem}`);
  const name = `${service}@${vm}`;
  if (name.length > MAX_SERVICE_NAME) {
    throw new RangeError(`duplicate name ${name} is ${name.length} characters; the SCM allows ${MAX_SERVICE_NAME}`);
  }
  return name;
}

/** Split `SERVICE@VM` back (at the last `@`); undefined for a host service name. */
export function parseDuplicateName(name: string): { service: string; vm: string } | undefined {
  const at = name.lastIndexOf('@');
  if (at <= 0 || at === name.length - 1) return undefined;
  return { service: name.slice(0, at), vm: name.slice(at + 1) };
}

/** Whether an SCM name is some VM's (a duplicate, or a service a VM process created). */
export const isDuplicateName = (name: string): boolean => parseDuplicateName(name) !== undefined;

/** Display names must be unique in the SCM too. */
export function duplicateDisplayName(display: string, vm: string): string {
  return `${display || 'service'} (${vm})`.slice(0, MAX_SERVICE_NAME);
}
