// What `dup` reads from the host, read once into one DupObservation (src/plan/dup-plan.ts)
// that the pure planner takes whole, as planFleet(declared, actual) takes a fleet: the
// analyzer's refusal, the closure's configurations, the VM's Policy input, the direct image,
// the snapshot candidates as they are on disk. Reads that do not depend on one another are
// asked at once; nothing is changed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedBackend } from '../backend/index.js';
import type { AgentParams, RegKeyContents, RegTree, RegValue, ServiceConfig } from '../backend/types.js';
import { treeBytes } from '../backend/folders.js';
import { absentAs } from '../backend/registry.js';
import { AgentError, SvcdupError, Win32 } from '../errors.js';
import { configFoldersOf, serviceConfigFiles } from '../analyze/configfiles.js';
import { dupRefusalFor } from '../analyze/service.js';
import {
  type DupObservation,
  type DupRequest,
  dupPlanInput,
  type FolderFact,
  type ImageFact,
  SNAPSHOT_MAX_BYTES,
  type SnapshotFacts,
  snapshotCandidates,
  snapshotTarget,
} from '../plan/dup-plan.js';
import { serviceKey, vmKey } from '../plan/keys.js';
import { isDuplicateName } from '../plan/names.js';
import { planDuplicate, type PlannedService, type VmPolicyInput } from '../plan/plan.js';
import { driveAliases } from '../plan/snapshot-limits.js';
import { directImage } from '../plan/direct.js';
import { imageOf } from '../plan/image.js';
import type { Db } from '../state/db.js';
import { listDuplicates } from '../state/duplicates.js';
import { getVm } from '../state/vms.js';
import { fileAliasRules, fileAreaWin, SVCDUP_STATE_WIN, WHITEOUT_PREFIX } from '../vm/files.js';
import { vmRulesOf } from '../vm/rules.js';
import { dbVmStore } from '../vm/store.js';

/** The host as `dup` reads it. */
export interface DupHost {
  backend: ManagedBackend;
  db: Db;
}

