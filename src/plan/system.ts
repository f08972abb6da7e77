// System services whose endpoints every VM shares with the host by default (the hook's
// default policy opens them, docs/vm.md). Duplicating one into a VM must make those
// names private to the VM, or the VM's instance would serve the host's clients and the
// VM's clients would still reach the host's instance.

/** Policy rules (docs/vm.md format) that a duplicate of SERVICE adds to its VM. */
const PRIVATE_RULES: Record<string, string[]> = {
  rpcss: [
    'private pipes epmapper',
    'private pipes lrpc\\epmapper',
    'private pipes lrpc\\irot',
    'private pipes lrpc\\irpcss',
    'private ports epmapper',
  ],
  plugplay: ['private pipes plugplay'],
};

export function privateRulesFor(service: string): string[] {
  return PRIVATE_RULES[service.toLowerCase()] ?? [];
}

/**
 * The policy text a VM's processes get: the user's rules, then what its duplicates need:
 * private endpoints of duplicated system services, and `open services NAME` for the host
 * services they depend on (`--share`), which the VM may then start and stop.
 */
export function effectivePolicy(userPolicy: string, duplicated: readonly string[], shared: readonly string[] = []): string {
  const extra = [...new Set([...duplicated.flatMap(privateRulesFor), ...shared.map((s) => `open services ${s}`)])];
  const user = userPolicy.trimEnd();
  return [user, ...(extra.length ? [`# added by svcdup for the services duplicated here`, ...extra] : [])].filter(Boolean).join('\n') + '\n';
}
