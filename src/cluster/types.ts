// What the cluster keeps in etcd (src/cluster/keys.ts says where): JSON values.
import type { DeclaredService } from '../fleet/file.js';
import type { GroupDecl } from './file.js';

/** /svcdup/nodes/HOST, under the node's lease */
export interface NodeRecord {
  name: string;
  labels: Record<string, string>;
  capacity?: number;
  ttl: number;
  renew: number;
  /** the machine and process of the agent, for `cluster nodes` and a refused duplicate name */
  hostname: string;
  pid: number;
  startedAt: number;
}

/** /svcdup/assign/HOST/VM, written by the leading controller */
export interface AssignmentValue {
  vm: string;
  group: string;
  replica: number;
  generation: number;
  spec: string;
  ports?: string;
  services: DeclaredService[];
  /** the group's policy (absent in assignments written before it was recorded: replace) */
  onNodeLoss?: 'replace' | 'wait';
  /** drain: export the VM's state for `to` (set on the source's assignment) */
  move?: { to: string; id: string };
  /** drain: the VM's state to import before starting (set on the target's assignment) */
  importFrom?: { url: string; sha256: string; from: string; id: string; key?: string };
}

/** /svcdup/moves/VM: one drain move, as far as it went */
export interface MoveValue {
  vm: string;
  id: string;
  from: string;
  to: string;
  /** asked: by the leader; exported: the source serves the archive at url; done / failed: the target's (or source's) word */
  state: 'asked' | 'exported' | 'done' | 'failed';
  url?: string;
  /** of the file served (encrypted) */
  sha256?: string;
  /** the archive's AES-256-GCM key for this move, hex (sealed under the cluster key when the agents have one) */
  key?: string;
  error?: string;
  at: number;
}

/** /svcdup/drain/HOST */
export interface DrainValue {
  at: number;
  /** VMs whose move failed: left running on the host */
  failed: { vm: string; error: string }[];
}

/** /svcdup/status/HOST/VM, written by the node under its lease */
export interface StatusValue {
  vm: string;
  host: string;
  generation: number;
  /** RUNNING when every duplicate runs; else the first other state, or 'missing' / 'failed' */
  state: string;
  services: { service: string; scmName: string; state: string; pid: number }[];
  error?: string;
  at: number;
}

/** /svcdup/groups/NAME */
export type GroupValue = GroupDecl;
