// dup, undup, start, stop, status: duplicates as real services in the host SCM.
// The planner (src/plan/plan.ts) makes the whole list of host changes; this runs it as one
// journaled operation (src/state/journal.ts, step kinds in steps.ts), so a failure or a
// kill leaves either the complete closure of duplicates or none of it.
import type { ManagedBackend } from '../backend/index.js';
import type { RegTree, ServiceCreate, ServiceStatus } from '../backend/types.js';
import { AgentError, SvcdupError, UsageError, Win32 } from '../errors.js';
import { SERVICES_KEY, SVCDUP_KEY, vmKey, vmServiceKey, vmServicesKey } from '../plan/keys.js';
import { parseDuplicateName, serviceNameProblem } from '../plan/names.js';
import {
  duplicateMode,
  planUndup,
  type DuplicateMode,
  type DuplicateRef,
  type DuplicationPlan,
  type PlannedService,
  type VmPolicyInput,
} from '../plan/plan.js';
import type { DirectImageArgs, Step } from '../plan/steps.js';
import { composeVmRules } from '../plan/system.js';
import type { Db } from '../state/db.js';
import { listDuplicates } from '../state/duplicates.js';
import { recordEvent, type EventKind } from '../state/events.js';
import { deleteRuntime, resetRestarts } from '../state/runtime.js';
import { getVm, listVms } from '../state/vms.js';
import { portMapFromRecord } from '../net/index.js';
import { Journal } from '../state/journal.js';
import { dupSteps, stopAndWait, type StepContext } from './steps.js';
import { pruneEmptyKeys } from '../backend/registry.js';
import { mapLimit, START_CONCURRENCY } from './limit.js';
import { vmRulesOf, writeRulesFile } from '../vm/rules.js';
import { dbVmStore } from '../vm/store.js';
import { parseSet } from '../plan/edits.js';
import { type DupMode, type DupObservation, type DupRequest, madeCopy, planDup, SNAPSHOT_MAX_BYTES } from '../plan/dup-plan.js';
import { observeDup, vmPolicyInput } from './observe.js';
import { stoppedWithError, whyStopped } from './why.js';
import { asObserved, goneProcesses } from './liveness.js';
import { prepareVmLimits } from '../ops/limits.js';

/** The snapshot size limit and the mode choice, from the pure planner (src/plan/dup-plan.ts). */
export { SNAPSHOT_MAX_BYTES, type DupMode };

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
  /** filled with where the call's time went: ms after the call at `planned` (host read, plan made), `registered` (the journaled steps done), `running` (with start) */
  timeline?: Record<string, number>;
}

const modeOf = (o: { mode?: DupMode; direct?: boolean }): DupMode => o.mode ?? (o.direct ? 'direct' : 'auto');

