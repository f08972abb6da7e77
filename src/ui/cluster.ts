// The dashboard's cluster view (`svcdup ui --etcd URLS`, docs/cluster.md "One view"): nodes,
// groups, placement and every replica's status across hosts, as `cluster nodes` and
// `cluster ps` read them from etcd. Read again on every change under /svcdup/ (one watch) and
// every 2 s besides (lease ages move with no change in etcd).
import type { Etcd3, Watcher } from 'etcd3';
import { nodeRows, psRows, type NodeRow, type PsRow } from '../cluster/admin.js';
import { connectEtcd, etcdWhy, memberClient, quorumProbe, type EtcdOptions } from '../cluster/etcd.js';
import { ROOT } from '../cluster/keys.js';
import { Coalesced } from '../cluster/serial.js';
import { readState } from '../cluster/view.js';

export interface ClusterView {
  etcd: string;
  /** why the view may be stale (etcd has no quorum), or absent */
  problem?: string;
  leader: string | null;
  nodes: NodeRow[];
  groups: { name: string; replicas: number; labels: Record<string, string>; spread: string; onNodeLoss: string; grace: number; running: number }[];
  /** replicas no node can take, with the constraint that fails */
  unplaced: { vm: string; constraint: string }[];
  /** replicas kept on a NotReady node, and why */
  waiting: { vm: string; host: string; reason: string }[];
  duplicates: PsRow[];
}

export interface ClusterFeed {
  view(): ClusterView | undefined;
  close(): Promise<void>;
}

export async function startClusterFeed(o: EtcdOptions, log: (line: string) => void): Promise<ClusterFeed> {
  const client: Etcd3 = await connectEtcd(o, 15_000, log);
  const probe = await quorumProbe(o);
  let current: ClusterView | undefined;
  let closed = false;

  async function read(): Promise<void> {
    const q = await probe.check();
    const problem = q?.text;
    const m = memberClient(client, o, q);
    let s: Awaited<ReturnType<typeof readState>>;
    let nodes: NodeRow[];
    try {
      s = await readState(m.client, { serializable: !!q });
      nodes = await nodeRows(m.client, s, !q);
    } finally {
      m.close();
    }
    const duplicates = psRows(s);
    let leader: string | null = null;
    if (!problem)
      leader =
        (await client
          .election('svcdup-controller')
          .leader()
          .catch(() => undefined)) ?? null;
    current = {
      etcd: o.etcd,
      ...(problem ? { problem } : {}),
      leader,
      nodes,
      groups: s.groups.map((g) => ({
        name: g.name,
        replicas: g.replicas,
        labels: g.labels,
        spread: g.spread,
        onNodeLoss: g.onNodeLoss,
        grace: g.grace,
        running: duplicates.filter((d) => d.group === g.name && d.state === 'RUNNING').length,
      })),
      unplaced: (s.placement?.unplaced ?? []).map((u) => ({ vm: u.vm, constraint: u.constraint })),
      waiting: s.placement?.waiting ?? [],
      duplicates,
    };
  }
  const reading = new Coalesced(read, (err) => {
    current = {
      ...(current ?? { etcd: o.etcd, leader: null, nodes: [], groups: [], unplaced: [], waiting: [], duplicates: [] }),
      problem: `etcd: ${etcdWhy(err)}`,
    };
  });
  const again = () => {
    if (!closed) reading.run();
  };

  again();
  await reading.idle();
  const watcher: Watcher = await client.watch().prefix(ROOT).create();
  watcher.on('put', again);
  watcher.on('delete', again);
  watcher.on('error', () => {});
  const timer = setInterval(again, 2000);
  return {
    view: () => current,
    async close() {
      closed = true;
      clearInterval(timer);
      await watcher.cancel().catch(() => {});
      await reading.idle();
      probe.close();
      client.close();
    },
  };
}
