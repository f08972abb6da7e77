// The one dependency closure of a service: DependOnService and DependOnGroup, followed
// transitively, each dependency either duplicated into the VM or shared with the host.
// Pure: it sees only the configurations it is given. `closureOf` lists every problem it
// meets (the analyzer reports them); `dependencyClosure` throws the first one (the planner
// refuses to plan around them).
import type { ServiceConfig } from '../backend/types.js';
import { isDriverType } from '../backend/service-type.js';

export type DependencyAction = 'duplicate' | 'share';

export interface ClosureEntry {
  name: string;
  action: DependencyAction;
  /** why this action: "requested", "--share", "driver: cannot be duplicated from user mode", ... */
  reason: string;
  /** direct dependencies (service names, groups already expanded) */
  dependsOn: string[];
  /** groups this entry was pulled in through, if any */
  viaGroups: string[];
}

export interface Closure {
  root: string;
  /** start order: every entry after everything it depends on; the root is last */
  order: ClosureEntry[];
}

/** One dependency as the analyzer lists it: breadth first, with the chain that pulled it in. */
export interface DependencyNode {
  name: string;
  /** service, driver, a load-order group (DependOnGroup), or a name that is not installed */
  kind: 'service' | 'driver' | 'group' | 'missing';
  /** the chain from the root to this one (`+GROUP` for a group hop) */
  via: string[];
  type?: number;
  start?: string;
  /** for groups: the services in the group */
  members?: string[];
}

export type ClosureProblemKind = 'no-such-service' | 'driver-root' | 'shared-root' | 'bad-share' | 'missing' | 'cycle' | 'empty-group';

export interface ClosureProblem {
  kind: ClosureProblemKind;
  /** the service the problem is about (the one missing, the one depending on an empty group, ...) */
  service: string;
  message: string;
}

export interface ClosureResult extends Closure {
  /** every dependency, breadth first (drivers, groups and missing names included) */
  nodes: DependencyNode[];
  /** what stands in the way of planning; empty when `order` is complete */
  problems: ClosureProblem[];
}

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

const lower = (s: string): string => s.toLowerCase();

/**
 * @param root the service to duplicate
 * @param configs every service on the host (names compared case-insensitively, as the SCM does)
 * @param share services the user asked to share with the host rather than duplicate
 */
export function closureOf(root: string, configs: readonly ServiceConfig[], share: readonly string[] = []): ClosureResult {
  const byName = new Map(configs.map((c) => [lower(c.name), c]));
  const shared = new Set(share.map(lower));
  const problems: ClosureProblem[] = [];
  const problem = (kind: ClosureProblemKind, service: string, message: string): void => {
    if (!problems.some((p) => p.message === message)) problems.push({ kind, service, message });
  };
  for (const s of share) if (!byName.has(lower(s))) problem('bad-share', s, `--share ${s}: no such service`);
  const rootCfg = byName.get(lower(root));
  if (!rootCfg) {
    problem('no-such-service', root, `no such service: ${root}`);
    return { root, order: [], nodes: [], problems };
  }
  if (isDriverType(rootCfg.type))
    problem('driver-root', rootCfg.name, `${rootCfg.name} is a driver: drivers cannot be duplicated from user mode (svcdup virtualizes their names instead)`);
  if (shared.has(lower(root))) problem('shared-root', rootCfg.name, `${rootCfg.name} cannot be both duplicated and shared`);

  const groups = new Map<string, ServiceConfig[]>();
  for (const c of configs) {
    if (!c.loadOrderGroup) continue;
    const g = lower(c.loadOrderGroup);
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }

  // start order: depth first, dependencies before dependents
  const order: ClosureEntry[] = [];
  const done = new Set<string>();
  const onPath: string[] = [];
  const visit = (cfg: ServiceConfig, action: DependencyAction, reason: string, viaGroups: string[]): void => {
    const key = lower(cfg.name);
    if (done.has(key)) return;
    const cycleAt = onPath.indexOf(key);
    if (cycleAt >= 0) {
      const names = [...onPath.slice(cycleAt), key].map((k) => byName.get(k)!.name);
      problem('cycle', cfg.name, `dependency cycle: ${names.join(' -> ')}`);
      return;
    }
    const deps: { cfg: ServiceConfig; via?: string }[] = [];
    for (const d of cfg.dependOnService) {
      const dc = byName.get(lower(d));
      if (!dc) problem('missing', d, `${cfg.name} depends on ${d}, which is not installed`);
      else deps.push({ cfg: dc });
    }
    for (const g of cfg.dependOnGroup) {
      const members = groups.get(lower(g)) ?? [];
      // Windows needs at least one member of the group running; an empty group is an error at start.
      if (members.length === 0) problem('empty-group', cfg.name, `${cfg.name} depends on group ${g}, which has no members`);
      for (const m of members) deps.push({ cfg: m, via: g });
    }
    // A shared dependency runs on the host: its own dependencies are the host's business.
    if (action === 'duplicate') {
      onPath.push(key);
      for (const d of deps) {
        const dkey = lower(d.cfg.name);
        const via = d.via ? [...viaGroups.filter((v) => v !== d.via), d.via] : [];
        if (shared.has(dkey)) visit(d.cfg, 'share', '--share', via);
        else if (isDriverType(d.cfg.type)) visit(d.cfg, 'share', 'driver: cannot be duplicated from user mode', via);
        else visit(d.cfg, 'duplicate', `dependency of ${cfg.name}${d.via ? ` (group ${d.via})` : ''}`, via);
      }
      onPath.pop();
    }
    done.add(key);
    order.push({ name: cfg.name, action, reason, dependsOn: [...new Set(deps.map((d) => d.cfg.name))], viaGroups });
  };
  visit(rootCfg, 'duplicate', 'requested', []);

  return { root: rootCfg.name, order, nodes: dependencyNodes(rootCfg, configs, groups), problems };
}

