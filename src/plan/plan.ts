// The duplication plan: from the host's service configurations to the full list of steps
// `dup` applies (src/plan/steps.ts), in one journaled operation. Pure: the same inputs
// always give the same plan, and nothing here touches the host.
import type { RegTree, RegValue, ServiceConfig, ServiceCreate } from '../backend/types.js';
import { dependencyClosure, PlanError, type ClosureEntry } from './closure.js';
import { SERVICES_KEY, SVCDUP_KEY, serviceKey, vmKey, vmServiceKey } from './keys.js';
import { duplicateDisplayName, duplicateServiceName, hostArgumentProblem, serviceNameProblem, vmNameProblem } from './names.js';
import type { DirectImageArgs, Step } from './steps.js';
import { composeVmRules, type VmRules } from './system.js';
import { imageOf } from './image.js';

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
  /** a ServiceDll service: its duplicate runs `svchost -k GROUP` in the VM (on Wine each svchost is its own process) */
  svchost?: { group: string };
  /** `--direct`: the SCM starts a copy of the image that loads the hook itself (src/plan/direct.ts), no svcdup-host */
  direct?: DirectImageArgs;
  reason: string;
}

export interface DuplicationPlan {
  vm: string;
  root: string;
  /** start order: dependencies first, the requested service last */
  services: PlannedService[];
  /** dependencies left to the host's instance */
  shared: ClosureEntry[];
  /** every change to the host, in order: `dup` runs them as one journaled operation */
  steps: Step[];
  /** folders the services are known to write that are not snapshotted, and why (set by the caller) */
  notSnapshotted?: { folder: string; reason: string }[];
  /** why the root is relayed though no mode was asked for: what keeps direct from applying (set by the caller) */
  relayedBecause?: string;
}

/** How a duplicate runs: the SCM starts a hooked copy of the image (direct) or svcdup-host, which relays (relayed). */
export type DuplicateMode = 'direct' | 'relayed';

export const duplicateMode = (p: Pick<PlannedService, 'direct'>): DuplicateMode => (p.direct ? 'direct' : 'relayed');

/** A `--set` edit of the root's copy: a value under the copy key (subkey '' for the key itself). */
export interface KeyEdit {
  subkey: string;
  value: RegValue;
}

/** What the VM's Policy value is made of (the VM's duplicates before this plan), and what it holds now. */
export interface VmPolicyInput extends Omit<VmRules, 'vm'> {
  /** the Policy value now in the VM key, if any */
  current?: RegValue;
}

export interface PlanInput {
  service: string;
  vm: string;
  configs: readonly ServiceConfig[];
  share?: readonly string[];
  /** the Windows path of svcdup-host.exe */
  hostExe: string;
  /** `--restricted-token`: svcdup-host runs each planned image with a restricted token (docs/dup.md) */
  restrictedToken?: boolean;
  /** `--direct`: the Windows path of svcdup-hook.dll, which the root's direct copy imports (docs/dup.md, "Direct duplicates") */
  direct?: { hookDll: string };
  /** services already duplicated into this VM: not planned again, only depended on */
  existing?: readonly string[];
  /** `--set` edits of the root's copy */
  edits?: readonly KeyEdit[];
  /** every name in the host SCM: a planned name already there is refused (its undo would delete what is not ours) */
  scmNames?: readonly string[];
  /** given: the plan ends with the VM's new Policy value, when it changes */
  policy?: VmPolicyInput;
  /**
   * Host folders to copy into the VM's file area (snapshotFolders of the planned services,
   * as the caller found them on the host: existing, not yet in the area, not too large).
   */
  snapshots?: readonly { folder: string; to: string; bytes: number }[];
}

const SERVICE_WIN32_SHARE_PROCESS = 0x20;

