// The cluster as etcd holds it, read at one revision: what the controller places from and
// what `cluster nodes` / `cluster ps` show.
import type { Etcd3 } from 'etcd3';
import type { GroupDecl } from './file.js';
import { keys, under } from './keys.js';
import type { NodeView, Unplaced, Waiting } from './place.js';
import type { AssignmentValue, NodeRecord, StatusValue } from './types.js';

export interface ClusterState {
  revision: string;
  groups: GroupDecl[];
  /** registered nodes (live leases), by name, with their lease id */
  nodes: Map<string, { rec: NodeRecord; lease: string }>;
  cordoned: Set<string>;
  lost: Set<string>;
  notReadySince: Map<string, number>;
  assigns: (AssignmentValue & { host: string })[];
  statuses: StatusValue[];
  /** what the leader could not place or move, as it last wrote it */
  placement: { unplaced: Unplaced[]; waiting: Waiting[]; leader: string; at: number } | undefined;
}

export async function readState(client: Etcd3, opts: { serializable?: boolean; statuses?: boolean } = {}): Promise<ClusterState> {
  let revision: string | undefined;
  const range = async (prefix: string) => {
    let b = client.getAll().prefix(prefix);
    if (opts.serializable) b = b.serializable(true);
    if (revision) b = b.revision(revision);
    const r = await b.exec();
    revision ??= r.header.revision;
    return r.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString(), lease: kv.lease }));
  };
  const json = <T>(s: string): T => JSON.parse(s) as T;
  const groups = (await range(keys.groups)).map((kv) => json<GroupDecl>(kv.value));
  const nodes = new Map((await range(keys.nodes)).map((kv) => [under(kv.key, keys.nodes), { rec: json<NodeRecord>(kv.value), lease: kv.lease }]));
  const cordoned = new Set((await range(keys.cordons)).map((kv) => under(kv.key, keys.cordons)));
  const lost = new Set((await range(keys.losts)).map((kv) => under(kv.key, keys.losts)));
  const notReadySince = new Map((await range(keys.notReadys)).map((kv) => [under(kv.key, keys.notReadys), Number(kv.value)]));
  const assigns = (await range(keys.assigns)).map((kv) => ({ ...json<AssignmentValue>(kv.value), host: under(kv.key, keys.assigns).split('/')[0]! }));
  const statuses = opts.statuses === false ? [] : (await range(keys.statuses)).map((kv) => json<StatusValue>(kv.value));
  const p = (await range(keys.placement))[0];
  return {
    revision: revision!,
    groups,
    nodes,
    cordoned,
    lost,
    notReadySince,
    assigns,
    statuses,
    placement: p ? json(p.value) : undefined,
  };
}

/** Every host the cluster knows of: registered, or holding assignments, or cordoned / lost. */
export function nodeViews(s: ClusterState): NodeView[] {
  const names = new Set([...s.nodes.keys(), ...s.assigns.map((a) => a.host), ...s.cordoned, ...s.lost]);
  return [...names].sort().map((name) => {
    const n = s.nodes.get(name);
    const since = s.notReadySince.get(name);
    return {
      name,
      ready: !!n,
      labels: n?.rec.labels ?? {},
      ...(n?.rec.capacity !== undefined ? { capacity: n.rec.capacity } : {}),
      cordoned: s.cordoned.has(name),
      lost: s.lost.has(name),
      ...(!n && since !== undefined ? { notReadySince: since } : {}),
    };
  });
}
