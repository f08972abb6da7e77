// vm export (docs/state.md "Export and import"): the VM's record, its registry key, its
// duplicates' definitions and its file area as one gzip'd tar (src/portable/archive.ts), written
// as a stream (memory stays flat whatever the area's size) to a temporary file renamed into
// place: the archive is whole or absent. The VM's duplicates must be stopped for the copy
// (--stop stops them and starts them again afterwards).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Header, Pack, ReadEntry } from 'tar';
import type { ManagedBackend } from '../backend/index.js';
import type { RegTree } from '../backend/types.js';
import { packageRoot } from '../config.js';
import type { Duplicates } from '../dup/dup.js';
import { SvcdupError, UsageError } from '../errors.js';
import { absentAs } from '../backend/registry.js';
import { vmKey } from '../plan/keys.js';
import { getVm } from '../state/vms.js';
import { ARCHIVE_FORMAT, type ArchiveEntry, type ArchiveManifest, type ArchivedDuplicate, type ArchivedRegistry, type ArchivedVm } from './archive.js';
import { vmStateDirWin } from '../vm/files.js';

export interface ExportResult {
  vm: string;
  file: string;
  bytes: number;
  files: number;
  fileBytes: number;
  duplicates: string[];
  /** duplicates stopped for the copy and started again (--stop) */
  restarted: string[];
}

export function svcdupVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/** The area's folders and files (entry names as in the archive, `files/...`), each file hashed. */
async function areaEntries(stateDir: string): Promise<ArchiveEntry[]> {
  const out: ArchiveEntry[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    out.push({ path: rel, type: 'dir', size: 0, sha256: '' });
    const names = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of names) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p, `${rel}/${e.name}`);
      else if (e.isFile()) out.push({ path: `${rel}/${e.name}`, type: 'file', size: (await fs.stat(p)).size, sha256: await sha256File(p) });
      else throw new SvcdupError(`${p}: neither a file nor a folder; svcdup does not export it`);
    }
  };
  const root = join(stateDir, 'files');
  if (await fs.stat(root).catch(() => undefined)) await walk(root, 'files');
  return out;
}

const memEntry = (path: string, data: Buffer): ReadEntry => {
  const e = new ReadEntry(new Header({ path, mode: 0o644, size: data.length, mtime: new Date(), type: 'File', uid: 0, gid: 0 }));
  e.end(data);
  return e;
};

const json = (v: unknown): Buffer => Buffer.from(`${JSON.stringify(v, null, 1)}\n`);
const hashOf = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The duplicates of a VM that run now (not STOPPED), as `Duplicates.status` says. */
async function runningDuplicates(dups: Duplicates, vm: string): Promise<string[]> {
  return (await dups.status(vm)).filter((d) => d.status && d.status.state !== 'STOPPED').map((d) => d.service);
}

/**
 * Stop the VM's running duplicates (or refuse, naming them, without `stop`), run `body`,
 * then start again those that ran. Used by export and checkpoint.
 */
export async function withDuplicatesStopped<T>(
  dups: Duplicates,
  vm: string,
  stop: boolean,
  what: string,
  body: () => Promise<T>,
): Promise<{ result: T; restarted: string[] }> {
  const running = await runningDuplicates(dups, vm);
  if (running.length && !stop)
    throw new UsageError(
      `VM ${vm}: ${running.map((s) => `${s}@${vm}`).join(', ')} ${running.length === 1 ? 'runs' : 'run'}; a ${what} of running services is not consistent: stop ${running.length === 1 ? 'it' : 'them'} first, or give --stop (stopped for the copy, started again after)`,
    );
  for (const s of running) await dups.stop(s, vm);
  try {
    return { result: await body(), restarted: running };
  } finally {
    if (running.length) await dups.startMany(running.map((service) => ({ service, vm })));
  }
}

export async function exportVm(backend: ManagedBackend, dups: Duplicates, vm: string, out: string, opts: { stop?: boolean } = {}): Promise<ExportResult> {
  const record = getVm(dups.db, vm);
  if (!record) throw new UsageError(`no VM named ${vm}`);
  const file = resolve(out);
  if (await fs.stat(file).catch(() => undefined)) throw new UsageError(`${file} exists already: give another -o FILE`);
  const { result, restarted } = await withDuplicatesStopped(dups, vm, !!opts.stop, 'copy', async () => {
    const list = dups.list(vm);
    const duplicates: ArchivedDuplicate[] = [];
    for (const d of list) {
      const cfg = await backend.call('scm.config', { name: d.scmName });
      duplicates.push({
        service: d.service,
        scmName: d.scmName,
        plan: d.plan,
        start: cfg.start,
        mode: d.plan.direct ? 'direct' : 'relayed',
        restrictedToken: /\s--restricted-token(\s|$)/.test(d.plan.imagePath),
      });
    }
    const tree = await backend.call('reg.export', { key: vmKey(vm) }).catch(absentAs<RegTree | undefined>(undefined));
    // the limits as given, not where this host holds them (its cgroups): the importing host places its own
    const { cgroups: _here, ...limits } = record.limits ?? {};
    const vmJson: ArchivedVm = {
      name: vm,
      policy: record.policy,
      ...(record.address ? { address: record.address } : {}),
      portMap: record.portMap,
      ...(Object.keys(limits).length ? { limits } : {}),
    };
    // checkpoints stay with the VM they were taken of (their files are not carried either)
    if (tree) tree.subkeys = tree.subkeys.filter((k) => k.name.toLowerCase() !== 'checkpoints');
    const registry: ArchivedRegistry = tree ? { tree } : {};
    const meta: [string, Buffer][] = [
      ['vm.json', json(vmJson)],
      ['registry.json', json(registry)],
      ['duplicates.json', json(duplicates)],
    ];
    const stateDir = backend.toHostPath(vmStateDirWin(vm));
    const area = await areaEntries(stateDir);
    const manifest: ArchiveManifest = {
      format: ARCHIVE_FORMAT,
      kind: 'svcdup-vm',
      vm,
      createdAt: new Date().toISOString(),
      source: { host: hostname(), backend: backend.kind },
      svcdup: svcdupVersion(),
      entries: [...meta.map(([path, b]) => ({ path, type: 'file' as const, size: b.length, sha256: hashOf(b) })), ...area],
    };
    const tmp = join(dirname(file), `.${vm}.svcdup-export.${process.pid}.tmp`);
    try {
      const pack = new Pack({ cwd: stateDir, gzip: true, portable: true });
      const written = pipeline(pack, createWriteStream(tmp, { flags: 'wx' }));
      pack.add(memEntry('manifest.json', json(manifest)));
      for (const [path, b] of meta) pack.add(memEntry(path, b));
      if (area.length) pack.add('files');
      pack.end();
      await written;
      await fs.link(tmp, file).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'EEXIST' ? new UsageError(`${file} exists already: give another -o FILE`) : err;
      });
    } finally {
      await fs.rm(tmp, { force: true });
    }
    const files = area.filter((e) => e.type === 'file');
    return {
      vm,
      file,
      bytes: (await fs.stat(file)).size,
      files: files.length,
      fileBytes: files.reduce((n, e) => n + e.size, 0),
      duplicates: list.map((d) => d.scmName),
    };
  });
  return { ...result, restarted };
}
