// Issue 9 for one service: the paths and keys it will write, the rule a VM's policy gives
// each (`cow` by default; `open`, `closed`, `private` per path or key, policy kinds `files`
// and `keys`), and the folders snapshotted when the duplicate is made. Pure.
//
// The rule for "no torn views" (docs/analyze.md, "State"): the folders a service is known
// to write (its image's own folder, folders named in its ImagePath arguments and its
// Parameters values and configuration files, what --trace saw) are snapshotted when the
// duplicate is made; everything else is copied up lazily, on first write. The Windows folder
// itself is never snapshotted (a system service's image lives there; its writes are copied up).
import type { StatePath, StateRule, StateSection } from './report.js';
import { winDirname } from './settings.js';

export interface StateRuleLine {
  rule: StateRule;
  kind: 'files' | 'keys';
  pattern: string;
  /** the line as written, for `ruleSource` */
  line: string;
}

const RULES = new Set<StateRule>(['cow', 'open', 'closed', 'private']);

/** The `files` and `keys` lines of a VM's policy text (one "VERDICT KIND PATTERN" a line; other kinds are the name layer's). */
export function stateRules(policyText: string): StateRuleLine[] {
  const out: StateRuleLine[] = [];
  for (const raw of policyText.split(/\r?\n/)) {
    const line = raw.trim();
    const m = /^(\w+)\s+(files|keys)\s+(.+)$/i.exec(line);
    if (!m || !RULES.has(m[1]!.toLowerCase() as StateRule)) continue;
    out.push({ rule: m[1]!.toLowerCase() as StateRule, kind: m[2]!.toLowerCase() as 'files' | 'keys', pattern: m[3]!.trim(), line });
  }
  return out;
}

/** Paths compared one way: backslashes, no trailing one, `HKEY_LOCAL_MACHINE` as `HKLM`, case folded by the caller. */
export function canonicalPath(p: string): string {
  return p
    .replace(/\//g, '\\')
    .replace(/^\\\\\?\\|^\\\?\?\\/, '')
    .replace(/^HKEY_LOCAL_MACHINE\\/i, 'HKLM\\')
    .replace(/^\\Registry\\Machine\\/i, 'HKLM\\')
    .replace(/^HKEY_CURRENT_USER\\/i, 'HKCU\\')
    .replace(/^HKEY_USERS\\/i, 'HKU\\')
    .replace(/\\+$/, '');
}

/** The whole path against the pattern, `*` and `?`, no case: as the hook's glob_match (policy.c). */
function globRe(pattern: string): RegExp {
  const p = canonicalPath(pattern);
  return new RegExp(
    '^' +
      p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
    'is',
  );
}

/** The precedence the hook gives state verdicts (policy.c decide_in): closed, then private, then cow, then open. */
const ORDER: StateRule[] = ['closed', 'private', 'cow', 'open'];

/** The rule for one path or key, as the hook decides it: a pattern matches the whole path
 *  (`C:\\logs` is the folder only, `C:\\logs\\*` what is under it); copy-on-write when none does
 *  (every VM has the file and registry layers: docs/state.md). */
export function ruleFor(rules: readonly StateRuleLine[], kind: 'files' | 'keys', path: string): { rule: StateRule; source: string } {
  const p = canonicalPath(path);
  for (const r of ORDER) {
    const hit = rules.find((l) => l.kind === kind && l.rule === r && globRe(l.pattern).test(p));
    if (hit) return { rule: r, source: hit.line };
  }
  return { rule: 'cow', source: 'default' };
}

export interface StateInput {
  /** folders the service writes, each with why */
  folders: { path: string; why: string; snapshot: boolean }[];
  /** files it writes (pid files, logs, data files named in its code or settings) */
  files: { path: string; why: string }[];
  /** registry keys it writes */
  keys: { path: string; why: string }[];
  policyText?: string;
  /** whose policy: `default` or a VM name */
  policy?: string;
}

const SYSTEM_FOLDER = /^(?:[A-Za-z]:\\windows|%SystemRoot%|%windir%)(?:\\|$)/i;

/** The state section: every path once, with its rule and whether it is snapshotted. */
export function stateSection(input: StateInput): StateSection {
  const rules = stateRules(input.policyText ?? '');
  const paths: StatePath[] = [];
  const seen = new Set<string>();
  const add = (kind: StatePath['kind'], path: string, why: string, snapshot: boolean): void => {
    const key = `${kind}\0${canonicalPath(path).toLowerCase()}`;
    const known = paths.find((p) => `${p.kind}\0${canonicalPath(p.path).toLowerCase()}` === key);
    if (known) {
      if (!known.why.includes(why)) known.why += `; ${why}`;
      known.snapshot ||= snapshot && known.rule === 'cow';
      return;
    }
    if (seen.size > 500) return;
    seen.add(key);
    const r = ruleFor(rules, kind === 'key' ? 'keys' : 'files', path);
    // only a copy-on-write folder is snapshotted: open is the host's, closed is denied, private starts empty
    const snap = snapshot && kind === 'folder' && r.rule === 'cow' && !SYSTEM_FOLDER.test(canonicalPath(path));
    paths.push({ kind, path: canonicalPath(path), why, rule: r.rule, ruleSource: r.source, snapshot: snap });
  };
  for (const f of input.folders) add('folder', f.path, f.why, f.snapshot);
  for (const f of input.files) {
    add('file', f.path, f.why, false);
    // a file the service writes lies in a folder it writes
    const dir = winDirname(f.path);
    if (dir !== f.path) add('folder', dir, `holds ${f.path}`, false);
  }
  for (const k of input.keys) add('key', k.path, k.why, false);
  return {
    policy: input.policy ?? 'default',
    paths,
    snapshot: paths.filter((p) => p.snapshot).map((p) => p.path),
    otherwise: 'copied up into the VM on first write (cow), unless the policy says otherwise for its path',
  };
}

/** Issue 9's `how`, in words: the paths with their rules, the snapshot, the rest. */
export function stateHow(s: StateSection, max = 8): string {
  if (!s.paths.length) return `no state paths found; whatever it writes is ${s.otherwise}`;
  const fmt = (p: StatePath): string => `${p.path} (${p.rule}${p.ruleSource !== 'default' ? ` by "${p.ruleSource}"` : ''})`;
  const shown = s.paths.slice(0, max).map(fmt).join(', ') + (s.paths.length > max ? ` and ${s.paths.length - max} more` : '');
  const snap = s.snapshot.length ? `; snapshotted when the duplicate is made: ${s.snapshot.join(', ')}` : '; nothing is snapshotted';
  return `writes ${shown}${snap}; everything else is ${s.otherwise}`;
}
