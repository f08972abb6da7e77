// The VM archive (`vm export`, `vm import`; docs/state.md "Export and import"): a gzip'd tar
// whose first entry is manifest.json (format, source host and backend, svcdup version, the
// size and sha256 of every other entry), then vm.json (record: rules, address, port map),
// registry.json (the export of HKLM\SOFTWARE\svcdup\VMs\<vm>: copies of service keys and the
// copy-on-write registry), duplicates.json (each duplicate's definition) and files/<drive>/...
// (the VM's file area, whiteouts included). Pure: the manifest's checks and the renaming of
// a duplicate's definition for the VM's new name and host.
import { z } from 'zod';
import type { RegTree, ServiceConfig, ServiceStartType } from '../backend/types.js';
import { UsageError } from '../errors.js';
import { duplicateDisplayName, duplicateServiceName } from '../plan/names.js';
import { directCopy, type PlannedService } from '../plan/plan.js';

/** The archive format this svcdup writes and reads; an archive of a later format is refused. */
export const ARCHIVE_FORMAT = 1;
export const META_ENTRIES = ['vm.json', 'registry.json', 'duplicates.json'] as const;
/** A metadata entry larger than this is not svcdup's (it would be held in memory). */
export const MAX_META_BYTES = 64 * 1048576;

const entrySchema = z.object({ path: z.string(), type: z.enum(['file', 'dir']), size: z.number().int().min(0), sha256: z.string() });
const manifestSchema = z.object({
  format: z.number().int().min(1),
  kind: z.literal('svcdup-vm'),
  vm: z.string(),
  createdAt: z.string(),
  source: z.object({ host: z.string(), backend: z.enum(['wine', 'windows']) }),
  svcdup: z.string(),
  entries: z.array(entrySchema),
});
export type ArchiveEntry = z.infer<typeof entrySchema>;
export type ArchiveManifest = z.infer<typeof manifestSchema>;

/** vm.json: what the VM's record holds. */
export interface ArchivedVm {
  name: string;
  /** the user's compiled rules (the record's policy) */
  policy: string;
  address?: string;
  portMap: Record<string, number>;
  /** --memory (bytes), --cpus, --processes as given; checked again against the importing host */
  limits?: { memory?: number; cpus?: number; processes?: number };
}

/** One entry of duplicates.json. */
export interface ArchivedDuplicate {
  service: string;
  scmName: string;
  /** its plan when it was made (its original's configuration on the source host) */
  plan: PlannedService;
  /** the duplicate's start type in the source SCM (kept on import) */
  start: ServiceStartType;
  mode: 'relayed' | 'direct';
  restrictedToken: boolean;
}

export interface ArchivedRegistry {
  /** HKLM\SOFTWARE\svcdup\VMs\<vm> as reg.export gave it (absent: the VM had no key) */
  tree?: RegTree;
}

/** The manifest, checked: a clear error for what is not one, or one of a later format. */
export function parseManifest(bytes: Uint8Array): ArchiveManifest {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new UsageError('not a svcdup VM archive: its manifest.json is not JSON');
  }
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof format === 'number' && format > ARCHIVE_FORMAT)
    throw new UsageError(`the archive is of format ${format}, newer than this svcdup reads (${ARCHIVE_FORMAT}): import it with a newer svcdup`);
  const r = manifestSchema.safeParse(json);
  if (!r.success)
    throw new UsageError(`not a svcdup VM archive: its manifest is malformed (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message})`);
  return r.data;
}

/** Why an entry name cannot be in an archive (absolute, `..`, not under files/<drive>), or undefined. */
export function entryPathProblem(path: string, type: string): string | undefined {
  if (type !== 'File' && type !== 'Directory') return `${path}: a ${type} entry (only files and folders are carried)`;
  if ((META_ENTRIES as readonly string[]).includes(path) || path === 'manifest.json') return type === 'File' ? undefined : `${path}: not a file`;
  const p = path.replace(/\/$/, '');
  if (p === 'files') return type === 'Directory' ? undefined : `${path}: not a folder`;
  const parts = p.split('/');
  if (parts[0] !== 'files' || !/^[A-Z]$/.test(parts[1] ?? '')) return `${path}: not under files/<drive>/`;
  if (parts.some((s) => s === '' || s === '.' || s === '..' || /[\\:\0]/.test(s) || s.length > 255)) return `${path}: a bad path`;
  return undefined;
}

/**
 * What the archive's entries say against its manifest: an entry missing, one not listed, a
 * size or checksum that differs. Empty when it is whole.
 */
export function entryProblems(manifest: ArchiveManifest, seen: ReadonlyMap<string, { type: 'file' | 'dir'; size: number; sha256: string }>): string[] {
  const out: string[] = [];
  const listed = new Set<string>();
  for (const e of manifest.entries) {
    listed.add(e.path);
    const s = seen.get(e.path);
    if (!s) out.push(`${e.path}: missing from the archive`);
    else if (s.type !== e.type) out.push(`${e.path}: a ${s.type}, the manifest says a ${e.type}`);
    else if (s.size !== e.size || s.sha256 !== e.sha256) out.push(`${e.path}: checksum mismatch (the archive is damaged)`);
  }
  for (const p of seen.keys()) if (!listed.has(p)) out.push(`${p}: not in the manifest`);
  return out;
}

/**
 * A duplicate's plan for VM `vm` on this host: its name, image path and dependencies
 * renamed, its original's configuration as this host has it (`original`), svcdup-host or
 * the hook DLL where this host keeps them.
 */
export function importedPlan(
  d: ArchivedDuplicate,
  from: string,
  vm: string,
  original: ServiceConfig,
  where: { hostExe: string; hookDll: string },
): PlannedService {
  const scmName = duplicateServiceName(d.service, vm);
  const suffix = `@${from}`.toLowerCase();
  const quote = (s: string): string => (/[\s"]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s);
  const p: PlannedService = {
    service: d.service,
    scmName,
    displayName: duplicateDisplayName(original.displayName, vm),
    imagePath: [quote(where.hostExe), '--vm', quote(vm), '--service', quote(d.service), ...(d.restrictedToken ? ['--restricted-token'] : [])].join(' '),
    dependOnService: d.plan.dependOnService.map((n) => (n.toLowerCase().endsWith(suffix) ? duplicateServiceName(n.slice(0, -suffix.length), vm) : n)),
    original,
    reason: d.plan.reason,
  };
  if (d.plan.svchost) p.svchost = d.plan.svchost;
  if (d.mode === 'direct') {
    const c = directCopy(original, vm, scmName, where.hookDll);
    p.direct = c.args;
    p.imagePath = c.imagePath;
  }
  return p;
}
