// dup, undup, start, stop, status: duplicates as real services in the host SCM.
// The planner (src/plan/plan.ts) makes the whole list of host changes; this runs it as one
// journaled operation (src/state/journal.ts, step kinds in steps.ts), so a failure or a
// kill leaves either the complete closure of duplicates or none of it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedBackend } from '../backend/index.js';
import type { RegTree, RegValue, ServiceConfig, ServiceCreate, ServiceStatus } from '../backend/types.js';
import { AgentError, SvcdupError, UsageError, Win32 } from '../errors.js';
import { PlanError } from '../plan/closure.js';
import { SERVICES_KEY, SVCDUP_KEY, vmKey, vmServiceKey, vmServicesKey } from '../plan/keys.js';
import { isDuplicateName, parseDuplicateName, serviceNameProblem } from '../plan/names.js';
import {
  duplicateMode,
  planDuplicate,
  planUndup,
  type DuplicateMode,
  type DuplicateRef,
  type DuplicationPlan,
  type PlanInput,
  type PlannedService,
  type VmPolicyInput,
} from '../plan/plan.js';
import type { Step } from '../plan/steps.js';
import { composeVmRules, rulesSizeProblem } from '../plan/system.js';
import type { Db } from '../state/db.js';
import { listDuplicates } from '../state/duplicates.js';
import { getVm, listVms } from '../state/vms.js';
import { portMapFromRecord } from '../net/index.js';
import { Journal } from '../state/journal.js';
import { dupSteps, stopAndWait, type StepContext } from './steps.js';
import { pruneEmptyKeys } from '../backend/registry.js';
import { mapLimit, START_CONCURRENCY } from './limit.js';
import { fileAliasRules, fileAreaWin, SVCDUP_STATE_WIN, WHITEOUT_PREFIX } from '../vm/files.js';
import { canonicalFolder, driveAliases, snapshotRefusal } from '../plan/snapshot-limits.js';
import { vmRulesOf, writeRulesFile } from '../vm/rules.js';
import { dbVmStore } from '../vm/store.js';
import { outermostFolders, snapshotFolders } from '../plan/snapshot.js';
import { configFoldersOf, serviceConfigFiles } from '../analyze/configfiles.js';
import { serviceKey } from '../plan/keys.js';
import { treeBytes } from '../backend/folders.js';
import { directImage } from '../plan/direct.js';
import { parseSet } from '../plan/edits.js';
import { dupRefusalFor } from '../analyze/service.js';
import { stoppedWithError, whyStopped } from './why.js';
import { asObserved, goneProcesses } from './liveness.js';

/** A folder larger than this is not snapshotted at dup time (copied up lazily instead): docs/state.md "No torn views". */
export const SNAPSHOT_MAX_BYTES = 1024 * 1048576;

// The registry keys, from their one place (src/plan/keys.ts), for the callers that import them from here.
export { SERVICES_KEY, SVCDUP_KEY, vmKey, vmServiceKey };
export { parseSet };
export { duplicateMode, type DuplicateMode };

export interface DuplicateRecord {
  vm: string;
  service: string;
  scmName: string;
  createdAt: string;
  plan: PlannedService;
}

export interface DuplicateStatus extends DuplicateRecord {
  mode: DuplicateMode;
  status?: ServiceStatus;
  error?: string;
  /** a duplicate stopped with an error: why, where svcdup can tell (src/dup/why.ts; status with `explain`) */
  why?: string[];
  /** shown STOPPED though the SCM says RUNNING: why (its process is gone) */
  stoppedBecause?: string;
}

/** A service a VM process made with CreateService (native/hook/scmclient.c): known only to the SCM and its copy key. */
export interface CreatedInVm {
  vm: string;
  service: string;
  scmName: string;
  imagePath: string;
  status: ServiceStatus;
}

/** Winsock's "address in use", as a service reports a failed bind. */
const WSAEADDRINUSE = 10048;

/** The value scmclient.c marks the copy key of a service created in a VM with. */
const CREATED_MARK = 'svcdup.CreatedInVm';

