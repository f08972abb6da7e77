// The duplication plan: from the host's service configurations to what `dup` registers.
// Pure: the same inputs always give the same plan, and nothing here touches the host.
import type { ServiceConfig } from '../backend/types.js';
import { dependencyClosure, PlanError, type ClosureEntry } from './closure.js';
import { duplicateDisplayName, duplicateServiceName, privateSvchostGroup } from './names.js';

export interface PlannedService {
  /** the host service it duplicates */
  service: string;
  /** its name in the host SCM: SERVICE@VM */
  scmName: string;
  displayName: string;
  /** svcdup-host's command line: the duplicate's ImagePath */
  imagePath: string;
  /** duplicates of duplicated dependencies, host names of shared ones */
  dependOnService: string[];
  /** the original configuration, kept for the VM's copy of the Services key */
  original: ServiceConfig;
  svchost?: { group: string; privateGroup: string };
  reason: string;
}

export interface DuplicationPlan {
  vm: string;
  root: string;
  /** start order: dependencies first, the requested service last */
  services: PlannedService[];
  /** dependencies left to the host's instance */
  shared: ClosureEntry[];
  /** VM-private svchost groups: name -> members (host service names) */
  svchostGroups: Record<string, string[]>;
}

export interface PlanInput {
  service: string;
  vm: string;
  configs: readonly ServiceConfig[];
  share?: readonly string[];
  /** the Windows path of svcdup-host.exe */
  hostExe: string;
  /** services already duplicated into this VM: not planned again, only depended on */
  existing?: readonly string[];
}

const quote = (s: string): string => (/[\s"]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s);

export function planDuplicate(input: PlanInput): DuplicationPlan {
  const closure = dependencyClosure(input.service, input.configs, input.share);
  const byName = new Map(input.configs.map((c) => [c.name.toLowerCase(), c]));
  const existing = new Set((input.existing ?? []).map((s) => s.toLowerCase()));
  if (existing.has(closure.root.toLowerCase())) throw new PlanError(`${closure.root} is already duplicated into ${input.vm}`);
  const action = new Map(closure.order.map((e) => [e.name.toLowerCase(), e.action]));

  const services: PlannedService[] = [];
  const svchostGroups: Record<string, string[]> = {};
  for (const e of closure.order) {
    if (e.action !== 'duplicate' || existing.has(e.name.toLowerCase())) continue;
    const cfg = byName.get(e.name.toLowerCase())!;
    const scmName = duplicateServiceName(cfg.name, input.vm);
    const p: PlannedService = {
      service: cfg.name,
      scmName,
      displayName: duplicateDisplayName(cfg.displayName, input.vm),
      imagePath: [quote(input.hostExe), '--vm', quote(input.vm), '--service', quote(cfg.name)].join(' '),
      dependOnService: e.dependsOn.map((d) => (action.get(d.toLowerCase()) === 'duplicate' ? duplicateServiceName(byName.get(d.toLowerCase())!.name, input.vm) : d)),
      original: cfg,
      reason: e.reason,
    };
    if (cfg.svchostGroup) {
      const privateGroup = privateSvchostGroup(cfg.svchostGroup, input.vm);
      p.svchost = { group: cfg.svchostGroup, privateGroup };
      (svchostGroups[privateGroup] ??= []).push(cfg.name);
    }
    services.push(p);
  }
  return { vm: input.vm, root: closure.root, services, shared: closure.order.filter((e) => e.action === 'share'), svchostGroups };
}
