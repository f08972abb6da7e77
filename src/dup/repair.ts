// svcdup repair (and the start of `up`): make the state database agree with the host.
// The host is the truth for what exists (the SCM's SERVICE@VM services, the VM keys under
// HKLM\SOFTWARE\svcdup\VMs, the VMs' file areas); the database is the truth for what svcdup
// made and may remove. A damaged database is moved aside and rebuilt from the host.
// Reads of the host first, then a list of actions (what --dry-run prints), then each action.
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedBackend } from '../backend/index.js';
import type { ServiceConfig, ServiceStatus } from '../backend/types.js';
import { AgentError, SvcdupError, Win32 } from '../errors.js';
import { parseNetRules, portMapToRecord } from '../net/index.js';
import { limitsFromValueText } from '../ops/limits.js';
import { VMS_KEY, serviceKey, vmKey, vmServiceKey, vmServicesKey } from '../plan/keys.js';
import { parseDuplicateName } from '../plan/names.js';
import type { PlannedService } from '../plan/plan.js';
import { stopAndWait } from './steps.js';
import { vmNameProblem } from '../vm/names.js';
import { DamagedDbError, openDb, type Db } from '../state/db.js';
import { deleteDuplicate, insertDuplicate, listDuplicates } from '../state/duplicates.js';
import { insertVm, listVms } from '../state/vms.js';

/** The value scmclient.c marks the copy key of a service a VM process created with. */
const CREATED_MARK = 'svcdup.CreatedInVm';
/** The line effectivePolicy (src/plan/system.ts) puts between the user's rules and svcdup's. */
const ADDED_MARK = '# added by svcdup for the services duplicated here';
/** Where the VMs' file areas are (src/vm/files.ts vmStateDirWin). */
const AREAS_WIN = 'C:\\ProgramData\\svcdup\\VMs';

export interface RepairAction {
  /** what kind of disagreement, and what is done about it */
  kind: 'vm.adopt' | 'vm.forget' | 'dup.adopt' | 'dup.forget' | 'service.remove' | 'key.remove' | 'area.remove';
  /** the VM, SERVICE@VM, key or folder it is about */
  target: string;
  why: string;
}

export interface RepairResult {
  /** where the damaged database was moved, when it was */
  movedAside?: string;
  actions: RepairAction[];
  dryRun: boolean;
}

const notFound = (err: unknown, ...codes: number[]): boolean => err instanceof AgentError && [Win32.ERROR_FILE_NOT_FOUND, ...codes].includes(err.code);

async function subkeys(backend: ManagedBackend, key: string): Promise<string[]> {
  try {
    return (await backend.call('reg.query', { key })).subkeys;
  } catch (err) {
    if (notFound(err)) return [];
    throw err;
  }
}

async function regString(backend: ManagedBackend, key: string, name: string): Promise<string | undefined> {
  try {
    const v = await backend.call('reg.get', { key, name });
    return typeof v.data === 'string' ? v.data : Array.isArray(v.data) ? v.data.join('\n') : String(v.data);
  } catch (err) {
    if (notFound(err)) return undefined;
    throw err;
  }
}

/**
 * Before a command changes the host: a database that knows no VM while the host has some
 * (an emptied or replaced state.db) would make the command collide with what is there.
 */
export async function checkDrift(backend: ManagedBackend, db: Db): Promise<void> {
  if (listVms(db).length) return;
  const onHost = (await subkeys(backend, VMS_KEY)).filter((n) => !vmNameProblem(n));
  if (onHost.length)
    throw new SvcdupError(
      `the state database has no record of the VMs this host has (${onHost.slice(0, 5).join(', ')}${onHost.length > 5 ? ', ...' : ''}): run svcdup repair to rebuild it from the host`,
      4,
    );
}

/** Open the state database, or move a damaged one aside (with its WAL) and start an empty one. */
export function openOrSetAside(path: string, dryRun: boolean): { db: Db; movedAside?: string } {
  try {
    return { db: openDb(path) };
  } catch (err) {
    if (!(err instanceof DamagedDbError)) throw err;
    const aside = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    if (dryRun) return { db: openDb(':memory:'), movedAside: aside };
    for (const ext of ['', '-wal', '-shm']) if (existsSync(path + ext)) renameSync(path + ext, aside + ext);
    return { db: openDb(path), movedAside: aside };
  }
}

interface HostView {
  /** VM keys by lowercase name: the name as spelled and its Policy text */
  keys: Map<string, { name: string; policy?: string; limits?: string; services: string[] }>;
  /** SERVICE@VM services in the SCM */
  services: ServiceStatus[];
  /** VM file areas (folder names) */
  areas: string[];
}

async function observe(backend: ManagedBackend): Promise<HostView> {
  const keys: HostView['keys'] = new Map();
  for (const name of await subkeys(backend, VMS_KEY)) {
    const [policy, limits, services] = await Promise.all([
      regString(backend, vmKey(name), 'Policy'),
      regString(backend, vmKey(name), 'Limits'),
      subkeys(backend, vmServicesKey(name)),
    ]);
    keys.set(name.toLowerCase(), { name, ...(policy !== undefined ? { policy } : {}), ...(limits ? { limits } : {}), services });
  }
  const services = (await backend.call('scm.list', {})).filter((s) => parseDuplicateName(s.name));
  let areas: string[] = [];
  try {
    const dir = backend.toHostPath(AREAS_WIN);
    if (existsSync(dir))
      areas = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
  } catch {
    /* no such drive: no areas */
  }
  return { keys, services, areas };
}

