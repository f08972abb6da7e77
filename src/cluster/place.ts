// Placement: which host runs each replica of each group. A pure function of the groups, the
// nodes and the assignments there are now (tested without etcd or Wine); the controller
// writes what it returns (src/cluster/controller.ts).
import { replicaVm, type GroupDecl } from './file.js';

export interface NodeView {
  name: string;
  /** registered under a live lease */
  ready: boolean;
  labels: Record<string, string>;
  /** most VMs it takes (absent: no limit) */
  capacity?: number;
  cordoned: boolean;
  /** `svcdup node lost`: its disks are gone */
  lost: boolean;
  /** ms since the epoch the controller first saw it NotReady */
  notReadySince?: number;
}

export interface Placed {
  host: string;
  vm: string;
  group: string;
  replica: number;
  /** bumped on every move or change: a node running an older generation is stale */
  generation: number;
  /** the group's spec as placed (a hash): a change is a new generation on the same host */
  spec: string;
}

export interface Unplaced {
  group: string;
  vm: string;
  /** the constraint no node met, in words */
  constraint: string;
}

export interface Waiting {
  vm: string;
  host: string;
  /** why it is not moved yet */
  reason: string;
}

export interface Placement {
  assignments: Placed[];
  unplaced: Unplaced[];
  waiting: Waiting[];
}

/** Why each candidate host was dropped, checked in this order; the first that leaves none is the failing constraint. */
export function choose(g: GroupDecl, nodes: NodeView[], load: Map<string, number>, groupHosts: Set<string>): { host: string } | { constraint: string } {
  if (!nodes.length) return { constraint: 'no node is registered' };
  let c = nodes.filter((n) => n.ready && !n.lost);
  if (!c.length) return { constraint: `no node is ready (${nodes.length} NotReady)` };
  const ready = c.length;
  c = c.filter((n) => !n.cordoned);
  if (!c.length) return { constraint: `every ready node is cordoned (${ready})` };
  const want = Object.entries(g.labels);
  c = c.filter((n) => want.every(([k, v]) => n.labels[k] === v));
  if (!c.length) return { constraint: `labels: no ready, uncordoned node has ${want.map(([k, v]) => `${k}=${v}`).join(', ')}` };
  const matching = c.length;
  if (g.spread === 'host') c = c.filter((n) => !groupHosts.has(n.name));
  if (!c.length) return { constraint: `spread: host: each of the ${matching} matching nodes already has a replica of ${g.name}` };
  const eligible = c.length;
  c = c.filter((n) => n.capacity === undefined || (load.get(n.name) ?? 0) < n.capacity);
  if (!c.length) return { constraint: `capacity: the ${eligible} eligible nodes are full` };
  c.sort((a, b) => (load.get(a.name) ?? 0) - (load.get(b.name) ?? 0) || a.name.localeCompare(b.name));
  return { host: c[0]!.name };
}

/** What each replica's host should be, given what is placed now; `specOf` hashes a group. */
export function place(groups: GroupDecl[], nodes: NodeView[], current: Placed[], now: number, specOf: (g: GroupDecl) => string): Placement {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const kept: Placed[] = [];
  const waiting: Waiting[] = [];
  const toPlace: { g: GroupDecl; replica: number; prev?: Placed }[] = [];
  const groupByName = new Map(groups.map((g) => [g.name, g]));
  const seen = new Set<string>();
  // the same VM placed twice (a half-applied move): keep the newest generation only
  const newest = new Map<string, Placed>();
  for (const a of current) {
    const o = newest.get(a.vm);
    if (!o || a.generation > o.generation) newest.set(a.vm, a);
  }
  for (const a of newest.values()) {
    const g = groupByName.get(a.group);
    if (!g || a.replica >= g.replicas || a.vm !== replicaVm(g.name, a.replica)) continue; // deleted or scaled down
    seen.add(a.vm);
    const n = byName.get(a.host);
    const spec = specOf(g);
    const here = { ...a, ...(a.spec !== spec ? { spec, generation: a.generation + 1 } : {}) };
    if (n?.ready && !n.lost) {
      kept.push(here);
      continue;
    }
    if (n?.lost) {
      toPlace.push({ g, replica: a.replica, prev: a });
      continue;
    }
    // NotReady (or never seen since): replace after the grace, wait until `node lost`
    const since = n?.notReadySince ?? now;
    const left = g.grace * 1000 - (now - since);
    if (g.onNodeLoss === 'replace' && left <= 0) {
      toPlace.push({ g, replica: a.replica, prev: a });
      continue;
    }
    kept.push(a); // unchanged: the node takes a new spec when it is back
    waiting.push({
      vm: a.vm,
      host: a.host,
      reason:
        g.onNodeLoss === 'replace'
          ? `${a.host} NotReady; replaced in ${Math.ceil(left / 1000)} s`
          : `${a.host} NotReady; onNodeLoss: wait (until svcdup node lost ${a.host})`,
    });
  }
  for (const g of groups) for (let i = 0; i < g.replicas; i++) if (!seen.has(replicaVm(g.name, i))) toPlace.push({ g, replica: i });
  const load = new Map<string, number>();
  const hostsOf = new Map<string, Set<string>>();
  const note = (p: Placed) => {
    load.set(p.host, (load.get(p.host) ?? 0) + 1);
    if (!hostsOf.has(p.group)) hostsOf.set(p.group, new Set());
    hostsOf.get(p.group)!.add(p.host);
  };
  kept.forEach(note);
  const assignments = [...kept];
  const unplaced: Unplaced[] = [];
  toPlace.sort((a, b) => a.g.name.localeCompare(b.g.name) || a.replica - b.replica);
  for (const t of toPlace) {
    const vm = replicaVm(t.g.name, t.replica);
    // a replica still waiting on its NotReady host does not count against spread for its own move
    const r = choose(t.g, nodes, load, hostsOf.get(t.g.name) ?? new Set());
    if ('constraint' in r) {
      unplaced.push({ group: t.g.name, vm, constraint: r.constraint });
      if (t.prev) waiting.push({ vm, host: t.prev.host, reason: `cannot move: ${r.constraint}` });
      continue;
    }
    const p: Placed = { host: r.host, vm, group: t.g.name, replica: t.replica, generation: (t.prev?.generation ?? 0) + 1, spec: specOf(t.g) };
    assignments.push(p);
    note(p);
  }
  assignments.sort((a, b) => a.vm.localeCompare(b.vm));
  return { assignments, unplaced, waiting };
}