/** Everything planDup needs, read from the host (nothing written). `force`: the analyzer is not asked. */
export async function observeDup({ backend, db }: DupHost, req: DupRequest, opts: { force?: boolean } = {}): Promise<DupObservation> {
  const { service, vm, share } = req;
  const record = getVm(db, vm);
  // Every read the plan needs is asked for first, all at once, the root's configuration before
  // the rest (the slowest: several calls into the SCM); svcdup's own work (the analyzer's, the VM's
  // rules) then runs while they are in flight. The analyzer (asked here so that every caller,
  // CLI, fleet, dashboard, library, refuses alike) and the closure ask the SCM for the same
  // configurations at the same time: one question each.
  const configs = new Map<string, Promise<ServiceConfig>>();
  const config = (name: string): Promise<ServiceConfig> => {
    if (!configs.has(name.toLowerCase())) configs.set(name.toLowerCase(), backend.call('scm.config', { name }));
    return configs.get(name.toLowerCase())!;
  };
  config(service).catch(() => undefined); // answered to the analyzer and the closure below
  // The analyzer reads the root's service key after its configuration, then its Parameters tree
  // when it has one: both asked for now, beside it (the answers or errors taken by the analyzer),
  // the tree also giving the Parameters values the snapshots need.
  const own = (key: string): string => key.toLowerCase();
  const early = new Map<string, { op: 'reg.query' | 'reg.export'; answer: Promise<unknown> }>();
  if (!opts.force) {
    early.set(own(serviceKey(service)), { op: 'reg.query', answer: backend.call('reg.query', { key: serviceKey(service) }) });
    early.set(own(`${serviceKey(service)}\\Parameters`), {
      op: 'reg.export',
      answer: backend.call('reg.export', { key: `${serviceKey(service)}\\Parameters` }),
    });
  }
  for (const e of early.values()) e.answer.catch(() => undefined);
  // A direct copy's image, read as soon as the root's key names it (the registry answers before
  // the SCM's configuration); taken by imageFact when the configuration names the same file.
  const rootKeyRead = early.get(own(serviceKey(service)))?.answer as Promise<RegKeyContents> | undefined;
  const earlyImage =
    req.mode !== 'relayed' && rootKeyRead
      ? rootKeyRead.then((k) => {
          const v = k.values.find((x) => x.name.toLowerCase() === 'imagepath');
          const image = typeof v?.data === 'string' ? imageOf(v.data.trim()) : '';
          if (!/\.exe$/i.test(image)) return undefined;
          const bytes = backend.readFile(image);
          bytes.catch(() => undefined); // imageFact reads it again when it needs it
          return { image, bytes };
        })
      : undefined;
  earlyImage?.catch(() => undefined);
  const call: ManagedBackend['call'] = (op, params) => {
    if (op === 'scm.config') return config((params as AgentParams<'scm.config'>).name) as ReturnType<typeof backend.call<typeof op>>;
    const e = (op === 'reg.query' || op === 'reg.export') && early.get(own((params as AgentParams<'reg.query'>).key));
    if (e && e.op === op) {
      early.delete(own((params as AgentParams<'reg.query'>).key)); // taken once: a later read is a fresh one
      return e.answer as ReturnType<typeof backend.call<typeof op>>;
    }
    return backend.call(op, params);
  };
  // The root's Parameters values (for its snapshots): from the tree asked for above, or read alone.
  const paramsTree = early.get(own(`${serviceKey(service)}\\Parameters`))?.answer as Promise<RegTree> | undefined;
  const rootParams = paramsTree ? paramsTree.then((t) => t.values, absentAs([])) : parameters(backend, service);
  rootParams.catch(() => undefined); // awaited (and its error seen) only if the snapshots are observed
  const policyInput = record ? vmPolicyInput(backend, db, vm) : Promise.resolve(undefined);
  const asked = { call, toHostPath: (w: string) => backend.toHostPath(w) };
  const refusal = opts.force ? Promise.resolve(undefined) : dupRefusalFor(asked, service, share);
  refusal.catch(() => undefined); // awaited below, also when a read fails (nothing left in flight)
  const closure = closureConfigs(asked, service, share);
  // No scm.list for names already taken (it costs as much as the closure of a small
  // service): a taken name fails its scm.create, which the journal leaves alone (atomic).
  const [refused, configsRead, policy] = await Promise.all([refusal, closure, policyInput]).catch(async (err: unknown) => {
    await Promise.allSettled([refusal, closure, policyInput, rootParams]);
    throw err;
  });
  const base = {
    ...(refused ? { refusal: refused } : {}),
    configs: configsRead,
    ...(policy ? { policy } : {}),
    existing: listDuplicates(db, vm).map((d) => d.service),
    hostExe: backend.toWindowsPath(join(backend.paths.nativeDir, 'svcdup-host.exe')),
    hookDll: backend.toWindowsPath(join(backend.paths.nativeDir, 'svcdup-hook.dll')),
  };
  // A refused or unplannable request reads no more: planDup says why from what is here.
  const services = refused ? undefined : probe(req, base);
  if (!services) {
    await rootParams.catch(() => undefined);
    return { ...base, images: {}, snapshots: { failed: new SvcdupError('dup: the snapshots were not observed') } };
  }
  // the direct images and the snapshot facts: independent reads, at once
  const images: Record<string, ImageFact> = {};
  const [, snapshots] = await Promise.all([
    Promise.all(
      services.map(async (p) => {
        if (!p.direct) return;
        const read = await earlyImage?.catch(() => undefined);
        images[p.service.toLowerCase()] = await imageFact(backend, p.direct, read?.image === p.direct.image ? read.bytes : undefined);
      }),
    ),
    snapshotFacts(backend, vm, services, new Map([[service.toLowerCase(), rootParams]]), policy?.aliases).catch(
      (err: unknown): DupObservation['snapshots'] => ({ failed: err }),
    ),
  ]);
  return { ...base, images, snapshots };
}

/**
 * The services the plan would duplicate, with the root's direct copy where its mode may take
 * it (what there is to read for them); undefined when the planner refuses the request anyway.
 */
function probe(req: DupRequest, obs: Parameters<typeof dupPlanInput>[1]): PlannedService[] | undefined {
  const input = dupPlanInput(req.mode === 'auto' && req.restrictedToken ? { ...req, mode: 'relayed' } : req, obs);
  try {
    return planDuplicate(input).services;
  } catch {
    if (!input.direct) return undefined;
  }
  try {
    const { direct: _, ...relayed } = input;
    return planDuplicate(relayed).services;
  } catch {
    return undefined;
  }
}

/**
 * The root's image for its direct copy, whether the copy's name is taken, and the copy itself
 * (made here, while the snapshot facts are read, and written by the journaled step as made).
 */
async function imageFact(backend: ManagedBackend, d: NonNullable<PlannedService['direct']>, early?: Promise<Uint8Array>): Promise<ImageFact> {
  let bytes: Uint8Array;
  try {
    bytes = await (early?.catch(() => backend.readFile(d.image)) ?? backend.readFile(d.image));
  } catch (err) {
    return { readError: (err as Error).message };
  }
  let copy: Uint8Array | undefined;
  try {
    copy = directImage(bytes, d.hookDll, { vm: d.vm, scmName: d.scmName });
  } catch {
    /* planDup says why */
  }
  return { bytes, copyExists: existsSync(backend.toHostPath(d.copy)), ...(copy ? { copy: { for: { ...d }, bytes: copy } } : {}) };
}

