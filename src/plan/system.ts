// System services whose endpoints every VM shares with the host by default (the hook's
// default policy opens them, docs/vm.md). Duplicating one into a VM must make those
// names private to the VM, or the VM's instance would serve the host's clients and the
// VM's clients would still reach the host's instance.

/** Policy rules (docs/vm.md format) that a duplicate of SERVICE adds to its VM. */
const PRIVATE_RULES: Record<string, string[]> = {
  rpcss: ['private pipes epmapper', 'private pipes lrpc\\epmapper', 'private pipes lrpc\\irot', 'private pipes lrpc\\irpcss', 'private ports epmapper'],
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

/**
 * The VM's whole rules text, as its Policy value and rules file hold it: the user's rules,
 * what its duplicates need (their private endpoints, `open services` for the host services
 * they depend on) and its `net` rules.
 */
export function vmPolicyText(input: {
  vm: string;
  user: string;
  net: string;
  duplicates: readonly { service: string; dependOnService: readonly string[] }[];
}): string {
  const own = `@${input.vm.toLowerCase()}`;
  const shared = [...new Set(input.duplicates.flatMap((d) => d.dependOnService.filter((n) => !n.toLowerCase().endsWith(own))))].sort();
  return (
    effectivePolicy(
      input.user,
      input.duplicates.map((d) => d.service),
      shared,
    ) + input.net
  );
}

/**
 * The most rules text a VM can have: the hook's config section (CFG_SECTION_SIZE in
 * native/hook/hook.h, 64 KiB) holds a 76-byte header (magic, length, the VM name) and the
 * rules as UTF-16 (2 bytes a character, as JavaScript counts string length).
 */
export const CFG_SECTION_SIZE = 0x10000;
const CFG_HEADER_BYTES = 4 + 4 + (32 + 1) * 2 + 2;
export const MAX_RULES_CHARS = (CFG_SECTION_SIZE - CFG_HEADER_BYTES) / 2;

/** Why a VM's rules text is too large for the hook, or undefined. */
export function rulesSizeProblem(rules: string): string | undefined {
  if (rules.length <= MAX_RULES_CHARS) return undefined;
  return `the policy compiles to ${rules.length} characters of rules; the hook's config section (CFG_SECTION_SIZE, 64 KiB) holds at most ${MAX_RULES_CHARS}`;
}