/** A VM record from its key's Policy value: the user's rules before svcdup's, the net lines. */
function vmFromPolicy(name: string, policy = ''): { name: string; policy: string; address?: string; portMap: Record<string, number> } {
  const lines = policy.split('\n');
  const cut = lines.indexOf(ADDED_MARK);
  const user = (cut >= 0 ? lines.slice(0, cut) : lines)
    .filter((l) => !l.startsWith('net ') && !l.startsWith('alias files ') && !l.startsWith('own files '))
    .join('\n');
  let net: ReturnType<typeof parseNetRules> = { portMap: [] };
  try {
    net = parseNetRules(policy);
  } catch {
    /* unreadable net lines: the VM keeps no address */
  }
  return { name, policy: user.trim() ? `${user.trimEnd()}\n` : '', ...(net.address ? { address: net.address } : {}), portMap: portMapToRecord(net.portMap) };
}

/** A duplicate's record, rebuilt from its SCM registration and its original's configuration. */
async function duplicateFromHost(backend: ManagedBackend, vm: string, service: string, scmName: string): Promise<PlannedService> {
  const cfg = await backend.call('scm.config', { name: scmName });
  let original: ServiceConfig;
  try {
    original = await backend.call('scm.config', { name: service });
  } catch (err) {
    if (!notFound(err, Win32.ERROR_SERVICE_DOES_NOT_EXIST)) throw err;
    original = { ...cfg, name: service, displayName: service };
  }
  // Wine's SCM leaves dependencies out of QueryServiceConfig: the registry has them
  let deps = cfg.dependOnService;
  if (!deps.length) {
    try {
      const v = await backend.call('reg.get', { key: serviceKey(scmName), name: 'DependOnService' });
      if (Array.isArray(v.data)) deps = v.data.filter(Boolean);
    } catch (err) {
      if (!notFound(err)) throw err;
    }
  }
  const hostExe = backend.toWindowsPath(join(backend.paths.nativeDir, 'svcdup-host.exe')).toLowerCase();
  const plan: PlannedService = {
    service,
    scmName,
    displayName: cfg.displayName,
    imagePath: cfg.imagePath,
    dependOnService: deps,
    original,
    reason: 'adopted by svcdup repair',
  };
  if (original.svchostGroup) plan.svchost = { group: original.svchostGroup };
  if (!cfg.imagePath.toLowerCase().includes(hostExe)) {
    // a direct duplicate: its ImagePath runs IMAGE@VM.exe beside the original
    const exe = (s: string): string => (s.startsWith('"') ? s.slice(1, s.indexOf('"', 1)) : (s.split(' ')[0] ?? s));
    plan.direct = {
      vm,
      scmName,
      image: exe(original.imagePath.trim()),
      copy: exe(cfg.imagePath.trim()),
      hookDll: backend.toWindowsPath(join(backend.paths.nativeDir, 'svcdup-hook.dll')),
    };
  }
  return plan;
}

/** What disagrees, and what repair does about each (nothing is changed). */
async function plan(backend: ManagedBackend, db: Db, host: HostView): Promise<RepairAction[]> {
  const actions: RepairAction[] = [];
  const records = new Map(listVms(db).map((v) => [v.name.toLowerCase(), v]));
  const dupRecords = listDuplicates(db);
  const scm = new Map(host.services.map((s) => [s.name.toLowerCase(), s]));
  for (const [lower, k] of host.keys) {
    if (vmNameProblem(k.name)) continue;
    if (!records.has(lower)) actions.push({ kind: 'vm.adopt', target: k.name, why: 'its key is on the host but the database has no record of it' });
  }
  // a VM whose key is gone (deleted by hand, or a registry a crashed Wine never saved) cannot run
  // its duplicates (svcdup-host reads the key's Policy): it is forgotten, its duplicates removed
  const keyless = new Set([...records.keys()].filter((lower) => !host.keys.has(lower)));
  for (const lower of keyless) {
    const n = dupRecords.filter((d) => d.vm.toLowerCase() === lower).length;
    actions.push({
      kind: 'vm.forget',
      target: records.get(lower)!.name,
      why: `its key is gone from the host${n ? ` (its ${n} duplicates are removed with it)` : ''}`,
    });
  }
  for (const d of dupRecords) {
    if (keyless.has(d.vm.toLowerCase())) continue;
    if (!scm.has(d.scmName.toLowerCase())) actions.push({ kind: 'dup.forget', target: d.scmName, why: 'its service is gone from the SCM' });
  }
  const known = new Set(dupRecords.map((d) => d.scmName.toLowerCase()));
  for (const s of host.services) {
    const p = parseDuplicateName(s.name)!;
    if (known.has(s.name.toLowerCase())) continue;
    const key = host.keys.get(p.vm.toLowerCase());
    const hasCopy = key?.services.some((n) => n.toLowerCase() === p.service.toLowerCase());
    if (key && hasCopy) {
      // a service a VM process created is the VM's, not svcdup's: left as it is
      if ((await regString(backend, vmServiceKey(key.name, p.service), CREATED_MARK)) !== undefined) continue;
      actions.push({ kind: 'dup.adopt', target: s.name, why: 'it is in the SCM with its copy key, but the database has no record of it' });
    } else if (!key && !records.has(p.vm.toLowerCase())) {
      actions.push({ kind: 'service.remove', target: s.name, why: `no VM ${p.vm} exists (no key, no record)` });
    } else {
      actions.push({ kind: 'service.remove', target: s.name, why: 'no record and no copy key of it: a half-made duplicate' });
    }
  }
  for (const k of host.keys.values()) {
    if (vmNameProblem(k.name)) continue;
    for (const svc of k.services) {
      const scmName = `${svc}@${k.name}`.toLowerCase();
      if (scm.has(scmName) || known.has(scmName)) continue;
      actions.push({ kind: 'key.remove', target: vmServiceKey(k.name, svc), why: 'a copy key whose duplicate is gone from the SCM' });
    }
  }
  for (const a of host.areas) {
    const lower = a.toLowerCase();
    if (!host.keys.has(lower) && !records.has(lower)) actions.push({ kind: 'area.remove', target: a, why: 'a VM file area whose VM is gone' });
  }
  return actions;
}