export interface DupOptions {
  share?: string[];
  /** Parameters edits for the VM's copy: `Parameters\Name=Value` (REG_SZ), relative to the service key */
  set?: string[];
  start?: boolean;
  startArgs?: string[];
  /** plan only: return the plan (with its steps) and change nothing */
  dryRun?: boolean;
  /** run the images with a restricted token (every privilege but SeChangeNotify removed) */
  restrictedToken?: boolean;
  /** the SCM starts a copy of the service's image that loads the hook itself: no svcdup-host (docs/dup.md, "Direct duplicates") */
  direct?: boolean;
  /** register it even when the analyzer says it cannot run or cannot be duplicated (dupRefusalFor) */
  force?: boolean;
  /** direct where it applies (the default), or one mode forced (`direct` is `mode: 'direct'`) */
  mode?: DupMode;
}

/** `auto`: direct where it applies, relayed otherwise (docs/dup.md, "Which mode"). */
export type DupMode = 'auto' | DuplicateMode;

const modeOf = (o: { mode?: DupMode; direct?: boolean }): DupMode => o.mode ?? (o.direct ? 'direct' : 'auto');

/** A duplicate to start, for startMany. */
export interface StartTarget {
  service: string;
  vm: string;
  args?: string[];
}

/**
 * StartService failures after which nothing runs, so the start is asked again (until the
 * deadline): the database locked by another start (Wine's SCM starts one at a time); a
 * handle the SCM did not know though the request had just opened it (src/backend/agent.ts,
 * SCM_LOST_HANDLE); the SCM's CreateProcess of svcdup-host dying in Wine's own process
 * start-up (ERROR_INTERNAL_ERROR).
 */
const START_AGAIN: ReadonlySet<number> = new Set([Win32.ERROR_SERVICE_DATABASE_LOCKED, Win32.ERROR_INVALID_HANDLE, Win32.ERROR_INTERNAL_ERROR]);

export class Duplicates {
  readonly journal: Journal<StepContext>;
  private readonly ctx: StepContext;
  /** scm.start calls one at a time (see ensureRunning); the rest of a start runs in parallel. */
  private startGate: Promise<unknown> = Promise.resolve();

  constructor(
    readonly backend: ManagedBackend,
    readonly db: Db,
  ) {
    this.ctx = { backend, db };
    this.journal = new Journal(db, dupSteps);
  }

  /** Finish what an interrupted svcdup left: every command calls this first. */
  async recover(): ReturnType<Journal<StepContext>['recover']> {
    if (!this.journal.pending()) return { rolledBack: [], failed: [] };
    return this.journal.recover(this.ctx);
  }

  /** Apply planned steps to the host as one journaled operation: all of them or none. */
  async apply(op: string, target: string, steps: readonly Step[]): Promise<void> {
    await this.journal.runSteps(op, target, this.ctx, steps);
  }

  list(vm?: string): DuplicateRecord[] {
    return listDuplicates(this.db, vm) as DuplicateRecord[];
  }

  get(vm: string, service: string): DuplicateRecord | undefined {
    return this.list(vm).find((d) => d.service.toLowerCase() === service.toLowerCase());
  }

  /** `explain`: a duplicate stopped with an error gets why (an analysis each: only when asked). */
  async status(vm?: string, opts: { explain?: boolean } = {}): Promise<DuplicateStatus[]> {
    const list = await Promise.all(
      this.list(vm).map(async (d): Promise<DuplicateStatus> => {
        let status: ServiceStatus;
        try {
          status = await this.backend.call('scm.status', { name: d.scmName });
        } catch (err) {
          return { ...d, mode: duplicateMode(d.plan), error: (err as Error).message };
        }
        const why = opts.explain && stoppedWithError(status) ? await this.whyStopped(d) : [];
        return { ...d, mode: duplicateMode(d.plan), status, ...(why.length ? { why } : {}) };
      }),
    );
    // RUNNING with a pid that no longer runs is STOPPED, with the reason (src/dup/liveness.ts)
    const gone = await goneProcesses(
      this.backend,
      list.map((d) => ({ ...(d.status ? { status: d.status } : {}), direct: !!d.plan.direct })),
    );
    return list.map((d, i) => (gone[i] && d.status ? { ...d, status: asObserved(d.status, gone[i]), stoppedBecause: gone[i]!.reason } : d));
  }

  /** Why a duplicate stopped while starting, where svcdup can tell (src/dup/why.ts). */
  async whyStopped(d: DuplicateRecord): Promise<string[]> {
    const r = getVm(this.db, d.vm);
    return whyStopped(this.backend, d, { ...(r?.address ? { address: r.address } : {}), portMap: r ? portMapFromRecord(r.portMap) : [] });
  }

