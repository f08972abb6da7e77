// Fleets: read what the host has, plan against the file (plan.ts), apply through the library
// API (Vms for VMs, Duplicates for duplicates: each of their changes is journaled there).
import { syncPolicies } from '../watch/policy.js';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ManagedBackend } from '../backend/index.js';
import type { ServiceStatus } from '../backend/types.js';
import { AgentError, UsageError, Win32 } from '../errors.js';
import { absentAs } from '../backend/registry.js';
import type { Duplicates } from '../dup/dup.js';
import { parseSet } from '../plan/edits.js';
import { vmServiceKey } from '../plan/keys.js';
import { mapLimit, START_CONCURRENCY } from '../dup/limit.js';
import { asObserved, goneProcesses } from '../dup/liveness.js';
import type { Db } from '../state/db.js';
import { listVms } from '../state/vms.js';
import { compilePolicy } from '../vm/policy.js';
import { dbVmStore } from '../vm/store.js';
import { Vms } from '../vm/ops.js';
import type { Fleet } from './file.js';
import { describeChange, planFleet, valueKey, type ActualDuplicate, type FleetActual, type FleetChange } from './plan.js';

export interface FleetContext {
  backend: ManagedBackend;
  db: Db;
  dups: Duplicates;
}

/** Which VMs each fleet file declared at its last `up` ($SVCDUP_HOME/fleets.json): what a later `up` may remove. */
function ownersFile(backend: ManagedBackend): string {
  return join(backend.paths.home, 'fleets.json');
}
function readOwners(backend: ManagedBackend): Record<string, string[]> {
  try {
    return JSON.parse(readFileSync(ownersFile(backend), 'utf8')) as Record<string, string[]>;
  } catch {
    return {};
  }
}
function writeOwners(backend: ManagedBackend, owners: Record<string, string[]>): void {
  const file = ownersFile(backend);
  mkdirSync(backend.paths.home, { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(owners, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
}

/**
 * Give a VM to a fleet file or take it back: a VM the file does not own is never removed by
 * its `up` (the cluster keeps a VM whose state is being moved, src/cluster/node.ts).
 */
export function setOwned(backend: ManagedBackend, file: string, vm: string, owned: boolean): void {
  const owners = readOwners(backend);
  const list = new Set(owners[file] ?? []);
  if (owned === list.has(vm)) return;
  if (owned) list.add(vm);
  else list.delete(vm);
  owners[file] = [...list].sort();
  writeOwners(backend, owners);
}

/** The host's DependOnService for the declared services and what they depend on. */
async function hostDependencies(backend: ManagedBackend, names: string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const queue = [...names];
  for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
    if (out[n.toLowerCase()]) continue;
    try {
      const deps = (await backend.call('scm.config', { name: n })).dependOnService;
      out[n.toLowerCase()] = deps;
      queue.push(...deps);
    } catch (err) {
      if (!(err instanceof AgentError && err.code === Win32.ERROR_SERVICE_DOES_NOT_EXIST)) throw err;
      out[n.toLowerCase()] = [];
    }
  }
  return out;
}

async function compiledPolicy(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read policy file ${file}: ${(err as Error).message}`);
  }
  return compilePolicy((await import('../vm/policy-file.js')).parsePolicy(text, file));
}

/** What the host has, as far as the file is concerned. */
export async function observeFleet(ctx: FleetContext, fleet: Fleet): Promise<FleetActual> {
  const declared = new Map(fleet.vms.map((v) => [v.name, v]));
  const owned = readOwners(ctx.backend)[fleet.file] ?? [];
  const listed = await ctx.backend.call('scm.list', {});
  // a duplicate whose process is gone is stopped, whatever Wine's SCM says (src/dup/liveness.ts): up starts it
  const gone = await goneProcesses(
    ctx.backend,
    listed.map((s) => ({ status: s, direct: false })),
  );
  const statuses = new Map(listed.map((s, i) => [s.name.toLowerCase(), asObserved(s, gone[i])]));
  const vms = [];
  for (const r of listVms(ctx.db)) {
    const d = declared.get(r.name);
    if (!d && !owned.includes(r.name)) continue;
    const duplicates: ActualDuplicate[] = [];
    for (const rec of ctx.dups.list(r.name)) {
      const values: ActualDuplicate['values'] = {};
      const spec = d?.services.find((s) => s.name.toLowerCase() === rec.service.toLowerCase());
      for (const set of spec?.set ?? []) {
        const { subkey, value } = parseSet(set);
        values[valueKey(subkey, value.name)] = await ctx.backend
          .call('reg.get', { key: `${vmServiceKey(r.name, rec.service)}${subkey ? `\\${subkey}` : ''}`, name: value.name })
          .catch(absentAs(null));
      }
      const st = statuses.get(rec.scmName.toLowerCase());
      duplicates.push({
        service: rec.service,
        scmName: rec.scmName,
        dependOnService: rec.plan.dependOnService,
        ...(st ? { state: st.state } : {}),
        values,
        ...(rec.plan.direct ? { direct: true } : {}),
      });
    }
    vms.push({ name: r.name, ...(r.address ? { address: r.address } : {}), portMap: r.portMap, policy: r.policy, duplicates });
  }
  const policies: Record<string, string> = {};
  for (const v of fleet.vms) policies[v.name] = v.policyFile ? await compiledPolicy(v.policyFile) : '';
  const hostDeps = await hostDependencies(ctx.backend, [...new Set(fleet.vms.flatMap((v) => v.services.map((s) => s.name)))]);
  return { vms, owned, hostDeps, policies };
}

export interface FleetEvent {
  /** 1-based step number and the number of steps */
  step: number;
  of: number;
  change: FleetChange;
  text: string;
  status: 'begin' | 'done' | 'failed';
  error?: string;
  state?: ServiceStatus['state'];
  pid?: number;
}

export interface UpResult {
  file: string;
  changes: FleetChange[];
  applied: number;
  dryRun: boolean;
}

const vmsOf = (ctx: FleetContext): Vms => new Vms(ctx.backend, dbVmStore(ctx.db), ctx.dups);

/** Make the host match the file; `onEvent` hears each step begin and end. */
export async function fleetUp(ctx: FleetContext, fleet: Fleet, opts: { dryRun?: boolean; onEvent?: (e: FleetEvent) => void } = {}): Promise<UpResult> {
  const changes = planFleet(fleet, await observeFleet(ctx, fleet));
  if (opts.dryRun) return { file: fleet.file, changes, applied: 0, dryRun: true };
  const vms = vmsOf(ctx);
  let applied = 0;
  const one = async (c: FleetChange, i: number): Promise<void> => {
    const base = { step: i + 1, of: changes.length, change: c, text: describeChange(c) };
    opts.onEvent?.({ ...base, status: 'begin' });
    try {
      const extra = await applyChange(ctx, vms, c);
      applied++;
      opts.onEvent?.({ ...base, status: 'done', ...extra });
    } catch (err) {
      opts.onEvent?.({ ...base, status: 'failed', error: (err as Error).message });
      throw err;
    } finally {
      // What the file owns is recorded as soon as any of it may exist, so a failed `up` is finished by the next.
      recordOwned(ctx, fleet);
    }
  };
  // The starts come last: they run START_CONCURRENCY at once (each starts what it depends on first).
  let firstStart = changes.length;
  while (firstStart > 0 && changes[firstStart - 1]!.op === 'start') firstStart--;
  for (const [i, c] of changes.slice(0, firstStart).entries()) await one(c, i);
  // restart policies and health checks in place before the first start (docs/operate.md)
  await syncPolicies(
    ctx.backend,
    ctx.db,
    fleet.vms.flatMap((v) => v.services.map((s) => ({ ...s, vm: v.name, service: s.name }))),
    (vm, service) => ctx.dups.get(vm, service)?.scmName,
  );
  await mapLimit(changes.slice(firstStart), START_CONCURRENCY, (c, i) => one(c, firstStart + i));
  recordOwned(ctx, fleet);
  return { file: fleet.file, changes, applied, dryRun: false };
}

function recordOwned(ctx: FleetContext, fleet: Fleet): void {
  const owners = readOwners(ctx.backend);
  const existing = new Set(listVms(ctx.db).map((v) => v.name));
  // VMs of the file, and those it owned before that still exist (not yet removed after a failure).
  const names = [...new Set([...fleet.vms.map((v) => v.name), ...(owners[fleet.file] ?? []).filter((n) => existing.has(n))])];
  const before = JSON.stringify(owners[fleet.file] ?? []);
  owners[fleet.file] = names.filter((n) => existing.has(n) || fleet.vms.some((v) => v.name === n)).sort();
  if (JSON.stringify(owners[fleet.file]) !== before) writeOwners(ctx.backend, owners);
}

async function applyChange(ctx: FleetContext, vms: Vms, c: FleetChange): Promise<{ state?: ServiceStatus['state']; pid?: number }> {
  switch (c.op) {
    case 'vm.rm':
      await vms.remove(c.vm);
      return {};
    case 'vm.create':
      await vms.create(c.vm, c.policyFile, { ...(c.ip ? { ip: c.ip } : {}), ...(c.ports ? { portMap: c.ports } : {}) }, undefined, c.limits);
      return {};
    case 'undup':
      if (ctx.dups.get(c.vm, c.service)) await ctx.dups.undup(c.service, c.vm);
      return {};
    case 'dup':
      // An earlier dup of this VM may have duplicated it already, as a dependency.
      if (!ctx.dups.get(c.vm, c.service)) await ctx.dups.dup(c.service, c.vm, { share: c.share, set: c.set, mode: c.mode ?? 'auto' });
      return {};
    case 'start': {
      const s = await ctx.dups.start(c.service, c.vm);
      return { state: s.state, pid: s.pid };
    }
  }
}

export interface DownResult {
  file: string;
  removed: { vm: string; undup: string[]; killed: number }[];
}

/** Remove exactly the VMs the file declares (with everything in them). */
export async function fleetDown(ctx: FleetContext, fleet: Fleet, onEvent?: (e: FleetEvent) => void): Promise<DownResult> {
  const vms = vmsOf(ctx);
  const existing = new Set(listVms(ctx.db).map((v) => v.name));
  const todo = fleet.vms.filter((v) => existing.has(v.name));
  const removed: DownResult['removed'] = [];
  for (const [i, v] of todo.entries()) {
    const change: FleetChange = { op: 'vm.rm', vm: v.name, why: 'down' };
    const base = { step: i + 1, of: todo.length, change, text: describeChange(change) };
    onEvent?.({ ...base, status: 'begin' });
    const r = await vms.remove(v.name);
    removed.push({ vm: v.name, ...r });
    onEvent?.({ ...base, status: 'done' });
  }
  const owners = readOwners(ctx.backend);
  const left = (owners[fleet.file] ?? []).filter((n) => !fleet.vms.some((v) => v.name === n) && listVms(ctx.db).some((r) => r.name === n));
  if (left.length) owners[fleet.file] = left;
  else delete owners[fleet.file];
  writeOwners(ctx.backend, owners);
  return { file: fleet.file, removed };
}

export interface FleetRow {
  vm: string;
  service: string;
  scmName: string;
  declared: boolean;
  /** the SCM's state, or 'missing' */
  state: string;
  pid: number;
  /** how the existing duplicate runs ('-' when missing) */
  mode: string;
  /** what `up` would do about it, '' when nothing */
  pending: string;
}

/** Declared against actual, a row per declared or existing duplicate of the file's VMs. */
export async function fleetPs(ctx: FleetContext, fleet: Fleet): Promise<{ rows: FleetRow[]; changes: FleetChange[] }> {
  const actual = await observeFleet(ctx, fleet);
  const changes = planFleet(fleet, actual);
  const statuses = new Map((await ctx.backend.call('scm.list', {})).map((s) => [s.name.toLowerCase(), s]));
  const rows: FleetRow[] = [];
  const pendingFor = (vm: string, service?: string): string =>
    changes
      .filter((c) => c.vm === vm && (service === undefined ? !('service' in c) : 'service' in c && c.service.toLowerCase() === service.toLowerCase()))
      .map((c) => c.op)
      .join(', ');
  const names = [...new Set([...fleet.vms.map((v) => v.name), ...actual.vms.map((v) => v.name)])];
  for (const vm of names) {
    const d = fleet.vms.find((v) => v.name === vm);
    const a = actual.vms.find((v) => v.name === vm);
    const vmPending = pendingFor(vm);
    const services = [...new Set([...(d?.services.map((s) => s.name) ?? []), ...(a?.duplicates.map((x) => x.service) ?? [])])];
    if (!services.length) rows.push({ vm, service: '-', scmName: '-', declared: !!d, state: a ? 'VM only' : 'missing', pid: 0, mode: '-', pending: vmPending });
    for (const service of services) {
      const x = a?.duplicates.find((o) => o.service.toLowerCase() === service.toLowerCase());
      const st = x && statuses.get(x.scmName.toLowerCase());
      rows.push({
        vm,
        service,
        scmName: x?.scmName ?? `${service}@${vm}`,
        declared: !!d?.services.some((s) => s.name.toLowerCase() === service.toLowerCase()),
        state: st?.state ?? 'missing',
        pid: st?.pid ?? 0,
        mode: x ? (x.direct ? 'direct' : 'relayed') : '-',
        pending: [vmPending, pendingFor(vm, service)].filter(Boolean).join(', '),
      });
    }
  }
  return { rows, changes };
}