/** A service's Parameters values on the host (none when it has no Parameters key). */
function parameters(backend: ManagedBackend, service: string): Promise<RegValue[]> {
  return backend.call('reg.query', { key: `${serviceKey(service)}\\Parameters` }).then((k) => k.values, absentAs<RegValue[]>([]));
}

/**
 * The snapshot facts of these services: their Parameters values and configuration files, and
 * for each folder that may be snapshotted whether the VM has it already and its size on the host.
 */
async function snapshotFacts(
  backend: ManagedBackend,
  vm: string,
  services: readonly PlannedService[],
  read: Map<string, Promise<RegValue[]>>,
  aliasRules = fileAliasRules(backend),
): Promise<SnapshotFacts> {
  const params = await Promise.all(services.map((p) => read.get(p.service.toLowerCase()) ?? parameters(backend, p.service)));
  // one folder spelled two ways is one folder, spelled with its drive letter (snapshot-limits.ts)
  const aliases = driveAliases(aliasRules);
  // the configuration files as analyze reads them (one list: src/analyze/configfiles.ts)
  const files = await Promise.all(services.map((p, i) => serviceConfigFiles((w) => backend.toHostPath(w), p.original.imagePath, params[i]!)));
  const sources = services.map((p, i) => ({ original: p.original, params: params[i]!, configFolders: configFoldersOf(p.original, files[i]!) }));
  const own = [
    { folder: backend.toWindowsPath(backend.paths.home), what: "svcdup's home" },
    { folder: SVCDUP_STATE_WIN, what: "svcdup's state folder, with every VM's files" },
  ];
  const fileArea = fileAreaWin(vm);
  // a path on a drive the host does not have is not there
  const hostPath = (win: string): string | undefined => {
    try {
      return backend.toHostPath(win);
    } catch {
      return undefined;
    }
  };
  const folders: Record<string, FolderFact> = {};
  for (const folder of snapshotCandidates(sources, aliases, own).allowed) {
    const to = snapshotTarget(fileArea, folder);
    const leaf = to.slice(to.lastIndexOf('\\') + 1);
    const whiteout = `${to.slice(0, to.lastIndexOf('\\'))}\\${WHITEOUT_PREFIX}${leaf}`;
    if (existsSync(backend.toHostPath(to)) || existsSync(backend.toHostPath(whiteout))) {
      folders[folder.toLowerCase()] = { vmHas: true };
      continue;
    }
    const src = hostPath(folder);
    const bytes = src === undefined ? undefined : await treeBytes(src, SNAPSHOT_MAX_BYTES);
    folders[folder.toLowerCase()] = { vmHas: false, ...(bytes !== undefined ? { bytes } : {}) };
  }
  return { sources, aliases, own, fileArea, folders };
}

/**
 * The configurations the planner needs: the service and what it depends on, read level
 * by level (each a round trip to the SCM, a level's at once); every service only when a DependOnGroup
 * needs group membership. Missing names are left for the planner to report.
 */
async function closureConfigs(backend: Pick<ManagedBackend, 'call'>, service: string, share: readonly string[]): Promise<ServiceConfig[]> {
  const found = new Map<string, ServiceConfig | null>();
  const get = async (name: string): Promise<ServiceConfig | null> => {
    const key = name.toLowerCase();
    if (!found.has(key)) {
      try {
        found.set(key, await backend.call('scm.config', { name }));
      } catch (err) {
        if (!(err instanceof AgentError && err.code === Win32.ERROR_SERVICE_DOES_NOT_EXIST)) throw err;
        found.set(key, null);
      }
    }
    return found.get(key)!;
  };
  // level by level, each level's configurations asked for at once
  let groups = false;
  for (let level = [service, ...share]; level.length; ) {
    const fresh = [...new Map(level.filter((n) => !found.has(n.toLowerCase())).map((n) => [n.toLowerCase(), n])).values()];
    const configs = await Promise.all(fresh.map(get));
    level = [];
    for (const c of configs) {
      if (!c) continue;
      groups ||= c.dependOnGroup.length > 0;
      level.push(...c.dependOnService);
    }
  }
  if (groups) {
    // Duplicates themselves are never members of a host group.
    await Promise.all((await backend.call('scm.list', {})).filter((s) => !isDuplicateName(s.name)).map((s) => get(s.name)));
  }
  return [...found.values()].filter((c): c is ServiceConfig => c !== null);
}

/** What the planner needs to make the VM's next Policy value, with the value there now. */
export async function vmPolicyInput(backend: ManagedBackend, db: Db, vm: string): Promise<VmPolicyInput> {
  const read = backend.call('reg.get', { key: vmKey(vm), name: 'Policy' }).catch(absentAs(undefined));
  const rules = vmRulesOf(dbVmStore(db), backend, vm); // while the value is read
  const current = await read;
  return { ...rules, ...(current ? { current } : {}) };
}
