// A VM's policy file (docs/vm.md): its JSON schema and parser. Apart from vm/policy.ts so that
// zod loads only in the commands that read a policy file (vm create --policy, up), not in every one.
import { z } from 'zod';
import { UsageError } from '../errors.js';

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
  /** registry keys, spelled HKLM\\..., HKU\\..., HKCU\\... (docs/state.md, "Registry") */
  keys: z.array(pattern).optional(),
});

export const PolicyFile = z.strictObject({
  version: z.literal(1).optional(),
  description: z.string().optional(),
  open: lists.optional(),
  closed: lists.optional(),
  private: lists.optional(),
  /** copy-on-write: the default for keys and files; listed to carve an exception out of an `open` pattern */
  cow: z.strictObject({ keys: z.array(pattern).optional(), files: z.array(filePattern).optional() }).optional(),
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
