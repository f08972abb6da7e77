// VM policy files: which names a VM shares with the host (open), never reaches
// (closed), or keeps to itself even where the defaults share it (private).
// Pure: parsing, validation and compilation to the rules text the hook reads.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { parseNetLine, type NetIdentity } from '../net/index.js';
import type { PolicyFile } from './policy-file.js';

// the policy file's schema and parser are in policy-file.ts: zod costs every command ~0.14 s of
// CPU to load, and only `vm create --policy` and `up` read a policy file
export type { PolicyFile } from './policy-file.js';

export const NAME_KINDS = ['objects', 'pipes', 'mailslots', 'ports', 'keys', 'files'] as const;
export type NameKind = (typeof NAME_KINDS)[number];
export const VERDICTS = ['open', 'closed', 'private', 'cow'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** The rules text the hook reads: one "VERDICT KIND PATTERN" a line. */
export function compilePolicy(p: PolicyFile): string {
  const lines: string[] = [];
  for (const v of VERDICTS)
    for (const k of NAME_KINDS) for (const pat of (p[v] as Partial<Record<NameKind, string[]>> | undefined)?.[k] ?? []) lines.push(`${v} ${k} ${pat}`);
  return lines.length ? lines.join('\n') + '\n' : '';
}

// ---- the rules text: the one grammar the hook parses (native/hook/policy.c) ----

/** Every kind a rule can name: the policy file's, plus services (shared host services),
 *  files and keys (copy-on-write). */
export const RULE_KINDS = ['objects', 'pipes', 'mailslots', 'ports', 'services', 'files', 'keys'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];
/** Every verdict of a rule: the policy file's, plus cow (writes land in the VM's copy). */
export const RULE_VERDICTS = ['open', 'closed', 'private', 'cow'] as const;
export type RuleVerdict = (typeof RULE_VERDICTS)[number];
export interface Rule {
  verdict: RuleVerdict;
  kind: RuleKind;
  pattern: string;
}
/** A VM's net lines parsed: its address and port map (src/net). */
export type NetRules = NetIdentity;
export interface Rules {
  rules: Rule[];
  /** the net lines, or undefined when there are none (the VM keeps the host's network) */
  net?: NetRules;
}

/**
 * Parse rules text as the hook does (native/hook/policy.c): "VERDICT KIND PATTERN" a line,
 * words split at single spaces, the pattern the rest of the line; "net ..." lines; "#"
 * comment lines. A bad line throws, naming it, as it would fail every process of the VM.
 */
export function parseRules(text: string, source = 'policy rules'): Rules {
  const rules: Rule[] = [];
  const net: NetRules = { portMap: [] };
  let netLines = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/[\r ]+$/, '');
    const bad = (why: string): never => {
      throw new UsageError(`${source} line ${i + 1} (${JSON.stringify(line)}): ${why}`);
    };
    if (!line || line.startsWith('#')) return;
    if (line.startsWith('alias ')) return; // file path aliases (native/hook/files_path.c)
    if (line.startsWith('own files ')) return; // svcdup's own folders (native/hook/files_own.c)
    if (line.length > 4 && line.startsWith('net ')) {
      netLines++;
      const why = parseNetLine(line, net);
      if (why) bad(why);
      return;
    }
    const s1 = line.indexOf(' ');
    const verdict = (s1 < 0 ? line : line.slice(0, s1)).toLowerCase();
    if (!(RULE_VERDICTS as readonly string[]).includes(verdict)) bad('the verdict is not open, closed, private or cow');
    const rest = s1 < 0 ? '' : line.slice(s1 + 1);
    const s2 = rest.indexOf(' ');
    const kind = (s2 < 0 ? rest : rest.slice(0, s2)).toLowerCase();
    if (s1 < 0 || !(RULE_KINDS as readonly string[]).includes(kind)) bad('the kind is not objects, pipes, mailslots, ports, services, files or keys');
    const pattern = s2 < 0 ? '' : rest.slice(s2 + 1);
    if (!pattern) bad('no pattern');
    rules.push({ verdict: verdict as RuleVerdict, kind: kind as RuleKind, pattern });
  });
  return netLines ? { rules, net } : { rules };
}

/** The built-in defaults: native/hook/policy-defaults.txt, the file the hook compiles in
 *  (the same relative path from src/vm and dist/vm). */
