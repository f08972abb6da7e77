// VM policy files: which names a VM shares with the host (open), never reaches
// (closed), or keeps to itself even where the defaults share it (private).
// Pure: parsing, validation and compilation to the rules text the hook reads.
import { z } from 'zod';
import { UsageError } from '../errors.js';

export const NAME_KINDS = ['objects', 'pipes', 'mailslots', 'ports', 'files'] as const;
export type NameKind = (typeof NAME_KINDS)[number];
export const VERDICTS = ['open', 'closed', 'private', 'cow'] as const;
export type Verdict = (typeof VERDICTS)[number];

const pattern = z
  .string()
  .min(1, 'a pattern must not be empty')
  .max(256, 'a pattern is at most 256 characters')
  .refine((s) => !/[\u0000-\u001f]/.test(s), 'a pattern must not contain control characters or line breaks')
  .refine((s) => s.trim() === s, 'a pattern must not start or end with spaces')
  .refine((s) => !s.startsWith('\\'), 'a pattern names what follows the namespace root: write "X", not "\\BaseNamedObjects\\X" or "\\\\.\\pipe\\X"')
  .refine((s) => !/^svcdup\./i.test(s), 'names starting with "svcdup." are svcdup\'s own and cannot be listed');

/** File patterns are absolute Windows paths with * and ?: C:\\data\\*, matched against the resolved path. */
const filePattern = pattern.refine((s) => /^[A-Za-z*?]:\\/.test(s), 'a file pattern is an absolute Windows path, e.g. "C:\\logs\\*"');

const lists = z.strictObject({
  files: z.array(filePattern).optional(),
  objects: z.array(pattern).optional(),
  pipes: z.array(pattern).optional(),
  mailslots: z.array(pattern).optional(),
  ports: z.array(pattern).optional(),
});

export const PolicyFile = z.strictObject({
  version: z.literal(1).optional(),
  description: z.string().optional(),
  open: lists.optional(),
  closed: lists.optional(),
  private: lists.optional(),
  /** copy-on-write (the default for files): only useful to carve an exception out of an `open` pattern */
  cow: z.strictObject({ files: z.array(filePattern).optional() }).optional(),
});
export type PolicyFile = z.infer<typeof PolicyFile>;

/** Parse and validate a policy file's text; errors name the file and every problem. */
export function parsePolicy(text: string, source = 'policy file'): PolicyFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  const r = PolicyFile.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new UsageError(`${source} is not a valid svcdup policy:\n  ${issues.join('\n  ')}`);
  }
  return r.data;
}

/** The rules text the hook reads: one "VERDICT KIND PATTERN" a line. */
export function compilePolicy(p: PolicyFile): string {
  const lines: string[] = [];
  for (const v of VERDICTS) for (const k of NAME_KINDS) for (const pat of (p[v] as Partial<Record<NameKind, string[]>> | undefined)?.[k] ?? []) lines.push(`${v} ${k} ${pat}`);
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** The defaults every VM has (native/hook/policy.c), for `vm ls` and the docs. */
export const DEFAULT_OPEN: Readonly<Record<NameKind, readonly string[]>> = {
  pipes: ['svcctl', 'ntsvcs', 'net\\NtControlPipe*', 'lsarpc', 'lsass', 'samr', 'epmapper', 'lrpc\\epmapper', 'lrpc\\irot', 'lrpc\\irpcss', 'plugplay'],
  ports: ['epmapper', 'lsasspirpc', 'ntsvcs'],
  objects: ['__wine*'],
  mailslots: [],
  files: [],
};

/** Case-insensitive glob with * and ?, as the hook matches. */
export function globMatch(pat: string, name: string): boolean {
  const re = new RegExp('^' + pat.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'is');
  return re.test(name);
}

/** What the hook decides for a name (the part after the namespace root); mirrors policy.c. */
export function decide(p: PolicyFile, kind: NameKind, name: string): 'renamed' | 'open' | 'denied' {
  if (kind !== 'files' && /^svcdup\./i.test(name)) return 'renamed';
  const hit = (v: Verdict) => ((p[v] as Partial<Record<NameKind, string[]>> | undefined)?.[kind] ?? []).some((pat) => globMatch(pat, name));
  if (hit('closed')) return 'denied';
  if (hit('private')) return 'renamed';
  if (kind === 'files' && hit('cow')) return 'renamed';
  if (hit('open') || DEFAULT_OPEN[kind].some((pat) => globMatch(pat, name))) return 'open';
  return 'renamed';
}

/** The rule the hook applies to a file path (a resolved Windows path, C:\\...); mirrors policy.c and files.c. */
export function decideFile(p: PolicyFile, path: string): 'cow' | 'open' | 'closed' | 'private' {
  const hit = (v: Verdict) => ((p[v] as Partial<Record<NameKind, string[]>> | undefined)?.files ?? []).some((pat) => globMatch(pat, path));
  if (hit('closed')) return 'closed';
  if (hit('private')) return 'private';
  if (hit('cow')) return 'cow';
  return hit('open') ? 'open' : 'cow';
}
