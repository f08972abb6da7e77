// The etcd keys of a svcdup cluster (docs/cluster.md, "Keys"). Everything lives under one
// prefix; a node's assignments and statuses are under its own name, so a node watches one
// prefix and a change for another host wakes nobody else.
export const ROOT = '/svcdup/';

export const keys = {
  /** a node's registration, bound to its lease: gone when the lease expires */
  node: (host: string) => `${ROOT}nodes/${host}`,
  nodes: `${ROOT}nodes/`,
  /** `svcdup node cordon`: no new placement there (persistent) */
  cordon: (host: string) => `${ROOT}cordon/${host}`,
  cordons: `${ROOT}cordon/`,
  /** `svcdup node lost`: the host's disks are gone; `wait` duplicates may be placed elsewhere */
  lost: (host: string) => `${ROOT}lost/${host}`,
  losts: `${ROOT}lost/`,
  /** when the leader first saw a node with assignments and no registration (survives a failover) */
  notReady: (host: string) => `${ROOT}notready/${host}`,
  notReadys: `${ROOT}notready/`,
  /** a group as `apply` wrote it */
  group: (name: string) => `${ROOT}groups/${name}`,
  groups: `${ROOT}groups/`,
  /** what a host must run: one key per VM, written by the leading controller only */
  assign: (host: string, vm: string) => `${ROOT}assign/${host}/${vm}`,
  assignsOf: (host: string) => `${ROOT}assign/${host}/`,
  assigns: `${ROOT}assign/`,
  /** what a host runs, per VM, bound to the node's lease */
  status: (host: string, vm: string) => `${ROOT}status/${host}/${vm}`,
  statusOf: (host: string) => `${ROOT}status/${host}/`,
  statuses: `${ROOT}status/`,
  /** what the leader could not place or move, and why (for `cluster ps` and `apply`) */
  placement: `${ROOT}placement`,
  /** `svcdup node drain HOST`: move everything off it, one VM at a time */
  drain: (host: string) => `${ROOT}drain/${host}`,
  drains: `${ROOT}drain/`,
  /** a VM's state on its way from one host to another (written by both nodes, read by the leader) */
  move: (vm: string) => `${ROOT}moves/${vm}`,
  moves: `${ROOT}moves/`,
  /** the controllers' election (etcd3's Election under this name) */
  election: 'svcdup-controller',
} as const;

/** The last part of a key under a prefix (`/svcdup/assign/h1/pg-0` under assigns -> `h1/pg-0`). */
export const under = (key: string, prefix: string): string => key.slice(prefix.length);