  /** Services that processes in the VMs created themselves (all VMs, or one). */
  async createdInVm(vm?: string): Promise<CreatedInVm[]> {
    const vms = new Set((vm ? [vm] : listVms(this.db).map((v) => v.name)).map((n) => n.toLowerCase()));
    const known = new Set(this.list().map((d) => d.scmName.toLowerCase()));
    const out: CreatedInVm[] = [];
    for (const s of await this.backend.call('scm.list', {})) {
      const parsed = parseDuplicateName(s.name);
      if (!parsed || known.has(s.name.toLowerCase()) || !vms.has(parsed.vm.toLowerCase())) continue;
      const { vm: v, service } = parsed;
      try {
        await this.backend.call('reg.get', { key: vmServiceKey(v, service), name: CREATED_MARK });
        const image = await this.backend.call('reg.get', { key: vmServiceKey(v, service), name: 'ImagePath' });
        out.push({ vm: v, service, scmName: s.name, imagePath: typeof image.data === 'string' ? image.data : '', status: s });
      } catch (err) {
        if (!(err instanceof AgentError && err.code === Win32.ERROR_FILE_NOT_FOUND)) throw err;
      }
    }
    return out.sort((a, b) => a.scmName.localeCompare(b.scmName));
  }

  /**
   * The whole plan of `dup SERVICE --vm VM`: the duplicates and every step that registers
   * them. Pure apart from reading the host (service configurations, SCM names, the VM's
   * Policy value); nothing is changed.
   */
  async plan(
    service: string,
    vm: string,
    share: string[] = [],
    opts: { set?: string[]; restrictedToken?: boolean; direct?: boolean; mode?: DupMode; force?: boolean } = {},
  ): Promise<DuplicationPlan> {
    const mode = modeOf(opts);
    for (const name of [service, ...share]) {
      const problem = serviceNameProblem(name);
      if (problem) throw new UsageError(`service name "${name}" cannot be duplicated: ${problem}`);
    }
    const edits = (opts.set ?? []).map(parseSet);
    const record = getVm(this.db, vm);
    // the analyzer's verdict, here so that every caller (CLI, fleet, dashboard, library) refuses
    // alike; asked beside the reads below, and seen before anything is planned
    const refusal = opts.force ? Promise.resolve(undefined) : dupRefusalFor(this.backend, service, share);
    refusal.catch(() => undefined); // awaited below, also when a read fails (nothing left in flight)
    // The root's Parameters (for its snapshots) are read alongside: one round trip less after the closure.
    const rootParams = this.parameters(service);
    rootParams.catch(() => undefined); // awaited (and its error seen) only if the plan gets that far
    const params = new Map([[service.toLowerCase(), rootParams]]);
    // No scm.list for names already taken (it costs as much as the closure of a small
    // service): a taken name fails its scm.create, which the journal leaves alone (atomic).
    const [refused, configs, policy] = await Promise.all([
      refusal,
      this.closureConfigs(service, share),
      record ? this.policyInput(vm) : Promise.resolve(undefined),
    ]).catch(async (err: unknown) => {
      await Promise.allSettled([refusal, rootParams]);
      throw err;
    });
    if (refused) throw new UsageError(refused);
    const hostExe = this.backend.toWindowsPath(join(this.backend.paths.nativeDir, 'svcdup-host.exe'));
    let plan: DuplicationPlan;
    let relayedBecause: string | undefined;
    try {
      let input: PlanInput = {
        service,
        vm,
        configs,
        share,
        hostExe,
        existing: this.list(vm).map((d) => d.service),
        edits,
        ...(policy ? { policy } : {}),
        ...(opts.restrictedToken ? { restrictedToken: true } : {}),
        ...(mode !== 'relayed' ? { direct: { hookDll: this.backend.toWindowsPath(join(this.backend.paths.nativeDir, 'svcdup-hook.dll')) } } : {}),
      };
      const relayed = (why: string): void => {
        relayedBecause = why.replace(/--direct/g, 'direct');
        const { direct: _, ...rest } = input;
        input = rest;
      };
      // auto: direct unless one of its limits applies (the planner's refusals of --direct, then the image's own)
      if (mode === 'auto' && opts.restrictedToken) relayed("--restricted-token (the SCM starts a direct image with the account's own token)");
      try {
        plan = planDuplicate(input);
      } catch (err) {
        if (!(mode === 'auto' && input.direct && err instanceof PlanError)) throw err;
        relayed(err.message);
        plan = planDuplicate(input);
      }
      // a direct copy is checked now, so that --dry-run and a refusal say why before anything is written
      for (const p of plan.services) {
        if (!p.direct) continue;
        try {
          await this.checkDirect(p.service, p.direct);
        } catch (err) {
          if (!(mode === 'auto' && err instanceof UsageError)) throw err;
          relayed(err.message);
          plan = planDuplicate(input);
        }
      }
      // Second pass, with the folders of the planned services as found on the host.
      const found = await this.snapshotsFor(vm, plan.services, params);
      if (found.snapshots.length) plan = planDuplicate({ ...input, snapshots: found.snapshots });
      if (found.skipped.length) plan.notSnapshotted = found.skipped;
      if (relayedBecause) plan.relayedBecause = relayedBecause;
    } catch (err) {
      if (err instanceof PlanError || err instanceof RangeError) throw new UsageError(err.message);
      throw err;
    }
    const policyValue = plan.steps.find((s) => s.kind === 'reg.setValue' && s.args.value.name === 'Policy' && s.args.key === vmKey(vm));
    const tooLarge =
      policyValue?.kind === 'reg.setValue' && typeof policyValue.args.value.data === 'string' ? rulesSizeProblem(policyValue.args.value.data) : undefined;
    if (tooLarge) throw new UsageError(`VM ${vm}: ${tooLarge}`);
    return plan;
  }