const quote = (s: string): string => (/[\s"]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s);

/**
 * A relayed duplicate's ImagePath, the one writer of svcdup-host's command line: the VM and
 * service names are checked by svcdup-host's own rules (they are never quoted into syntax),
 * the executable's path is quoted.
 */
export function hostCommandLine(hostExe: string, vm: string, service: string, restrictedToken = false): string {
  const problem = vmNameProblem(vm) ?? hostArgumentProblem(service);
  if (problem) throw new PlanError(`${vmNameProblem(vm) ? `VM name "${vm}"` : `service name ${JSON.stringify(service)}`} cannot go to svcdup-host: ${problem}`);
  if (/["\x00-\x1f]/.test(hostExe)) throw new PlanError(`svcdup-host's path ${JSON.stringify(hostExe)} cannot be quoted on a command line`);
  return [quote(hostExe), '--vm', vm, '--service', quote(service), ...(restrictedToken ? ['--restricted-token'] : [])].join(' ');
}

/**
 * A direct duplicate's image: a copy beside the original (so that the DLLs and files the
 * image finds next to itself are found), named IMAGE@VM.exe, and the command line that runs
 * it with the original's arguments.
 */
export function directCopy(cfg: ServiceConfig, vm: string, scmName: string, hookDll: string): { args: DirectImageArgs; imagePath: string } {
  if (cfg.svchostGroup || cfg.serviceDll) throw new PlanError(`${cfg.name} runs in svchost (ServiceDll): --direct copies an executable of the service's own`);
  // A shared process's dispatcher has several entries, and Wine's dispatcher finds the one
  // the SCM names (SERVICE@VM, which is none of them) only in a one-entry table.
  if (cfg.type & SERVICE_WIN32_SHARE_PROCESS)
    throw new PlanError(`${cfg.name} is a shared-process service (type 0x${cfg.type.toString(16)}): --direct runs an own-process service's image`);
  const cmd = cfg.imagePath.trim();
  const image = imageOf(cmd);
  if (!/\.exe$/i.test(image) || !/^(?:[A-Za-z]:\\|%[A-Za-z]+%\\|\\SystemRoot\\)/.test(image))
    throw new PlanError(`${cfg.name}: --direct needs a full path to an .exe in its ImagePath (it is ${JSON.stringify(cfg.imagePath)})`);
  const rest = cmd.slice(cmd.startsWith('"') ? image.length + 2 : image.length);
  const copy = `${image.slice(0, -4)}@${vm}.exe`;
  return { args: { vm, scmName, image, copy, hookDll }, imagePath: `${quote(copy)}${rest}` };
}

export function planDuplicate(input: PlanInput): DuplicationPlan {
  for (const name of [input.service, ...(input.share ?? [])]) {
    const problem = serviceNameProblem(name);
    if (problem) throw new PlanError(`service name "${name}" cannot be duplicated: ${problem}`);
  }
  const closure = dependencyClosure(input.service, input.configs, input.share);
  const byName = new Map(input.configs.map((c) => [c.name.toLowerCase(), c]));
  const existing = new Set((input.existing ?? []).map((s) => s.toLowerCase()));
  if (existing.has(closure.root.toLowerCase())) throw new PlanError(`${closure.root} is already duplicated into ${input.vm}`);
  const action = new Map(closure.order.map((e) => [e.name.toLowerCase(), e.action]));

  const services: PlannedService[] = [];
  for (const e of closure.order) {
    if (e.action !== 'duplicate' || existing.has(e.name.toLowerCase())) continue;
    const cfg = byName.get(e.name.toLowerCase())!;
    const scmName = duplicateServiceName(cfg.name, input.vm);
    const p: PlannedService = {
      service: cfg.name,
      scmName,
      displayName: duplicateDisplayName(cfg.displayName, input.vm),
      imagePath: hostCommandLine(input.hostExe, input.vm, cfg.name, input.restrictedToken),
      dependOnService: e.dependsOn.map((d) =>
        action.get(d.toLowerCase()) === 'duplicate' ? duplicateServiceName(byName.get(d.toLowerCase())!.name, input.vm) : d,
      ),
      original: cfg,
      reason: e.reason,
    };
    if (cfg.svchostGroup) p.svchost = { group: cfg.svchostGroup };
    // --direct is for the service named; the dependencies it duplicates run under svcdup-host
    if (input.direct && cfg.name.toLowerCase() === closure.root.toLowerCase()) {
      if (input.restrictedToken)
        throw new PlanError("--direct and --restricted-token do not go together: the SCM starts a direct image with the account's own token");
      const d = directCopy(cfg, input.vm, scmName, input.direct.hookDll);
      p.direct = d.args;
      p.imagePath = d.imagePath;
    }
    services.push(p);
  }
  const taken = new Set((input.scmNames ?? []).map((n) => n.toLowerCase()));
  const clash = services.find((p) => taken.has(p.scmName.toLowerCase()));
  if (clash) throw new PlanError(`${clash.scmName} already exists in the host SCM (created by a process in VM ${input.vm}? see svcdup status)`);

  const root = services.find((p) => p.service.toLowerCase() === closure.root.toLowerCase());
  const steps: Step[] = [];
  // First the snapshots, so that no duplicate can start before its data is in place.
  for (const f of input.snapshots ?? []) steps.push({ kind: 'files.snapshot', args: { vm: input.vm, ...f } });
  // Batch 0: everything that does not need anything else of the plan. The copies and SCM
  // registrations are independent of one another (the SCM does not check dependencies when
  // a service is created, svcdup-host reads the copy only when the duplicate starts).
  for (const p of services) {
    if (p.direct) steps.push({ kind: 'files.directImage', args: p.direct, batch: 0 });
    steps.push({ kind: 'reg.copy', args: { from: serviceKey(p.service), to: vmServiceKey(input.vm, p.service), root: SVCDUP_KEY }, batch: 0 });
    steps.push({ kind: 'scm.create', args: serviceCreate(p), batch: 0 });
    steps.push({ kind: 'db.duplicate', args: { vm: input.vm, service: p.service, scmName: p.scmName, plan: p }, batch: 0 });
  }
  // The VM's Policy value (read by svcdup-host and direct images when a duplicate starts)
  // with what the new duplicates need: independent of the copies and registrations too.
  if (input.policy) {
    const data = composeVmRules({ ...input.policy, vm: input.vm, duplicates: [...input.policy.duplicates, ...services] });
    const step = policyStep(input.vm, data, input.policy.current);
    if (step) steps.push({ ...step, batch: 0 });
  }
  // Last, the --set edits, into the root's copy once it exists.
  if (root) {
    const copy = vmServiceKey(input.vm, root.service);
    if (root.direct && (input.edits ?? []).some((e) => !e.subkey && e.value.name.toLowerCase() === 'imagepath'))
      throw new PlanError('--set ImagePath with --direct: a direct duplicate runs the copy of the image named when it was made');
    for (const e of input.edits ?? [])
      steps.push({ kind: 'reg.setValue', args: { key: `${copy}${e.subkey ? `\\${e.subkey}` : ''}`, value: e.value }, batch: 1 });
  }
  return { vm: input.vm, root: closure.root, services, shared: closure.order.filter((e) => e.action === 'share'), steps };
}

/** The step that sets the VM's Policy value to `data`, keeping what was there for the undo; none when unchanged. */
export function policyStep(vm: string, data: string, current?: RegValue): Step | undefined {
  if (current?.type === 'REG_SZ' && current.data === data) return undefined;
  return { kind: 'reg.setValue', args: { key: vmKey(vm), value: { name: 'Policy', type: 'REG_SZ', data }, ...(current ? { previous: current } : {}) } };
}

/** How a planned duplicate is registered with the SCM. */
export function serviceCreate(p: PlannedService): ServiceCreate {
  return {
    name: p.scmName,
    displayName: p.displayName,
    imagePath: p.imagePath,
    type: 0x10,
    // The original's start type: AUTO duplicates start with the host's SCM (BOOT/SYSTEM are for drivers only).
    start: p.original.start === 'BOOT' || p.original.start === 'SYSTEM' ? 'AUTO' : p.original.start,
    errorControl: p.original.errorControl,
    account: p.original.account || 'LocalSystem',
    dependOnService: p.dependOnService,
    description: `svcdup duplicate of ${p.service}`,
  };
}

export { SERVICES_KEY };

/** A recorded duplicate, as undup needs it. */
export interface DuplicateRef {
  vm: string;
  service: string;
  scmName: string;
  createdAt: string;
  plan: PlannedService;
}

/**
 * The steps that remove duplicates of one VM (in the order given: dependents first) and,
 * when `policy` is given, set the VM's Policy value to what is left. `trees` holds each
 * copy key's export (what the undo writes back), by service name in lowercase.
 */
export function planUndup(vm: string, dups: readonly DuplicateRef[], trees: ReadonlyMap<string, RegTree>, policy?: VmPolicyInput): Step[] {
  const steps: Step[] = [];
  for (const d of dups) {
    steps.push({ kind: 'scm.delete', args: serviceCreate(d.plan) });
    if (d.plan.direct) steps.push({ kind: 'files.removeDirectImage', args: d.plan.direct });
    steps.push({
      kind: 'reg.deleteTree',
      args: { key: vmServiceKey(vm, d.service), tree: trees.get(d.service.toLowerCase()) ?? { name: d.service, values: [], subkeys: [] } },
    });
    steps.push({ kind: 'db.forgetDuplicate', args: { vm: d.vm, service: d.service, scmName: d.scmName, createdAt: d.createdAt, plan: d.plan } });
  }
  if (policy) {
    const gone = new Set(dups.map((d) => d.service.toLowerCase()));
    const data = composeVmRules({ ...policy, vm, duplicates: policy.duplicates.filter((d) => !gone.has(d.service.toLowerCase())) });
    const step = policyStep(vm, data, policy.current);
    if (step) steps.push(step);
  }
  return steps;
}