async function removeService(backend: ManagedBackend, name: string): Promise<void> {
  await stopAndWait(backend, name, 10_000).catch(() => undefined);
  await backend.call('scm.delete', { name }).catch((err: unknown) => {
    if (!notFound(err, Win32.ERROR_SERVICE_DOES_NOT_EXIST, Win32.ERROR_SERVICE_MARKED_FOR_DELETE)) throw err;
  });
}

async function apply(backend: ManagedBackend, db: Db, host: HostView, a: RepairAction): Promise<void> {
  switch (a.kind) {
    case 'vm.adopt': {
      const k = host.keys.get(a.target.toLowerCase())!;
      // its limits as the hook holds them (the key's Limits value, cgroups included); its Logs value stays in the key
      insertVm(db, { ...vmFromPolicy(k.name, k.policy), ...(k.limits ? { limits: limitsFromValueText(k.limits) } : {}) }, true);
      return;
    }
    case 'vm.forget':
      for (const d of listDuplicates(db, a.target)) {
        await removeService(backend, d.scmName);
        deleteDuplicate(db, d.vm, d.service);
      }
      db.prepare(`DELETE FROM vm WHERE name = ?`).run(a.target);
      rmSync(backend.toHostPath(`${AREAS_WIN}\\${a.target}`), { recursive: true, force: true });
      return;
    case 'dup.forget': {
      const p = parseDuplicateName(a.target)!;
      deleteDuplicate(db, p.vm, p.service);
      // its copy key is the duplicate's: gone with it
      await backend.call('reg.deleteKey', { key: vmServiceKey(p.vm, p.service) }).catch((err: unknown) => {
        if (!notFound(err)) throw err;
      });
      return;
    }
    case 'dup.adopt': {
      const p = parseDuplicateName(a.target)!;
      const vm = host.keys.get(p.vm.toLowerCase())!.name;
      insertDuplicate(db, { vm, service: p.service, scmName: a.target, plan: await duplicateFromHost(backend, vm, p.service, a.target) }, true);
      return;
    }
    case 'service.remove':
      await removeService(backend, a.target);
      return;
    case 'key.remove':
      await backend.call('reg.deleteKey', { key: a.target }).catch((err: unknown) => {
        if (!notFound(err)) throw err;
      });
      return;
    case 'area.remove':
      rmSync(backend.toHostPath(`${AREAS_WIN}\\${a.target}`), { recursive: true, force: true });
      return;
  }
}

/**
 * Make the database and the host agree. Under the writer lock (the caller holds it), after
 * recovery of dead commands' operations. The database is opened here: a damaged one is
 * moved aside first (not on a dry run).
 */
export async function repairHost(backend: ManagedBackend, opts: { dryRun?: boolean; db?: Db } = {}): Promise<RepairResult & { db: Db }> {
  const dryRun = !!opts.dryRun;
  const opened = opts.db ? { db: opts.db } : openOrSetAside(backend.paths.stateDb, dryRun);
  const host = await observe(backend);
  // adopt VMs before their duplicates (a duplicate's row needs its VM's)
  const actions = await plan(backend, opened.db, host);
  const order: RepairAction['kind'][] = ['vm.adopt', 'dup.adopt', 'dup.forget', 'service.remove', 'key.remove', 'vm.forget', 'area.remove'];
  actions.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  if (!dryRun) for (const a of actions) await apply(backend, opened.db, host, a);
  return { ...(opened.movedAside ? { movedAside: opened.movedAside } : {}), actions, dryRun, db: opened.db };
}
