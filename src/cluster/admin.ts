// What the cluster commands do against etcd: apply/delete a file's groups, list nodes and
// duplicates, cordon/uncordon/lost. None of them places anything: the leading controller does.
import type { Etcd3 } from 'etcd3';
import { SvcdupError, UsageError } from '../errors.js';
import { specOf } from './controller.js';
import { keyedHash, seal, type ClusterKey } from './secret.js';
import { etcdWhy } from './etcd.js';
import { replicaVm, type GroupDecl } from './file.js';
import { keys } from './keys.js';
import { place, type Unplaced } from './place.js';
import type { DrainValue, MoveValue } from './types.js';
import { nodeViews, readState, type ClusterState } from './view.js';

export interface ApplyResult {
  groups: string[];
  /** replicas no node can take now, and the constraint that fails */
  unplaced: Unplaced[];
}

/**
 * `set:` values sealed under the cluster key, the group's spec identity a keyed hash of the
 * plain text. Without a key, a group with `set:` values is refused: they would be in etcd in clear.
 */
export function sealGroups(groups: GroupDecl[], key: ClusterKey | undefined): GroupDecl[] {
  return groups.map((g) => {
    const sets = g.services.some((s) => s.set.length);
    if (!sets) return g;
    if (!key)
      throw new UsageError(
        `cluster.${g.name}: set: values would be stored in etcd in clear; give --secret-key FILE (32+ random bytes; the same file to every node agent)`,
      );
    return {
      ...g,
      spec: keyedHash(key, specOf(g)),
      services: g.services.map((s) => ({ ...s, set: s.set.map((v) => seal(key, v)) })),
    };
  });
}

/** Store the groups (one transaction) and say what cannot be placed on the nodes there are now. */
export async function applyGroups(client: Etcd3, groups: GroupDecl[]): Promise<ApplyResult> {
  await client
    .if(keys.groups, 'Create', '>', -1)
    .then(...groups.map((g) => client.put(keys.group(g.name)).value(JSON.stringify(g))))
    .commit();
  const s = await readState(client, { statuses: false });
  const p = place(s.groups, nodeViews(s), s.assigns, Date.now(), specOf);
  const mine = new Set(groups.map((g) => g.name));
  return { groups: [...mine], unplaced: p.unplaced.filter((u) => mine.has(u.group)) };
}

export async function deleteGroups(client: Etcd3, groups: GroupDecl[]): Promise<{ deleted: string[]; absent: string[] }> {
  const s = await readState(client, { statuses: false });
  const have = new Set(s.groups.map((g) => g.name));
  const deleted = groups.map((g) => g.name).filter((n) => have.has(n));
  if (deleted.length)
    await client
      .if(keys.groups, 'Create', '>', -1)
      .then(...deleted.map((n) => client.delete().key(keys.group(n))))
      .commit();
  return { deleted, absent: groups.map((g) => g.name).filter((n) => !have.has(n)) };
}

export interface PsRow {
  group: string;
  vm: string;
  host: string;
  generation: number;
  /** the node's report for this generation on this host; 'pending' before it reported */
  state: string;
  services: { service: string; state: string; pid: number }[];
  /** why it is not where it should be, or '' */
  note: string;
}

export function psRows(s: ClusterState): PsRow[] {
  const rows: PsRow[] = [];
  const views = new Map(nodeViews(s).map((n) => [n.name, n]));
  for (const g of s.groups)
    for (let i = 0; i < g.replicas; i++) {
      const vm = replicaVm(g.name, i);
      const a = s.assigns.find((x) => x.vm === vm);
      const st = a && s.statuses.find((x) => x.vm === vm && x.host === a.host);
      const unplaced = s.placement?.unplaced.find((u) => u.vm === vm);
      const waiting = s.placement?.waiting.find((w) => w.vm === vm);
      const n = a && views.get(a.host);
      let state = !a ? 'unplaced' : !st ? 'pending' : st.generation === a.generation ? st.state : `${st.state} (generation ${st.generation})`;
      if (a && n && !n.ready) state = 'NodeNotReady';
      rows.push({
        group: g.name,
        vm,
        host: a?.host ?? '-',
        generation: a?.generation ?? 0,
        state,
        services: st?.services.map((x) => ({ service: x.service, state: x.state, pid: x.pid })) ?? [],
        note: waiting?.reason ?? (unplaced ? `cannot place: ${unplaced.constraint}` : (st?.error ?? '')),
      });
    }
  return rows;
}

export interface NodeRow {
  name: string;
  ready: boolean;
  status: string;
  labels: Record<string, string>;
  capacity: number | null;
  duplicates: number;
  /** seconds left on the lease (null when not registered) */
  leaseLeft: number | null;
  hostname: string;
  since: number | null;
}