/** Every dependency, breadth first, each once, with the chain that pulled it in. */
function dependencyNodes(root: ServiceConfig, configs: readonly ServiceConfig[], groups: Map<string, ServiceConfig[]>): DependencyNode[] {
  const byName = new Map(configs.map((c) => [lower(c.name), c]));
  const out: DependencyNode[] = [];
  const seen = new Set<string>([lower(root.name)]);
  const queue: { cfg: ServiceConfig; via: string[] }[] = [{ cfg: root, via: [root.name] }];
  const node = (c: ServiceConfig, via: string[]): DependencyNode => ({
    name: c.name,
    kind: isDriverType(c.type) ? 'driver' : 'service',
    via,
    type: c.type,
    start: c.start,
  });
  while (queue.length && out.length < 1000) {
    const { cfg, via } = queue.shift()!;
    for (const dep of cfg.dependOnService) {
      const key = lower(dep);
      if (seen.has(key)) continue;
      seen.add(key);
      const c = byName.get(key);
      if (!c) {
        out.push({ name: dep, kind: 'missing', via });
        continue;
      }
      out.push(node(c, via));
      queue.push({ cfg: c, via: [...via, c.name] });
    }
    for (const group of cfg.dependOnGroup) {
      const key = '+' + lower(group);
      if (seen.has(key)) continue;
      seen.add(key);
      const members = groups.get(lower(group)) ?? [];
      out.push({ name: group, kind: 'group', via, members: members.map((m) => m.name) });
      for (const m of members) {
        const mk = lower(m.name);
        if (seen.has(mk)) continue;
        seen.add(mk);
        out.push(node(m, [...via, `+${group}`]));
        queue.push({ cfg: m, via: [...via, `+${group}`, m.name] });
      }
    }
  }
  return out;
}

/** The closure the planner uses: the first problem is an error. */
export function dependencyClosure(root: string, configs: readonly ServiceConfig[], share: readonly string[] = []): Closure {
  const c = closureOf(root, configs, share);
  // the order the planner always checked in: --share names, the root, then the walk
  const first = ['bad-share', 'no-such-service', 'driver-root', 'shared-root'].map((k) => c.problems.find((p) => p.kind === k)).find(Boolean) ?? c.problems[0];
  if (first) throw new PlanError(first.message);
  return { root: c.root, order: c.order };
}
