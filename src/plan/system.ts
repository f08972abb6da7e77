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

/** What a VM's rules text is made of (vmRulesOf in src/vm/rules.ts reads it from svcdup's state). */
export interface VmRules {
  vm: string;
  /** the user's rules (the VM record's compiled policy) */
  user: string;
  /** the `net` lines of the VM's address and port map (netRules) */
  net: string;
  /** the `alias files` lines of the host's other spellings of a drive (fileAliasRules) */
  aliases: string;
  /** the VM's duplicates */
  duplicates: readonly { service: string; dependOnService: readonly string[] }[];
}

/**
 * The VM's whole rules text, the one composer of it: what its Policy value and its rules
 * file hold (and nothing else writes either). The user's rules, then what its duplicates need
 * (their private endpoints of duplicated system services, and `open services NAME` for the
 * host services they depend on, which the VM may then start and stop), its `net` lines,
 * its file aliases.
 */
export function composeVmRules(r: VmRules): string {
  const own = `@${r.vm.toLowerCase()}`;
  const shared = [...new Set(r.duplicates.flatMap((d) => d.dependOnService.filter((n) => !n.toLowerCase().endsWith(own))))].sort();
  const extra = [...new Set([...r.duplicates.flatMap((d) => privateRulesFor(d.service)), ...shared.map((s) => `open services ${s}`)])];
  const user = r.user.trimEnd();
  const head = [user, ...(extra.length ? [`# added by svcdup for the services duplicated here`, ...extra] : [])].filter(Boolean).join('\n') + '\n';
  return head + r.net + r.aliases;
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