  /** A service's Parameters values on the host (none when it has no Parameters key). */
  private async parameters(service: string): Promise<RegValue[]> {
    try {
      return (await this.backend.call('reg.query', { key: `${serviceKey(service)}\\Parameters` })).values;
    } catch (err) {
      if (err instanceof AgentError && err.code === Win32.ERROR_FILE_NOT_FOUND) return [];
      throw err;
    }
  }

  private async checkDirect(service: string, d: NonNullable<PlannedService['direct']>): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = await this.backend.readFile(d.image);
    } catch (err) {
      throw new UsageError(`${service}: cannot read its image ${d.image} for --direct: ${(err as Error).message}`);
    }
    try {
      directImage(bytes, d.hookDll, { vm: d.vm, scmName: d.scmName });
    } catch (err) {
      if (err instanceof SvcdupError) throw new UsageError(`${service}: no direct copy of ${d.image}: ${err.message}`);
      throw err;
    }
    if (existsSync(this.backend.toHostPath(d.copy))) throw new UsageError(`${service}: ${d.copy} exists already (not svcdup's to overwrite)`);
  }

  /**
   * The folders to snapshot for these services (snapshotFolders of their configuration and
   * Parameters values), as they are on the host now: a folder that does not exist, that the
   * VM already has (copied, created or deleted in its view) or over SNAPSHOT_MAX_BYTES is left
   * out, the last two with the reason.
   */
  private async snapshotsFor(
    vm: string,
    services: readonly PlannedService[],
    read: Map<string, Promise<RegValue[]>> = new Map(),
  ): Promise<{ snapshots: { folder: string; to: string; bytes: number }[]; skipped: { folder: string; reason: string }[] }> {
    const folders = new Map<string, string>();
    const params = await Promise.all(services.map((p) => read.get(p.service.toLowerCase()) ?? this.parameters(p.service)));
    // one folder spelled two ways is one folder, spelled with its drive letter (snapshot-limits.ts)
    const aliases = driveAliases(fileAliasRules(this.backend));
    // the configuration files as analyze reads them (one list: src/analyze/configfiles.ts)
    const configs = await Promise.all(services.map((p, i) => serviceConfigFiles((w) => this.backend.toHostPath(w), p.original.imagePath, params[i]!)));
    services.forEach((p, i) => {
      for (const f of snapshotFolders(p.original, params[i], configFoldersOf(p.original, configs[i]!))) {
        const c = canonicalFolder(f, aliases);
        folders.set(c.toLowerCase(), c);
      }
    });
    const snapshots: { folder: string; to: string; bytes: number }[] = [];
    const skipped: { folder: string; reason: string }[] = [];
    const own = [
      { folder: this.backend.toWindowsPath(this.backend.paths.home), what: "svcdup's home" },
      { folder: SVCDUP_STATE_WIN, what: "svcdup's state folder, with every VM's files" },
    ];
    const allowed: string[] = [];
    for (const f of folders.values()) {
      const why = snapshotRefusal(f, own);
      if (why) skipped.push({ folder: f, reason: why });
      else allowed.push(f);
    }
    // a path on a drive the host does not have is not there
    const hostPath = (win: string): string | undefined => {
      try {
        return this.backend.toHostPath(win);
      } catch {
        return undefined;
      }
    };
    for (const folder of outermostFolders(allowed)) {
      const to = `${fileAreaWin(vm)}\\${folder[0]!.toUpperCase()}${folder.slice(2)}`;
      const leaf = to.slice(to.lastIndexOf('\\') + 1);
      const whiteout = `${to.slice(0, to.lastIndexOf('\\'))}\\${WHITEOUT_PREFIX}${leaf}`;
      if (existsSync(this.backend.toHostPath(to)) || existsSync(this.backend.toHostPath(whiteout))) {
        skipped.push({ folder, reason: 'the VM has its own already' });
        continue;
      }
      const src = hostPath(folder);
      const bytes = src === undefined ? undefined : await treeBytes(src, SNAPSHOT_MAX_BYTES);
      if (bytes === undefined) continue;
      if (bytes > SNAPSHOT_MAX_BYTES) skipped.push({ folder, reason: `over ${SNAPSHOT_MAX_BYTES / 1048576} MB: copied up file by file when the VM writes` });
      else snapshots.push({ folder, to, bytes });
    }
    return { snapshots, skipped };
  }

  /**
   * The configurations the planner needs: the service and what it depends on, read level
   * by level (each a round trip to the SCM, a level's at once); every service only when a DependOnGroup
   * needs group membership. Missing names are left for the planner to report.
   */
  private async closureConfigs(service: string, share: string[]): Promise<ServiceConfig[]> {
    const found = new Map<string, ServiceConfig | null>();
    const get = async (name: string): Promise<ServiceConfig | null> => {
      const key = name.toLowerCase();
      if (!found.has(key)) {
        try {
          found.set(key, await this.backend.call('scm.config', { name }));
        } catch (err) {
          if (!(err instanceof AgentError && err.code === Win32.ERROR_SERVICE_DOES_NOT_EXIST)) throw err;
          found.set(key, null);
        }
      }
      return found.get(key)!;
    };
    // level by level, each level's configurations asked for at once
    let groups = false;
    for (let level = [service, ...share]; level.length; ) {
      const fresh = [...new Map(level.filter((n) => !found.has(n.toLowerCase())).map((n) => [n.toLowerCase(), n])).values()];
      const configs = await Promise.all(fresh.map(get));
      level = [];
      for (const c of configs) {
        if (!c) continue;
        groups ||= c.dependOnGroup.length > 0;
        level.push(...c.dependOnService);
      }
    }
    if (groups) {
      // Duplicates themselves are never members of a host group.
      await Promise.all((await this.backend.call('scm.list', {})).filter((s) => !isDuplicateName(s.name)).map((s) => get(s.name)));
    }
    return [...found.values()].filter((c): c is ServiceConfig => c !== null);
  }

  /** Register every planned duplicate as one operation (all or none), optionally start the root. */
  async dup(service: string, vm: string, opts: DupOptions = {}): Promise<DuplicationPlan> {
    const plan = await this.plan(service, vm, opts.share, {
      ...(opts.set ? { set: opts.set } : {}),
      ...(opts.restrictedToken ? { restrictedToken: true } : {}),
      mode: modeOf(opts),
      ...(opts.force ? { force: true } : {}),
    });
    if (opts.dryRun) return plan;
    await this.apply('dup', `${plan.root}@${vm}`, plan.steps);
    await this.saveRulesFile(vm);
    if (opts.start) await this.start(plan.root, vm, opts.startArgs);
    return plan;
  }

  /** Remove one duplicate (stopping it first); refuses while other duplicates depend on it. */
  async undup(service: string, vm: string): Promise<DuplicateRecord | CreatedInVm> {
    if (!this.get(vm, service)) {
      const created = (await this.createdInVm(vm)).find((c) => c.service.toLowerCase() === service.toLowerCase());
      if (created) return this.removeCreated(created);
    }
    const d = this.require(vm, service);
    const dependents = this.list(vm).filter((o) => o.plan.dependOnService.some((n) => n.toLowerCase() === d.scmName.toLowerCase()));
    if (dependents.length) throw new UsageError(`${d.scmName} is needed by ${dependents.map((o) => o.scmName).join(', ')}: undup those first`);
    const [trees, policy] = await Promise.all([this.copyTrees(vm, [d]), this.policyInput(vm)]);
    await this.apply('undup', d.scmName, planUndup(vm, [d as DuplicateRef], trees, policy));
    await this.saveRulesFile(vm);
    // The VM's Services key and svcdup's own key are removed with their last entry.
    await pruneEmptyKeys(this.backend, vmServicesKey(vm), SVCDUP_KEY);
    return d;
  }

  /** The exports of the VM's copies of these duplicates' keys (what undoing their removal writes back). */
  private async copyTrees(vm: string, dups: readonly DuplicateRecord[]): Promise<Map<string, RegTree>> {
    const out = new Map<string, RegTree>();
    await Promise.all(
      dups.map(async (d) => {
        try {
          out.set(d.service.toLowerCase(), await this.backend.call('reg.export', { key: vmServiceKey(vm, d.service) }));
        } catch (err) {
          if (!(err instanceof AgentError && err.code === Win32.ERROR_FILE_NOT_FOUND)) throw err;
        }
      }),
    );
    return out;
  }

  /** Remove a service a VM process created: its SCM registration and its copy key, journaled. */
  private async removeCreated(c: CreatedInVm): Promise<CreatedInVm> {
    await this.apply('undup', c.scmName, await this.createdRemovalSteps(c));
    await pruneEmptyKeys(this.backend, vmServicesKey(c.vm), SVCDUP_KEY);
    return c;
  }

  private async createdRemovalSteps(c: CreatedInVm): Promise<Step[]> {
    const [cfg, tree] = await Promise.all([
      this.backend.call('scm.config', { name: c.scmName }),
      this.backend.call('reg.export', { key: vmServiceKey(c.vm, c.service) }),
    ]);
    const create: ServiceCreate = {
      name: cfg.name,
      displayName: cfg.displayName,
      imagePath: cfg.imagePath,
      type: cfg.type,
      start: cfg.start,
      errorControl: cfg.errorControl,
      account: cfg.account,
      dependOnService: cfg.dependOnService,
    };
    return [
      { kind: 'scm.delete', args: create },
      { kind: 'reg.deleteTree', args: { key: vmServiceKey(c.vm, c.service), tree } },
    ];
  }

  /** Start a duplicate: its dependencies (shared host services and duplicates in the VM) first, each level at once. */
  async start(service: string, vm: string, args: string[] = []): Promise<ServiceStatus> {
    const [status] = await this.startMany([{ service, vm, args }]);
    return status!;
  }

  /**
   * Start duplicates and everything they depend on, by dependency level: all that have
   * their dependencies running start at once, START_CONCURRENCY at a time (Wine's SCM
   * starts no dependency itself; the agent runs the starts concurrently).
   * Statuses in the order of `targets`.
   */
  async startMany(targets: readonly StartTarget[]): Promise<ServiceStatus[]> {
    const roots = targets.map((t) => this.require(t.vm, t.service));
    const args = new Map(targets.map((t, i) => [roots[i]!.scmName.toLowerCase(), t.args ?? []]));
    const statuses = new Map<string, ServiceStatus>();
    for (const level of await this.startLevels(roots)) {
      const done = await mapLimit(level, START_CONCURRENCY, (n) => this.ensureRunning(n, args.get(n.toLowerCase()) ?? []));
      for (const [i, s] of done.entries()) statuses.set(level[i]!.toLowerCase(), s);
    }
    return roots.map((r) => statuses.get(r.scmName.toLowerCase())!);
  }

  /** Stop a duplicate, after the duplicates in its VM that depend on it. */
  async stop(service: string, vm: string): Promise<ServiceStatus> {
    const d = this.require(vm, service);
    for (const o of this.list(vm)) {
      if (o.plan.dependOnService.some((n) => n.toLowerCase() === d.scmName.toLowerCase())) await this.stop(o.service, vm);
    }
    await stopAndWait(this.backend, d.scmName);
    const s = await this.backend.call('scm.status', { name: d.scmName });
    const [gone] = await goneProcesses(this.backend, [{ status: s, direct: !!d.plan.direct }]);
    return asObserved(s, gone);
  }

  /**
   * The rules every process of the VM runs with (svcdup-host and direct images read them
   * from the VM key, svcdup run from a file): composeVmRules of what the VM is made of now.
   */
  policyText(vm: string): string {
    return composeVmRules(vmRulesOf(dbVmStore(this.db), this.backend, vm));
  }

  /** After the VM's Policy value changed: its rules file holds the same text. */
  private async saveRulesFile(vm: string): Promise<void> {
    if (getVm(this.db, vm)) await writeRulesFile(this.backend.paths.home, vm, this.policyText(vm));
  }

  /** What the planner needs to make the VM's next Policy value, with the value there now. */
  private async policyInput(vm: string): Promise<VmPolicyInput> {
    let current: RegValue | undefined;
    try {
      current = await this.backend.call('reg.get', { key: vmKey(vm), name: 'Policy' });
    } catch (err) {
      if (!(err instanceof AgentError && err.code === Win32.ERROR_FILE_NOT_FOUND)) throw err;
    }
    return { ...vmRulesOf(dbVmStore(this.db), this.backend, vm), ...(current ? { current } : {}) };
  }

  /**
   * Before a VM's processes are ended (vm rm): remove what its processes created and all
   * its duplicates (dependents first), as one journaled operation. Returns the SCM names removed.
   */
  async emptyVm(name: string): Promise<string[]> {
    const created = await this.createdInVm(name);
    const order: DuplicateRecord[] = [];
    for (let left = this.list(name); left.length; ) {
      const needed = new Set(left.flatMap((d) => d.plan.dependOnService.map((n) => n.toLowerCase())));
      const leaves = left.filter((d) => !needed.has(d.scmName.toLowerCase()));
      const next = leaves.length ? leaves : left;
      order.push(...next);
      left = left.filter((d) => !next.includes(d));
    }
    if (!created.length && !order.length) return [];
    const [createdSteps, trees, policy] = await Promise.all([
      Promise.all(created.map((c) => this.createdRemovalSteps(c))),
      this.copyTrees(name, order),
      this.policyInput(name),
    ]);
    await this.apply('vm empty', name, [...createdSteps.flat(), ...planUndup(name, order as DuplicateRef[], trees, policy)]);
    await this.saveRulesFile(name);
    await pruneEmptyKeys(this.backend, vmServicesKey(name), SVCDUP_KEY);
    return [...created.map((c) => c.scmName), ...order.map((d) => d.scmName)];
  }

  private require(vm: string, service: string): DuplicateRecord {
    const d = this.get(vm, service);
    if (!d) throw new UsageError(`${service} is not duplicated into VM ${vm} (see svcdup status)`);
    return d;
  }

  /**
   * What to start for `roots`, in levels: level 0 needs nothing, level k needs only names of
   * lower levels. Duplicates' dependencies come from their plans, shared host services'
   * from the host configuration (asked for a level at a time).
   */
  private async startLevels(roots: readonly DuplicateRecord[]): Promise<string[][]> {
    const dups = new Map(this.list().map((d) => [d.scmName.toLowerCase(), d]));
    const nodes = new Map<string, { name: string; deps: string[] }>();
    for (const r of roots) nodes.set(r.scmName.toLowerCase(), { name: r.scmName, deps: r.plan.dependOnService });
    for (let frontier = roots.flatMap((r) => r.plan.dependOnService); frontier.length; ) {
      const fresh = [...new Map(frontier.filter((n) => !nodes.has(n.toLowerCase())).map((n) => [n.toLowerCase(), n])).values()];
      const found = await Promise.all(
        fresh.map(async (n) => ({
          name: n,
          deps: dups.get(n.toLowerCase())?.plan.dependOnService ?? (await this.backend.call('scm.config', { name: n })).dependOnService,
        })),
      );
      for (const f of found) nodes.set(f.name.toLowerCase(), f);
      frontier = found.flatMap((f) => f.deps);
    }
    const depth = new Map<string, number>();
    const depthOf = (key: string, path: Set<string>): number => {
      const known = depth.get(key);
      if (known !== undefined) return known;
      if (path.has(key)) throw new SvcdupError(`dependency cycle through ${nodes.get(key)?.name ?? key}`);
      path.add(key);
      const deps = nodes.get(key)?.deps ?? [];
      const d = deps.length ? 1 + Math.max(...deps.map((n) => depthOf(n.toLowerCase(), path))) : 0;
      path.delete(key);
      depth.set(key, d);
      return d;
    };
    const levels: string[][] = [];
    for (const [key, n] of nodes) (levels[depthOf(key, new Set())] ??= []).push(n.name);
    return levels.filter(Boolean);
  }

  private async ensureRunning(name: string, args: string[], timeoutMs = 60_000): Promise<ServiceStatus> {
    const deadline = Date.now() + timeoutMs;
    let s: ServiceStatus;
    // Wine's SCM starts one service at a time: a start waits up to 3 s for the one before it to
    // reach its dispatcher, then fails with ERROR_SERVICE_DATABASE_LOCKED. So this process asks
    // for one start at a time (StartService returns when the SCM lets go of its lock), and
    // retries a locked database (another process starting services). No status is asked
    // first: StartService of a service that is not STOPPED fails with
    // ERROR_SERVICE_ALREADY_RUNNING, and a status query costs as much as a quarter of a start.
    let revived = false;
    for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
      const call = this.startGate.then(() => this.backend.call('scm.start', { name, args }));
      this.startGate = call.catch(() => undefined);
      const again = await call.then(
        () => false,
        async (err: unknown) => {
          if (err instanceof AgentError && err.code === Win32.ERROR_SERVICE_ALREADY_RUNNING) {
            // Wine's SCM keeps a service whose process died RUNNING; a control makes it notice
            // (the pipe is closed), after which it starts again
            const st = await this.backend.call('scm.status', { name });
            const [gone] = await goneProcesses(this.backend, [{ status: st, direct: false }]);
            if (!gone) return false;
            await this.backend.call('scm.control', { name, code: 1 }).catch(() => undefined);
            revived = true;
            return Date.now() < deadline;
          }
          if (err instanceof AgentError && START_AGAIN.has(err.code) && Date.now() < deadline) return true;
          // Wine's SCM answers 1053 when the service said STOPPED before the SCM looked at
          // its first status: its exit code (below) says more than the timeout does.
          if (err instanceof AgentError && err.code === Win32.ERROR_SERVICE_REQUEST_TIMEOUT) {
            const now = await this.backend.call('scm.status', { name });
            if (now.state === 'STOPPED' && now.win32ExitCode) return false;
          }
          throw err;
        },
      );
      if (!again) break;
      await new Promise((r) => setTimeout(r, wait));
      // (after a revival the SCM still says RUNNING until the start: ask again regardless)
      if (!revived && (await this.backend.call('scm.status', { name })).state !== 'STOPPED') break;
      revived = false;
    }
    for (;;) {
      s = await this.backend.call('scm.status', { name });
      if (s.state === 'RUNNING') return s;
      if (s.state === 'STOPPED') {
        const code = s.win32ExitCode === 1066 ? s.serviceExitCode : s.win32ExitCode;
        const parsed = parseDuplicateName(name);
        const d = parsed && this.get(parsed.vm, parsed.service);
        const why = d ? await this.whyStopped(d) : [];
        throw new SvcdupError(
          `${name} stopped while starting: Win32 exit code ${s.win32ExitCode}${s.win32ExitCode === 1066 ? `, service exit code ${s.serviceExitCode}` : ''}` +
            (code === WSAEADDRINUSE && why.length ? `\n${code} is WSAEADDRINUSE: the port is taken.` : '') +
            why.map((w) => `\n${w}`).join('') +
            (code === WSAEADDRINUSE && !why.length
              ? `\n${code} is WSAEADDRINUSE: the port is taken. On Linux (so under Wine) a host listener on the wildcard address (0.0.0.0) ` +
                `holds the port on every 127.x.y.z address, this VM's too, which Windows would allow. Fix: bind the host instance to ` +
                `127.0.0.1, or give the VM a port map (svcdup vm create NAME --port-map PORT:OTHERPORT). svcdup trace --vm VM shows the bind.`
              : ''),
        );
      }
      if (Date.now() > deadline) throw new SvcdupError(`${name} did not reach RUNNING within ${timeoutMs / 1000} s (state ${s.state})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