/** `leases: false` without quorum: a lease's time to live is asked of the raft leader (5 s lost per node). */
export async function nodeRows(client: Etcd3, s: ClusterState, leases = true): Promise<NodeRow[]> {
  const out: NodeRow[] = [];
  for (const v of nodeViews(s)) {
    const n = s.nodes.get(v.name);
    let leaseLeft: number | null = null;
    if (n && leases) {
      try {
        leaseLeft = Number((await client.leaseClient.leaseTimeToLive({ ID: n.lease })).TTL);
      } catch {
        leaseLeft = null;
      }
    }
    const status = [v.ready ? 'Ready' : 'NotReady', ...(v.cordoned ? ['SchedulingDisabled'] : []), ...(v.lost ? ['Lost'] : [])].join(',');
    out.push({
      name: v.name,
      ready: v.ready,
      status,
      labels: v.labels,
      capacity: v.capacity ?? null,
      duplicates: s.assigns.filter((a) => a.host === v.name).length,
      leaseLeft,
      hostname: n?.rec.hostname ?? '',
      since: n?.rec.startedAt ?? v.notReadySince ?? null,
    });
  }
  return out;
}

/** Until every replica of `groups` runs, as its node reports for the generation placed (or the time is up). */
export async function waitRunning(client: Etcd3, groups: string[], ms: number): Promise<PsRow[]> {
  const end = Date.now() + ms;
  for (;;) {
    let rows: PsRow[] = [];
    try {
      rows = psRows(await readState(client)).filter((r) => groups.includes(r.group));
      if (rows.every((r) => r.state === 'RUNNING')) return rows;
    } catch (err) {
      if (Date.now() > end) throw new SvcdupError(`etcd: ${etcdWhy(err)}`);
    }
    if (Date.now() > end) {
      const bad = rows.filter((r) => r.state !== 'RUNNING');
      throw new SvcdupError(`not all running after ${ms / 1000} s: ${bad.map((r) => `${r.vm} ${r.state}${r.note ? ` (${r.note})` : ''}`).join('; ')}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

export async function setCordon(client: Etcd3, host: string, on: boolean): Promise<void> {
  if (on) await client.put(keys.cordon(host)).value(String(Date.now()));
  else await client.delete().key(keys.cordon(host));
}

/** `node lost HOST`: its disks are gone, so `wait` duplicates may start elsewhere. Refused for a Ready node. */
export async function markLost(client: Etcd3, host: string): Promise<void> {
  const s = await readState(client, { statuses: false });
  if (s.nodes.has(host)) throw new UsageError(`${host} is Ready (its agent renews its lease): node lost is for a host that is gone`);
  if (!nodeViews(s).some((n) => n.name === host)) throw new UsageError(`no node ${host} in the cluster`);
  await client.put(keys.lost(host)).value(String(Date.now()));
}

/** A node that registers again is no longer lost. */
export async function clearLost(client: Etcd3, host: string): Promise<void> {
  await client.delete().key(keys.lost(host));
}

export interface DrainResult {
  node: string;
  moved: { vm: string; to: string }[];
  failed: { vm: string; error: string }[];
}

/**
 * `node drain HOST`: cordon it and ask the leader to move each of its VMs, with its state, to
 * another node (one at a time); wait until none is left but those whose move failed (they
 * run on HOST again). The drain record is removed at the end; the cordon stays.
 */
export async function drainNode(client: Etcd3, host: string, ms: number, onMove: (vm: string, to: string) => void): Promise<DrainResult> {
  const s0 = await readState(client, { statuses: false });
  if (!nodeViews(s0).some((n) => n.name === host)) throw new UsageError(`no node ${host} in the cluster`);
  if (!s0.nodes.has(host)) throw new UsageError(`${host} is NotReady: a drain needs its agent (for a dead host: svcdup node lost ${host})`);
  const start = new Map(s0.assigns.filter((a) => a.host === host).map((a) => [a.vm, a]));
  await setCordon(client, host, true);
  await client.put(keys.drain(host)).value(JSON.stringify({ at: Date.now(), failed: [] } satisfies DrainValue));
  const end = Date.now() + ms;
  const told = new Set<string>();
  try {
    for (;;) {
      const s = await readState(client, { statuses: true });
      const d = JSON.parse((await client.get(keys.drain(host)).string()) ?? '{"failed":[]}') as DrainValue;
      const moving = (await client.getAll().prefix(keys.moves).strings()) as Record<string, string>;
      const busy = Object.values(moving).some((v) => (JSON.parse(v) as MoveValue).from === host);
      for (const vm of start.keys()) {
        const a = s.assigns.find((x) => x.vm === vm);
        const st = a && s.statuses.find((x) => x.vm === vm && x.host === a.host && x.generation === a.generation);
        if (a && a.host !== host && st?.state === 'RUNNING' && !told.has(vm)) {
          told.add(vm);
          onMove(vm, a.host);
        }
      }
      const left = s.assigns.filter((a) => a.host === host && !d.failed.some((f) => f.vm === a.vm));
      const settled = [...start.keys()].every((vm) => told.has(vm) || d.failed.some((f) => f.vm === vm));
      if (!left.length && !busy && settled) {
        return { node: host, moved: [...told].map((vm) => ({ vm, to: s.assigns.find((a) => a.vm === vm)!.host })), failed: d.failed };
      }
      if (Date.now() > end)
        throw new SvcdupError(
          `drain of ${host} not finished after ${ms / 1000} s: ${left.map((a) => a.vm).join(', ') || 'moves still starting'} left (it goes on; svcdup cluster ps shows where)`,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    if (Date.now() <= end) await client.delete().key(keys.drain(host));
  }
}
