// vm import (docs/state.md "Export and import"): an archive of `vm export` made a VM of this
// host. First everything is checked, nothing written but a staging folder that is removed on
// any failure: the archive whole (every entry's sha256 against the manifest, no entry outside
// files/<drive>/, a format this svcdup reads), the name and address free, every service the
// duplicates come from present here. Then one journaled operation (src/state/journal.ts):
// the record, the file area (renamed into place from the staging folder), the VM's key with
// its copies, the duplicates' SCM registrations and records; a failure or a kill at any
// step leaves nothing of it.
import { promises as fs, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tar from 'tar';
import type { ManagedBackend } from '../backend/index.js';
import type { RegTree, ServiceConfig } from '../backend/types.js';
import type { Duplicates } from '../dup/dup.js';
import { AgentError, SvcdupError, UsageError, Win32 } from '../errors.js';
import { ensureCgroups, hasLimits, limitsText, limitsValueText, parseLimits, planCgroups, type VmLimits } from '../ops/limits.js';
import { vmLogsDir } from '../ops/logs.js';
import { recordEvent } from '../state/events.js';
import { netRules, planIdentity, portMapFromRecord, portMapToRecord, type NetIdentity } from '../net/index.js';
import { SOFTWARE_KEY, vmKey } from '../plan/keys.js';
import { duplicateServiceName } from '../plan/names.js';
import { serviceCreate, type PlannedService } from '../plan/plan.js';
import { composeVmRules } from '../plan/system.js';
import type { PlannedStep } from '../state/journal.js';
import { getVm, listVms } from '../state/vms.js';
import {
  type ArchivedDuplicate,
  type ArchivedRegistry,
  type ArchivedVm,
  type ArchiveManifest,
  entryPathProblem,
  entryProblems,
  importedPlan,
  MAX_META_BYTES,
  parseManifest,
} from './archive.js';
import { sha256File } from './export.js';
import { fileAliasRules, vmStateDirWin } from '../vm/files.js';
import { validateVmName } from '../vm/names.js';

export interface ImportOptions {
  as?: string;
  ip?: string;
  portMap?: string;
}

export interface ImportResult {
  vm: string;
  from: { vm: string; host: string; backend: string; svcdup: string; createdAt: string };
  address?: string;
  portMap: Record<string, number>;
  duplicates: string[];
  files: number;
}

const VMS_DIR_WIN = 'C:\\ProgramData\\svcdup\\VMs';

/** Extract to `staging`, refusing entries that are not svcdup's; then compare with the manifest. */
async function stage(file: string, staging: string): Promise<{ manifest: ArchiveManifest; files: number }> {
  const problems: string[] = [];
  try {
    await tar.x({
      file,
      cwd: staging,
      strict: true,
      preserveOwner: false,
      filter: (path, entry) => {
        const type = 'type' in entry ? String(entry.type) : 'File';
        const problem = entryPathProblem(path, type);
        if (problem) problems.push(problem);
        else if (!path.startsWith('files') && (entry.size ?? 0) > MAX_META_BYTES) problems.push(`${path}: larger than ${MAX_META_BYTES} bytes`);
        return !problem && problems.length === 0;
      },
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { tarCode?: string };
    if (e.code === 'ENOENT' && e.path === file) throw new UsageError(`cannot read ${file}: no such file`);
    throw new UsageError(`${file} is not a whole svcdup VM archive (truncated or damaged: ${e.message})`);
  }
  if (problems.length) throw new UsageError(`${file} holds entries svcdup does not import: ${problems.slice(0, 5).join('; ')}`);
  let manifestBytes: Buffer;
  try {
    manifestBytes = await fs.readFile(join(staging, 'manifest.json'));
  } catch {
    throw new UsageError(`${file} is not a svcdup VM archive (no manifest.json)`);
  }
  const manifest = parseManifest(manifestBytes);
  const seen = new Map<string, { type: 'file' | 'dir'; size: number; sha256: string }>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    seen.set(rel, { type: 'dir', size: 0, sha256: '' });
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p, `${rel}/${e.name}`);
      else seen.set(`${rel}/${e.name}`, { type: 'file', size: (await fs.stat(p)).size, sha256: await sha256File(p) });
    }
  };
  for (const m of ['vm.json', 'registry.json', 'duplicates.json']) {
    const p = join(staging, m);
    const st = await fs.stat(p).catch(() => undefined);
    if (st) seen.set(m, { type: 'file', size: st.size, sha256: await sha256File(p) });
  }
  if (await fs.stat(join(staging, 'files')).catch(() => undefined)) await walk(join(staging, 'files'), 'files');
  const bad = entryProblems(manifest, seen);
  if (bad.length)
    throw new UsageError(`${file} does not match its manifest: ${bad.slice(0, 5).join('; ')}${bad.length > 5 ? ` (and ${bad.length - 5} more)` : ''}`);
  return { manifest, files: [...seen].filter(([p, s]) => s.type === 'file' && p.startsWith('files/')).length };
}

