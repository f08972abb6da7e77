// How a duplicate is named in the host SCM. Pure and deterministic.

/** The SCM's limit on a service name (and on a display name). */
export const MAX_SERVICE_NAME = 256;

/** A VM's duplicate of SERVICE is `SERVICE@VM` in the host SCM; `@` never occurs in a VM name. */
export function duplicateServiceName(service: string, vm: string): string {
  const name = `${service}@${vm}`;
  if (name.length > MAX_SERVICE_NAME) {
    throw new RangeError(`duplicate name ${name} is ${name.length} characters; the SCM allows ${MAX_SERVICE_NAME}`);
  }
  return name;
}

/** Split `SERVICE@VM` back; undefined for a host service name. */
export function parseDuplicateName(name: string): { service: string; vm: string } | undefined {
  const at = name.lastIndexOf('@');
  if (at <= 0 || at === name.length - 1) return undefined;
  return { service: name.slice(0, at), vm: name.slice(at + 1) };
}

/** Display names must be unique in the SCM too. */
export function duplicateDisplayName(display: string, vm: string): string {
  return `${display || 'service'} (${vm})`.slice(0, MAX_SERVICE_NAME);
}

/** The VM-private svchost group that holds only the services duplicated into that VM. */
export function privateSvchostGroup(group: string, vm: string): string {
  return `${group}@${vm}`;
}