export const DEFAULTS_FILE = fileURLToPath(new URL('../../native/hook/policy-defaults.txt', import.meta.url));
export const DEFAULT_RULES: readonly Rule[] = (() => {
  const r = parseRules(readFileSync(DEFAULTS_FILE, 'utf8'), DEFAULTS_FILE);
  if (r.net) throw new Error(`${DEFAULTS_FILE}: net lines are not for the defaults`);
  return r.rules;
})();

/** The names every VM shares with the host by default, per kind, for `vm ls` and the docs. */
export const DEFAULT_OPEN: Readonly<Record<RuleKind, readonly string[]>> = Object.fromEntries(
  RULE_KINDS.map((k) => [k, DEFAULT_RULES.filter((r) => r.kind === k && r.verdict === 'open').map((r) => r.pattern)]),
) as unknown as Record<RuleKind, readonly string[]>;

/** Case-insensitive glob with * and ?, as the hook matches. */
export function globMatch(pat: string, name: string): boolean {
  const re = new RegExp(
    '^' +
      pat
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
    'is',
  );
  return re.test(name);
}

export type Decision = 'renamed' | 'open' | 'denied' | 'cow' | 'private';
/** files and keys: a private view starts empty; with no rule they are copy-on-write */
const STATE_KINDS: readonly RuleKind[] = ['files', 'keys'];
const NAMESPACE_KINDS: readonly RuleKind[] = ['objects', 'pipes', 'mailslots', 'ports'];

function decideIn(rules: readonly Rule[], kind: RuleKind, name: string): Decision | undefined {
  const state = STATE_KINDS.includes(kind);
  let open = false;
  let priv = false;
  let cow = false;
  for (const r of rules) {
    if (r.kind !== kind || !globMatch(r.pattern, name)) continue;
    if (r.verdict === 'closed') return 'denied';
    if (r.verdict === 'private') priv = true;
    else if (r.verdict === 'cow') cow = true;
    else open = true;
  }
  return priv ? (state ? 'private' : 'renamed') : cow ? 'cow' : open ? 'open' : undefined;
}

/**
 * What the hook decides for a name (the part after the namespace root; a service name):
 * svcdup's own names are never shared (but for the relay pipe svcdup-host makes for the
 * process), then the VM's rules (closed, private, cow, open), then the defaults, else
 * renamed. For services, renamed means the host's service with query rights only.
 * policy is a policy file, or rules text as the hook gets it.
 */
export function decide(policy: PolicyFile | string, kind: RuleKind, name: string): Decision {
  if (NAMESPACE_KINDS.includes(kind) && /^svcdup\./i.test(name)) return kind === 'pipes' && globMatch('svcdup.relay.*', name) ? 'open' : 'renamed';
  const rules = parseRules(typeof policy === 'string' ? policy : compilePolicy(policy)).rules;
  return decideIn(rules, kind, name) ?? decideIn(DEFAULT_RULES, kind, name) ?? (STATE_KINDS.includes(kind) ? 'cow' : 'renamed');
}

/** What the hook decides for a registry key (HKLM\\..., HKU\\SID\\... or HKCU\\...): closed, then private,
 *  then cow, then open; copy-on-write when no rule names it. Mirrors registry.c / policy.c. */
export function decideKey(p: PolicyFile, name: string): 'cow' | 'open' | 'closed' | 'private' {
  const names = [name];
  const m = /^HKU\\[^\\]+(\\.*)?$/i.exec(name);
  if (m) names.push(`HKCU${m[1] ?? ''}`);
  const hit = (v: Verdict) => names.some((n) => (p[v]?.keys ?? []).some((pat) => globMatch(pat, n)));
  if (hit('closed')) return 'closed';
  if (hit('private')) return 'private';
  if (hit('cow')) return 'cow';
  if (hit('open')) return 'open';
  return 'cow';
}

/** The rule the hook applies to a file path (a resolved Windows path, C:\\...); mirrors policy.c and files.c. */
export function decideFile(p: PolicyFile, path: string): 'cow' | 'open' | 'closed' | 'private' {
  const hit = (v: Verdict) => ((p[v] as Partial<Record<NameKind, string[]>> | undefined)?.files ?? []).some((pat) => globMatch(pat, path));
  if (hit('closed')) return 'closed';
  if (hit('private')) return 'private';
  if (hit('cow')) return 'cow';
  return hit('open') ? 'open' : 'cow';
}