async function exists<T>(p: Promise<T>): Promise<boolean> {
  try {
    await p;
    return true;
  } catch (err) {
    if (err instanceof AgentError && (err.code === Win32.ERROR_FILE_NOT_FOUND || err.code === Win32.ERROR_SERVICE_DOES_NOT_EXIST)) return false;
    throw err;
  }
}

export async function importVm(backend: ManagedBackend, dups: Duplicates, file: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const vmsDir = backend.toHostPath(VMS_DIR_WIN);
  const made = await fs.mkdir(vmsDir, { recursive: true });
  const staging = await fs.mkdtemp(join(vmsDir, '.svcdup-tmp.import.'));
  let done = false;
  try {
    const { manifest, files } = await stage(file, staging);
    const read = async <T>(name: string): Promise<T> => JSON.parse(await fs.readFile(join(staging, name), 'utf8')) as T;
    const vmJson = await read<ArchivedVm>('vm.json');
    const registry = await read<ArchivedRegistry>('registry.json');
    const archived = await read<ArchivedDuplicate[]>('duplicates.json');
    const name = opts.as ?? manifest.vm;
    validateVmName(name);

    // every check before anything is written; all problems reported at once
    const problems: string[] = [];
    const stateDir = backend.toHostPath(vmStateDirWin(name));
    if (getVm(dups.db, name) || (await exists(backend.call('reg.query', { key: vmKey(name) }))) || (await fs.stat(stateDir).catch(() => undefined)))
      problems.push(`VM ${name} exists already on this host (give --as NAME)`);
    let identity: NetIdentity | undefined;
    const others = listVms(dups.db)
      .filter((v) => v.name !== name)
      .map((v) => ({ name: v.name, ...(v.address ? { address: v.address } : {}), portMap: portMapFromRecord(v.portMap) }));
    const given = opts.ip !== undefined || opts.portMap !== undefined;
    const archivedMap = Object.entries(vmJson.portMap)
      .map(([from, to]) => `${from}:${to}`)
      .join(',');
    try {
      identity = planIdentity(
        given
          ? { ...(opts.ip ? { ip: opts.ip } : {}), ...(opts.portMap ? { portMap: opts.portMap } : {}) }
          : { ...(vmJson.address ? { ip: vmJson.address } : {}), ...(archivedMap ? { portMap: archivedMap } : {}) },
        others,
      );
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      problems.push(given ? err.message : `the archive's address is taken here (${err.message.replace(/^--\S+: /, '')}): give --ip ADDRESS or --port-map`);
    }
    const originals = new Map<string, ServiceConfig>();
    const missing: string[] = [];
    for (const d of archived) {
      try {
        originals.set(d.service.toLowerCase(), await backend.call('scm.config', { name: d.service }));
      } catch (err) {
        if (!(err instanceof AgentError && err.code === Win32.ERROR_SERVICE_DOES_NOT_EXIST)) throw err;
        missing.push(d.service);
      }
    }
    if (missing.length)
      problems.push(
        `this host has no service ${missing.join(', ')} (the archive's duplicates come from ${missing.length === 1 ? 'it' : 'them'}): install ${missing.length === 1 ? 'it' : 'them'} first`,
      );
    for (const d of archived) {
      const scm = duplicateServiceName(d.service, name);
      if (await exists(backend.call('scm.status', { name: scm }))) problems.push(`${scm} exists already in this host's SCM`);
    }
    const where = {
      hostExe: backend.toWindowsPath(join(backend.paths.nativeDir, 'svcdup-host.exe')),
      hookDll: backend.toWindowsPath(join(backend.paths.nativeDir, 'svcdup-hook.dll')),
    };
    const plans: { d: ArchivedDuplicate; p: PlannedService }[] = missing.length
      ? []
      : archived.map((d) => ({ d, p: importedPlan(d, manifest.vm, name, originals.get(d.service.toLowerCase())!, where) }));
    // a direct duplicate's copy sits beside the image: one already there is another duplicate's
    // (a home sharing this image folder, or a leftover), which the import must not overwrite
    for (const { p } of plans)
      if (p.direct && (await fs.stat(backend.toHostPath(p.direct.copy)).catch(() => undefined)))
        problems.push(`${p.direct.copy} exists already (another duplicate's direct image): import with --as another name`);
    // the VM's limits (checked against this host, placed in its cgroups) and its logs folder, as vm create makes them
    let limits: VmLimits | undefined;
    try {
      const given = parseLimits(vmJson.limits ?? {});
      if (hasLimits(given)) limits = { ...given, ...(backend.kind === 'wine' ? { cgroups: planCgroups(backend.paths.home, name, given) } : {}) };
    } catch (err) {
      if (!(err instanceof SvcdupError)) throw err;
      problems.push(`the archive's limits: ${err.message}`);
    }
    if (problems.length) throw new UsageError(`cannot import ${file} as VM ${name}:\n  ${problems.join('\n  ')}`);
    const logs = vmLogsDir(backend.paths.home, name);
    const id = identity!;
    // one composer of a VM's rules (src/plan/system.ts), as vm create and dup write them
    const policy = composeVmRules({ vm: name, user: vmJson.policy, net: netRules(id), aliases: fileAliasRules(backend), duplicates: plans.map(({ p }) => p) });
    const tree = keyTree(registry.tree, policy, plans, { logs: backend.toWindowsPath(logs), ...(limits ? { limits: limitsValueText(limits) } : {}) });
    const steps: PlannedStep[] = [
      {
        kind: 'db.vm',
        args: {
          name,
          policy: vmJson.policy,
          ...(id.address ? { address: id.address } : {}),
          portMap: portMapToRecord(id.portMap),
          ...(limits ? { limits } : {}),
        },
      },
      { kind: 'files.adopt', args: { from: join(staging, 'files'), to: join(stateDir, 'files'), dir: stateDir, staging } },
      { kind: 'reg.ownTree', args: { key: vmKey(name), tree, root: SOFTWARE_KEY } },
    ];
    for (const { d, p } of plans) {
      if (p.direct) steps.push({ kind: 'files.directImage', args: p.direct });
      steps.push({ kind: 'scm.create', args: { ...serviceCreate(p), start: d.start } });
      steps.push({ kind: 'db.duplicate', args: { vm: name, service: p.service, scmName: p.scmName, plan: p } });
    }
    await dups.journal.runSteps('vm import', name, { backend, db: dups.db }, steps);
    done = true;
    // after the journal, so that a failed import leaves neither; a start makes the cgroups again if missing (prepareVmLimits)
    mkdirSync(logs, { recursive: true });
    if (limits) ensureCgroups(limits);
    recordEvent(dups.db, { kind: 'vm-created', vm: name, detail: { by: 'svcdup', from: file, ...(limits ? { limits: limitsText(limits) } : {}) } });
    return {
      vm: name,
      from: { vm: manifest.vm, host: manifest.source.host, backend: manifest.source.backend, svcdup: manifest.svcdup, createdAt: manifest.createdAt },
      ...(id.address ? { address: id.address } : {}),
      portMap: portMapToRecord(id.portMap),
      duplicates: plans.map(({ p }) => p.scmName),
      files,
    };
  } finally {
    // retries: a failed extraction may still be closing files it wrote
    await fs.rm(staging, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    // a failed import leaves no folder it made (svcdup's ProgramData folders on a fresh host)
    if (!done && made)
      for (
        let d = vmsDir;
        d.length >= made.length &&
        (await fs.rmdir(d).then(
          () => true,
          () => false,
        ));
        d = dirname(d)
      );
  }
}

/**
 * The VM key to write: the archive's, with this host's Policy value, and each copy of a
 * service key whose ImagePath was the source original's given this host's original's.
 */
function keyTree(
  tree: RegTree | undefined,
  policy: string,
  plans: readonly { d: ArchivedDuplicate; p: PlannedService }[],
  here: { logs: string; limits?: string },
): RegTree {
  const t: RegTree = tree ? structuredClone(tree) : { name: '', values: [], subkeys: [] };
  // the archive's Logs and Limits name the source home's folders and cgroups: this host's instead (docs/operate.md)
  t.values = [
    ...t.values.filter((v) => !['policy', 'logs', 'limits'].includes(v.name.toLowerCase())),
    { name: 'Policy', type: 'REG_SZ', data: policy },
    { name: 'Logs', type: 'REG_SZ', data: here.logs },
    ...(here.limits ? [{ name: 'Limits', type: 'REG_SZ' as const, data: here.limits }] : []),
  ];
  const services = t.subkeys.find((s) => s.name.toLowerCase() === 'services');
  for (const { d, p } of plans) {
    const copy = services?.subkeys.find((s) => s.name.toLowerCase() === d.service.toLowerCase());
    const image = copy?.values.find((v) => v.name.toLowerCase() === 'imagepath');
    if (image && image.data === d.plan.original.imagePath) image.data = p.original.imagePath;
  }
  return t;
}
