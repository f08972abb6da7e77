// Reconcile: from the declared fleet and what the host has, the changes that make them match.
// Pure: the actual state is read beforehand (observeFleet in fleet.ts) and the changes applied
// afterwards (fleetUp, applyChange in fleet.ts), so this is tested without Wine (test/fleet-unit.test.ts).
import type { VmLimits } from '../state/vms.js';
import type { RegValue, ServiceState } from '../backend/types.js';
import { parseSet } from '../plan/edits.js';
import type { DuplicateMode } from '../plan/plan.js';
import { parsePortMap, portMapToRecord } from '../net/index.js';
import type { DeclaredService, DeclaredVm, Fleet } from './file.js';

export interface ActualDuplicate {
  service: string;
  scmName: string;
  /** as registered: SCM names of duplicated dependencies, host names of shared ones */
  dependOnService: string[];
  state?: ServiceState;
  /** the VM copy's values the file sets, by `subkey\name` (lowercase); null where absent */
  values: Record<string, RegValue | null>;
  /** made with `dup --direct` */
  direct?: boolean;
}

export interface ActualVm {
  name: string;
  address?: string;
  portMap: Record<string, number>;
  /** compiled policy rules the VM was created with */
  policy: string;
  duplicates: ActualDuplicate[];
}

export interface FleetActual {
  vms: ActualVm[];
  /** VMs this file declared when `up` last ran: the only ones `up` removes when they leave the file */
  owned: string[];
  /** host services' DependOnService (lowercase name -> names), for the start order */
  hostDeps: Record<string, string[]>;
  /** compiled rules of each declared VM's policy file ('' without one) */
  policies: Record<string, string>;
}

export type FleetChange =
  | { op: 'vm.rm'; vm: string; why: string }
  | { op: 'vm.create'; vm: string; ip?: string; ports?: string; policyFile?: string; limits?: VmLimits; why: string }
  | { op: 'undup'; vm: string; service: string; why: string }
  | { op: 'dup'; vm: string; service: string; set: string[]; share: string[]; mode?: DuplicateMode; why: string }
  | { op: 'start'; vm: string; service: string; why: string };

export const valueKey = (subkey: string, name: string): string => (subkey ? `${subkey}\\${name}` : name).toLowerCase();

const lower = (s: string): string => s.toLowerCase();

function sameValue(a: RegValue, b: RegValue | null | undefined): boolean {
  return !!b && a.type === b.type && JSON.stringify(a.data) === JSON.stringify(b.data);
}

/** Why the VM as it is cannot stand for the declared one, or undefined when it can. */
function vmDifference(d: DeclaredVm, a: ActualVm, rules: string): string | undefined {
  const ports = d.ports ? portMapToRecord(parsePortMap(d.ports)) : {};
  if (JSON.stringify(Object.entries(ports).sort()) !== JSON.stringify(Object.entries(a.portMap).sort()))
    return `port map differs (declared ${d.ports ?? 'none'})`;
  if (d.ip && d.ip !== a.address) return `address differs (declared ${d.ip}, has ${a.address ?? 'none'})`;
  // A port map alone keeps the host's addresses (planIdentity): an address then differs too.
  if (!d.ip && d.ports && a.address) return `address differs (declared none, has ${a.address})`;
  if (!d.ip && !d.ports && !a.address) return 'address differs (declared a default one, has none)';
  if (rules !== a.policy) return 'policy differs';
  return undefined;
}

/** Why a duplicate as it is differs from its declaration, or undefined. */
function dupDifference(vm: string, s: DeclaredService, a: ActualDuplicate, inVm: ActualDuplicate[]): string | undefined {
  // auto takes the duplicate as it runs: it was made direct where that applied
  const runs = a.direct ? 'direct' : 'relayed';
  if (s.mode !== 'auto' && s.mode !== runs) return `declared ${s.mode}, runs ${runs}`;
  for (const spec of s.set) {
    const { subkey, value } = parseSet(spec);
    if (!sameValue(value, a.values[valueKey(subkey, value.name)])) return `${subkey ? `${subkey}\\` : ''}${value.name} differs`;
  }
  // A dependency now declared shared but duplicated (anywhere in its chain in the VM).
  const chain = dependencyChain(a, inVm);
  for (const sh of s.share) if (chain.some((c) => lower(c.scmName) === lower(`${sh}@${vm}`))) return `${sh} is declared shared but is duplicated`;
  return undefined;
}

/** The duplicates `a` depends on in its VM, transitively. */
function dependencyChain(a: ActualDuplicate, inVm: ActualDuplicate[]): ActualDuplicate[] {
  const out: ActualDuplicate[] = [];
  const seen = new Set<string>();
  const visit = (d: ActualDuplicate): void => {
    for (const n of d.dependOnService) {
      const dep = inVm.find((o) => lower(o.scmName) === lower(n));
      if (!dep || seen.has(lower(dep.scmName))) continue;
      seen.add(lower(dep.scmName));
      out.push(dep);
      visit(dep);
    }
  };
  visit(a);
  return out;
}

