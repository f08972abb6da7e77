// The `cluster:` section of a fleet file: groups of identical VMs the cluster places on its
// nodes (docs/cluster.md). Same parser, same line:column errors as `vms:` (src/fleet/file.ts).
import { readFileSync, statSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { FleetFileError, MAX_ALIASES, MAX_FLEET_BYTES, parseFleet, parseServices, position, ServiceSpec, type DeclaredService } from '../fleet/file.js';
import { parsePortMap } from '../net/index.js';
import { vmNameProblem } from '../vm/names.js';

const LABEL = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/i;

const GroupSpec = z
  .object({
    replicas: z.number().int().min(0).max(1000),
    placement: z
      .object({
        labels: z.record(z.string().regex(LABEL, 'a label name: letters, digits, . _ -'), z.string()).optional(),
        /** host: at most one replica per host; none: anywhere */
        spread: z.enum(['host', 'none']).optional(),
      })
      .strict()
      .optional(),
    ports: z.array(z.union([z.string(), z.number()])).optional(),
    onNodeLoss: z.enum(['replace', 'wait']).optional(),
    /** seconds a node may be NotReady before its `replace` duplicates are placed elsewhere */
    grace: z.number().min(0).max(86_400).optional(),
    services: z.record(z.string().min(1), ServiceSpec.nullable()),
  })
  .strict();

const ClusterSpec = z.object({ cluster: z.record(z.string(), GroupSpec).default({}) }).passthrough();

/** A group as `apply` stores it in etcd and the controller places it. */
export interface GroupDecl {
  name: string;
  replicas: number;
  labels: Record<string, string>;
  spread: 'host' | 'none';
  /** port map in `vm create --port-map` spelling, or absent (an address of its own per VM) */
  ports?: string;
  onNodeLoss: 'replace' | 'wait';
  /** seconds */
  grace: number;
  services: DeclaredService[];
  /** set by apply when `set:` values are sealed: the identity of the plain spec (src/cluster/secret.ts) */
  spec?: string;
}

/** Kubernetes' default eviction wait for an unreachable node. */
export const DEFAULT_GRACE_S = 300;

/** VM name of replica i of a group. */
export const replicaVm = (group: string, i: number): string => `${group}-${i}`;

export function parseClusterText(text: string, file: string): GroupDecl[] {
  parseFleet(text, file); // syntax, aliases and the `vms:` section, reported as `up` does
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const fail = (pos: { line: number; col: number }, problem: string): never => {
    throw new FleetFileError(file, pos.line, pos.col, problem);
  };
  const parsed = ClusterSpec.safeParse(doc.toJS({ maxAliasCount: MAX_ALIASES }) ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code === 'unrecognized_keys') {
      const k = issue.keys[0]!;
      const expected =
        path.length === 2 ? 'replicas, placement, ports, onNodeLoss, grace, services' : path.length === 3 ? 'labels, spread' : 'set, share, mode';
      fail(position(doc, lc, path, k), `unknown key ${JSON.stringify(k)} in ${path.join('.')} (expected ${expected})`);
    }
    fail(position(doc, lc, path), `${path.join('.') || 'file'}: ${issue.message}`);
  }
  const groups: GroupDecl[] = [];
  for (const [name, g] of Object.entries(parsed.data!.cluster)) {
    const at = (...p: string[]) => position(doc, lc, ['cluster', name, ...p]);
    // the replicas' VM names (group-0, group-1, ...) must be VM names
    const problem = vmNameProblem(replicaVm(name, Math.max(0, g.replicas - 1)));
    if (problem) fail(position(doc, lc, ['cluster'], name), `group name ${JSON.stringify(name)}: ${problem}`);
    let ports: string | undefined;
    if (g.ports?.length) {
      ports = g.ports.map(String).join(',');
      try {
        parsePortMap(ports);
      } catch (err) {
        fail(at('ports'), (err as Error).message.replace(/^--port-map: /, 'ports: '));
      }
    }
    const services = parseServices(g.services, at, (svc) => position(doc, lc, ['cluster', name, 'services'], svc), fail);
    if (!services.length) fail(at('services'), `cluster.${name}.services: a group runs at least one service`);
    groups.push({
      name,
      replicas: g.replicas,
      labels: g.placement?.labels ?? {},
      spread: g.placement?.spread ?? 'host',
      ...(ports ? { ports } : {}),
      onNodeLoss: g.onNodeLoss ?? 'replace',
      grace: g.grace ?? DEFAULT_GRACE_S,
      services,
    });
  }
  return groups;
}

export function readClusterFile(file: string): GroupDecl[] {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new UsageError(`${file} is not a regular file`);
    if (st.size > MAX_FLEET_BYTES) throw new UsageError(`${file} is ${st.size} bytes: a fleet file may be ${MAX_FLEET_BYTES} bytes at most`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (give one with -f FILE)' : (err as Error).message}`,
    );
  }
  const groups = parseClusterText(text, file);
  if (!groups.length) throw new UsageError(`${file} has no cluster: section (docs/cluster.md)`);
  return groups;
}