/** The VM's new Policy value a plan sets, if it sets one. */
function policyValue(plan: DuplicationPlan, vm: string): unknown {
  const key = vmKey(vm).toLowerCase();
  for (const s of plan.steps) if (s.kind === 'reg.setValue' && s.args.key.toLowerCase() === key && s.args.value.name === 'Policy') return s.args.value.data;
  return undefined;
}

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
   * them. The host is read once (observeDup, src/dup/observe.ts) and planned from that one
   * observation (planDup, src/plan/dup-plan.ts); nothing is changed.
   */
  async plan(
    service: string,
    vm: string,
    share: string[] = [],
    opts: { set?: string[]; restrictedToken?: boolean; direct?: boolean; mode?: DupMode; force?: boolean } = {},
  ): Promise<DuplicationPlan> {
    return (await this.planned(service, vm, share, opts)).plan;
  }

  /** The plan, and the observation it was made from. */
  private async planned(
    service: string,
    vm: string,
    share: string[],
    opts: { set?: string[]; restrictedToken?: boolean; direct?: boolean; mode?: DupMode; force?: boolean },
  ): Promise<{ plan: DuplicationPlan; obs: DupObservation }> {
    for (const name of [service, ...share]) {
      const problem = serviceNameProblem(name);
      if (problem) throw new UsageError(`service name "${name}" cannot be duplicated: ${problem}`);
    }
    const req: DupRequest = {
      service,
      vm,
      share,
      edits: (opts.set ?? []).map(parseSet),
      mode: modeOf(opts),
      ...(opts.restrictedToken ? { restrictedToken: true } : {}),
    };
    const obs = await observeDup(this, req, opts.force ? { force: true } : {});
    return { plan: planDup(req, obs), obs };
  }

  /** Register every planned duplicate as one operation (all or none), optionally start the root. */
  async dup(service: string, vm: string, opts: DupOptions = {}): Promise<DuplicationPlan> {
    const t0 = performance.now();
    const mark = (phase: string): void => {
      if (opts.timeline) opts.timeline[phase] = performance.now() - t0;
    };
    const { plan, obs } = await this.planned(service, vm, opts.share ?? [], {
      ...(opts.set ? { set: opts.set } : {}),
      ...(opts.restrictedToken ? { restrictedToken: true } : {}),
      mode: modeOf(opts),
      ...(opts.force ? { force: true } : {}),
    });
    if (opts.dryRun) return plan;
    mark('planned');
    // the direct copies made while planning are written by their steps as made (not read and made again)
    const directCopies = new WeakMap<DirectImageArgs, Uint8Array>();
    for (const p of plan.services) {
      const made = p.direct && madeCopy(obs.images[p.service.toLowerCase()], p.direct);
      if (made) directCopies.set(p.direct!, made);
    }
    await this.journal.runSteps('dup', `${plan.root}@${vm}`, { ...this.ctx, directCopies }, plan.steps);
    mark('registered');
    // the start first: the events and the rules file (for `svcdup run`; the duplicate's
    // processes read the Policy value, written by the steps) are written while it starts
    const started = opts.start ? this.start(plan.root, vm, opts.startArgs).then(() => mark('running')) : undefined;
    for (const s of plan.services) this.note('created', vm, s.service, { mode: duplicateMode(s) });
    const saved = this.saveRulesFile(vm, policyValue(plan, vm) ?? obs.policy?.current?.data);
    // both settled before either error is thrown; the start's first
    const [start, rules] = await Promise.allSettled([started, saved]);
    if (start.status === 'rejected') throw start.reason;
    if (rules.status === 'rejected') throw rules.reason;
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
    deleteRuntime(this.db, vm, d.service);
    this.note('removed', vm, d.service);
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
  async start(service: string, vm: string, args: string[] = [], opts: { byWatcher?: boolean } = {}): Promise<ServiceStatus> {
    const [status] = await this.startMany([{ service, vm, args }], opts);
    return status!;
  }

  /**
   * Start duplicates and everything they depend on, by dependency level: all that have
   * their dependencies running start at once, START_CONCURRENCY at a time (Wine's SCM
   * starts no dependency itself; the agent runs the starts concurrently).
   * Statuses in the order of `targets`.
   */
  async startMany(targets: readonly StartTarget[], opts: { byWatcher?: boolean } = {}): Promise<ServiceStatus[]> {
    const roots = targets.map((t) => this.require(t.vm, t.service));
    // a limited VM's cgroups exist (again, after a reboot) before any of its processes starts
    for (const vm of new Set(targets.map((t) => t.vm))) prepareVmLimits(this.backend.paths.home, getVm(this.db, vm)?.limits);
    const args = new Map(targets.map((t, i) => [roots[i]!.scmName.toLowerCase(), t.args ?? []]));
    const statuses = new Map<string, ServiceStatus>();
    for (const level of await this.startLevels(roots)) {
      const done = await mapLimit(level, START_CONCURRENCY, (n) => this.ensureRunning(n, args.get(n.toLowerCase()) ?? []));
      for (const [i, s] of done.entries()) statuses.set(level[i]!.toLowerCase(), s);
    }
    // after the start: the watcher, reading this, watches it again, and on-failure:N counts from here
    for (const r of opts.byWatcher ? [] : roots) {
      resetRestarts(this.db, r.vm, r.service);
      this.note('started', r.vm, r.service);
    }
    return roots.map((r) => statuses.get(r.scmName.toLowerCase())!);
  }

  /** Stop a duplicate, after the duplicates in its VM that depend on it. */
  async stop(service: string, vm: string): Promise<ServiceStatus> {
    const d = this.require(vm, service);
    for (const o of this.list(vm)) {
      if (o.plan.dependOnService.some((n) => n.toLowerCase() === d.scmName.toLowerCase())) await this.stop(o.service, vm);
    }
    // before the stop: the watcher, seeing it STOPPED, reads this and restarts nothing
    this.note('stopped', vm, d.service);
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

  /** After the VM's Policy value changed: its rules file holds the same text (`text`: that value, when the caller has it). */
  private async saveRulesFile(vm: string, text?: unknown): Promise<void> {
    if (getVm(this.db, vm)) await writeRulesFile(this.backend.paths.home, vm, typeof text === 'string' ? text : this.policyText(vm));
  }

  /** What the planner needs to make the VM's next Policy value, with the value there now. */
  private policyInput(vm: string): Promise<VmPolicyInput> {
    return vmPolicyInput(this.backend, this.db, vm);
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
    deleteRuntime(this.db, name);
    for (const d of order) this.note('removed', name, d.service);
    await this.saveRulesFile(name);
    await pruneEmptyKeys(this.backend, vmServicesKey(name), SVCDUP_KEY);
    return [...created.map((c) => c.scmName), ...order.map((d) => d.scmName)];
  }

  /** An event a command caused (docs/operate.md, "Events"); `by: svcdup` tells the watcher it was asked for. */
  private note(kind: EventKind, vm: string, service: string, detail: Record<string, unknown> = {}): void {
    recordEvent(this.db, { kind, vm, service, detail: { by: 'svcdup', ...detail } });
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
    const nodes = new Map<string, { name: string; deps: string[] }>();
    for (const r of roots) nodes.set(r.scmName.toLowerCase(), { name: r.scmName, deps: r.plan.dependOnService });
    let all: Map<string, DuplicateRecord> | undefined; // every VM's duplicates: read only when there are dependencies
    for (let frontier = roots.flatMap((r) => r.plan.dependOnService); frontier.length; ) {
      const dups = (all ??= new Map(this.list().map((d) => [d.scmName.toLowerCase(), d])));
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
      // the agent waits out START_PENDING itself: one round trip, not one per poll
      s = await this.backend.call('scm.wait', { name, ms: Math.max(0, Math.min(5000, deadline - Date.now())) });
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