/** Declared services ordered dependencies first, by the host's DependOnService (transitively). */
export function startOrder(services: DeclaredService[], hostDeps: Record<string, string[]>): DeclaredService[] {
  const byName = new Map(services.map((s) => [lower(s.name), s]));
  const out: DeclaredService[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    const k = lower(name);
    if (seen.has(k)) return;
    seen.add(k);
    for (const d of hostDeps[k] ?? []) visit(d);
    const s = byName.get(k);
    if (s) out.push(s);
  };
  for (const s of services) visit(s.name);
  return out;
}

/** Removals in one VM ordered so that no duplicate goes before one that depends on it. */
function dependentsFirst(remove: ActualDuplicate[]): ActualDuplicate[] {
  const out: ActualDuplicate[] = [];
  let left = [...remove];
  while (left.length) {
    const needed = new Set(left.flatMap((d) => d.dependOnService.map(lower)));
    const leaves = left.filter((d) => !needed.has(lower(d.scmName)));
    const take = leaves.length ? leaves : left;
    out.push(...take);
    left = left.filter((d) => !take.includes(d));
  }
  return out;
}

/**
 * The changes, in the order to apply them: removals (VMs gone from the file or that differ,
 * duplicates no longer declared), then creations, then starts (dependencies first). An empty
 * list means the host already matches the file.
 */
export function planFleet(declared: Fleet, actual: FleetActual): FleetChange[] {
  const removals: FleetChange[] = [];
  const creations: FleetChange[] = [];
  const starts: FleetChange[] = [];
  const actualVm = new Map(actual.vms.map((v) => [v.name, v]));
  const declaredNames = new Set(declared.vms.map((v) => v.name));

  for (const name of actual.owned) {
    if (!declaredNames.has(name) && actualVm.has(name)) removals.push({ op: 'vm.rm', vm: name, why: 'no longer in the file' });
  }

  for (const d of declared.vms) {
    let a = actualVm.get(d.name);
    const diff = a && vmDifference(d, a, actual.policies[d.name] ?? '');
    if (a && diff) {
      removals.push({ op: 'vm.rm', vm: d.name, why: `${diff}: re-created` });
      a = undefined;
    }
    if (!a) {
      creations.push({
        op: 'vm.create',
        vm: d.name,
        ...(d.ip ? { ip: d.ip } : {}),
        ...(d.ports ? { ports: d.ports } : {}),
        ...(d.policyFile ? { policyFile: d.policyFile } : {}),
        ...(d.limits ? { limits: d.limits } : {}),
        why: 'declared',
      });
    }
    const have = a?.duplicates ?? [];
    const find = (service: string) => have.find((x) => lower(x.service) === lower(service));
    const ordered = startOrder(d.services, actual.hostDeps);
    const redup = new Set<string>();
    const undups: ActualDuplicate[] = [];
    for (const s of ordered) {
      const x = find(s.name);
      const why = x && dupDifference(d.name, s, x, have);
      if (x && why) {
        redup.add(lower(s.name));
        undups.push(x);
        creations.push({
          op: 'dup',
          vm: d.name,
          service: s.name,
          set: s.set,
          share: s.share,
          ...(s.mode !== 'auto' ? { mode: s.mode } : {}),
          why: `${why}: re-duplicated`,
        });
      } else if (!x) {
        creations.push({ op: 'dup', vm: d.name, service: s.name, set: s.set, share: s.share, ...(s.mode !== 'auto' ? { mode: s.mode } : {}), why: 'declared' });
      }
      if (!x || redup.has(lower(s.name)) || x.state !== 'RUNNING') {
        starts.push({ op: 'start', vm: d.name, service: s.name, why: x && !redup.has(lower(s.name)) ? `${x.state ?? 'unknown state'}` : 'new' });
      }
    }
    if (a) {
      // Duplicates the declared ones need (their duplicated dependencies) stay; the rest go.
      const keep = new Set<string>();
      for (const s of d.services) {
        const x = find(s.name);
        if (!x || redup.has(lower(s.name))) continue;
        keep.add(lower(x.scmName));
        for (const c of dependencyChain(x, have)) keep.add(lower(c.scmName));
      }
      for (const x of have) if (!keep.has(lower(x.scmName)) && !redup.has(lower(x.service))) undups.push(x);
      for (const x of dependentsFirst(undups)) {
        removals.push({ op: 'undup', vm: d.name, service: x.service, why: redup.has(lower(x.service)) ? 'differs' : 'not declared' });
      }
    }
  }
  return [...removals, ...creations, ...starts];
}

/** One line per change, for the terminal and --dry-run. */
export function describeChange(c: FleetChange): string {
  switch (c.op) {
    case 'vm.rm':
      return `remove VM ${c.vm} (${c.why})`;
    case 'vm.create':
      return `create VM ${c.vm}${c.ip ? ` at ${c.ip}` : ''}${c.ports ? ` ports ${c.ports}` : ''}${c.policyFile ? ` policy ${c.policyFile}` : ''}`;
    case 'undup':
      return `undup ${c.service}@${c.vm} (${c.why})`;
    case 'dup':
      return `dup ${c.service}@${c.vm}${c.mode ? ` --${c.mode}` : ''} (${c.why})`;
    case 'start':
      return `start ${c.service}@${c.vm} (${c.why})`;
  }
}
