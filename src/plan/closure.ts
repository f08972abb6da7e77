// Dependency closure of a service: DependOnService and DependOnGroup, followed transitively,
// each dependency either duplicated into the VM or shared with the host. Pure: it sees only
// the configurations it is given.
import type { ServiceConfig } from '../backend/types.js';

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

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

const isDriver = (c: ServiceConfig): boolean => (c.type & 0x0f) !== 0;
const lower = (s: string): string => s.toLowerCase();

/**
 * @param root the service to duplicate
 * @param configs every service on the host (names compared case-insensitively, as the SCM does)
 * @param share services the user asked to share with the host rather than duplicate
 */
export function dependencyClosure(root: string, configs: readonly ServiceConfig[], share: readonly string[] = []): Closure {
  const byName = new Map(configs.map((c) => [lower(c.name), c]));
  const shared = new Set(share.map(lower));
  for (const s of share) if (!byName.has(lower(s))) throw new PlanError(`--share ${s}: no such service`);
  const rootCfg = byName.get(lower(root));
  if (!rootCfg) throw new PlanError(`no such service: ${root}`);
  if (isDriver(rootCfg)) throw new PlanError(`${rootCfg.name} is a driver: drivers cannot be duplicated from user mode (svcdup virtualizes their names instead)`);
  if (shared.has(lower(root))) throw new PlanError(`${rootCfg.name} cannot be both duplicated and shared`);

  const groups = new Map<string, ServiceConfig[]>();
  for (const c of configs) {
    if (!c.loadOrderGroup) continue;
    const g = lower(c.loadOrderGroup);
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }

  const order: ClosureEntry[] = [];
  const done = new Set<string>();
  const onPath: string[] = [];

  const visit = (cfg: ServiceConfig, action: DependencyAction, reason: string, viaGroups: string[]): void => {
    const key = lower(cfg.name);
    if (done.has(key)) return;
    const cycleAt = onPath.indexOf(key);
    if (cycleAt >= 0) {
      const names = [...onPath.slice(cycleAt), key].map((k) => byName.get(k)!.name);
      throw new PlanError(`dependency cycle: ${names.join(' -> ')}`);
    }
    const deps: { cfg: ServiceConfig; via?: string }[] = [];
    for (const d of cfg.dependOnService) {
      const dc = byName.get(lower(d));
      if (!dc) throw new PlanError(`${cfg.name} depends on ${d}, which is not installed`);
      deps.push({ cfg: dc });
    }
    for (const g of cfg.dependOnGroup) {
      const members = groups.get(lower(g)) ?? [];
      // Windows needs at least one member of the group running; an empty group is an error at start.
      if (members.length === 0) throw new PlanError(`${cfg.name} depends on group ${g}, which has no members`);
      for (const m of members) deps.push({ cfg: m, via: g });
    }
    // A shared dependency runs on the host: its own dependencies are the host's business.
    if (action === 'duplicate') {
      onPath.push(key);
      for (const d of deps) {
        const dkey = lower(d.cfg.name);
        const via = d.via ? [...viaGroups.filter((v) => v !== d.via), d.via] : [];
        if (shared.has(dkey)) visit(d.cfg, 'share', '--share', via);
        else if (isDriver(d.cfg)) visit(d.cfg, 'share', 'driver: cannot be duplicated from user mode', via);
        else visit(d.cfg, 'duplicate', `dependency of ${cfg.name}${d.via ? ` (group ${d.via})` : ''}`, via);
      }
      onPath.pop();
    }
    done.add(key);
    order.push({ name: cfg.name, action, reason, dependsOn: [...new Set(deps.map((d) => d.cfg.name))], viaGroups });
  };

  visit(rootCfg, 'duplicate', 'requested', []);
  return { root: rootCfg.name, order };
}
