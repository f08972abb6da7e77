// The watcher (docs/operate.md, "What runs when no command does"): one Node process per home,
// outside Wine, started by `svcdup host start` and by any command that leaves a duplicate with a
// restart policy or a health check. Every 2 s (sooner when a restart is due) it reads the SCM's states of every duplicate
// (one scm.list), records what it sees end (crashed/stopped events, the last exit code), carries
// out restart policies with exponential backoff where the SCM does not (Wine 8's services.exe
// accepts failure actions and ignores them), and probes health checks. A restart is made under
// the writer lock, taken without waiting (a busy lock: the next second), and only after reading
// again what commands did meanwhile: a duplicate stopped or removed by svcdup is left alone.
import type { ManagedBackend } from '../backend/index.js';
import type { ServiceStatus } from '../backend/types.js';
import { AgentError } from '../errors.js';
import { Duplicates } from '../dup/dup.js';
import type { Db } from '../state/db.js';
import { listDuplicateNames } from '../state/duplicates.js';
import { DupLogKeeper } from '../ops/logs.js';
import { listEvents, recordEvent } from '../state/events.js';
import { LockBusyError, WriterLock } from '../state/lock.js';
import { countRestart, getRuntime, listRuntime, recordExit, setHealthState, type DupRuntime } from '../state/runtime.js';
import { getVm } from '../state/vms.js';
import { dbVmStore } from '../vm/store.js';
import { Vms } from '../vm/ops.js';
import { stopAndWait } from '../dup/steps.js';
import { healthFromText, probe, resolveProbe, type HealthCheck, type Probe } from '../ops/health.js';
import { backoffMs, exitCodeOf, isFailure, parseRestart, RECOVERED_AFTER_MS, shouldRestart } from '../ops/restart.js';

/** The longest between two looks at the SCM; a restart or probe due sooner is looked at when due (nextDue). */
export const TICK_MS = 2000;

const ALIVE: ReadonlySet<ServiceStatus['state']> = new Set(['START_PENDING', 'RUNNING', 'CONTINUE_PENDING', 'PAUSE_PENDING', 'PAUSED', 'STOP_PENDING']);

/** What the watcher remembers of one duplicate between ticks. */
interface Seen {
  state?: ServiceStatus['state'];
  pid?: number;
  /** svcdup stopped it (a stopped/removed event after its last start): no restart */
  byUser: boolean;
  /** the tick in which a command's start (recorded once it was RUNNING) was read: STOPPED in a later tick is an end */
  startSeen?: number;
  /** restarts in a row without RECOVERED_AFTER_MS of running: the backoff exponent */
  streak: number;
  runningSince?: number;
  /** a restart is due at this time */
  restartAt?: number;
  restartReason?: 'crashed' | 'stopped' | 'unhealthy';
  nextProbe?: number;
  fails: number;
  probing: boolean;
}

const key = (vm: string, service: string) => `${vm}\0${service}`;

type DupNames = ReturnType<typeof listDuplicateNames>[number];

export interface WatcherOptions {
  /** the SCM carries out failure actions itself (Windows): the watcher restarts nothing */
  scmRestarts: boolean;
  log?: (line: string) => void;
}

export class Watcher {
  private readonly seen = new Map<string, Seen>();
  private lastEvent: number;
  private tickNo = 0;
  private readonly dups: Duplicates;
  private readonly vms: Vms;
  /** the duplicates' logs: rotated while they run, time-marked for --since (src/ops/logs.ts) */
  private readonly logs: DupLogKeeper;

  constructor(
    readonly backend: ManagedBackend,
    readonly db: Db,
    readonly opts: WatcherOptions,
  ) {
    this.dups = new Duplicates(backend, db);
    this.vms = new Vms(backend, dbVmStore(db), this.dups);
    this.logs = new DupLogKeeper(backend.paths.home);
    // only what happens from now on: events before the watcher started are history
    this.lastEvent = listEvents(db).at(-1)?.id ?? 0;
  }

  private log(line: string): void {
    this.opts.log?.(`${new Date().toISOString()} ${line}`);
  }

  /** dup_runtime.health as a check, parsed once per text */
  private readonly checks = new Map<string, HealthCheck | undefined>();
  private healthOf(text: string | null): HealthCheck | undefined {
    if (!text) return undefined;
    if (!this.checks.has(text)) this.checks.set(text, healthFromText(text));
    return this.checks.get(text);
  }

  private get(vm: string, service: string): Seen {
    const k = key(vm, service);
    let s = this.seen.get(k);
    if (!s) this.seen.set(k, (s = { byUser: false, streak: 0, fails: 0, probing: false }));
    return s;
  }

  /** Commands' events since the last read: who stopped or started what. */
  private readCommands(): void {
    for (const e of listEvents(this.db, { afterId: this.lastEvent })) {
      this.lastEvent = e.id;
      if (!e.vm || !e.service || e.detail.by !== 'svcdup') continue;
      const s = this.get(e.vm, e.service);
      if (e.kind === 'stopped' || e.kind === 'removed') {
        s.byUser = true;
        s.restartAt = undefined;
      } else if (e.kind === 'started') {
        s.startSeen = this.tickNo;
        s.byUser = false;
        s.streak = 0;
        s.restartAt = undefined;
        s.fails = 0;
        s.nextProbe = undefined;
      }
    }
  }

  /** When the next look is due: the next restart, at most TICK_MS from now. Probes go with the looks
   *  (an interval is kept to within TICK_MS): one look per probe would list the SCM each time. */
  nextDue(now = Date.now()): number {
    let due = now + TICK_MS;
    for (const s of this.seen.values()) if (s.restartAt !== undefined) due = Math.min(due, s.restartAt);
    return Math.max(due, now + 50);
  }

  /** One look at every duplicate: what ended, what is due a restart, what is due a probe. */
  async tick(now = Date.now()): Promise<void> {
    this.tickNo++;
    const records = listDuplicateNames(this.db);
    if (!records.length) return;
    const runtime = new Map(listRuntime(this.db).map((r) => [key(r.vm, r.service), r]));
    const wanted = new Set(records.map((r) => r.scmName.toLowerCase()));
    const statuses = new Map((await this.backend.call('scm.list', {})).filter((s) => wanted.has(s.name.toLowerCase())).map((s) => [s.name.toLowerCase(), s]));
    // after the SCM's view: a STOPPED seen above was asked for before its event was read here
    this.readCommands();
    for (const r of records) {
      try {
        if (this.logs.look(r.vm, r.service) === 'rotated') this.log(`${r.scmName}: log rotated`);
      } catch (err) {
        this.log(`${r.scmName}: log not kept: ${(err as Error).message}`);
      }
    }
    const probes: Promise<void>[] = [];
    for (const r of records) {
      const st = statuses.get(r.scmName.toLowerCase());
      if (!st) continue;
      const rt = runtime.get(key(r.vm, r.service));
      const s = this.get(r.vm, r.service);
      const was = s.state;
      s.state = st.state;
      if (ALIVE.has(st.state)) {
        if (was === undefined || was === 'STOPPED' || s.pid !== st.pid || s.runningSince === undefined) s.runningSince = now;
        if (s.runningSince !== undefined && now - s.runningSince >= RECOVERED_AFTER_MS) s.streak = 0;
        s.pid = st.pid;
        s.restartAt = undefined;
        s.startSeen = undefined;
      } else if (s.startSeen !== undefined || (was !== undefined && ALIVE.has(was))) {
        // a start read in this tick may be newer than the states listed before it: judged next tick
        if (s.startSeen === this.tickNo) continue;
        s.startSeen = undefined;
        // a command's operation in progress (undup, vm rm) stops it: judged when it is over
        if (this.dups.journal.pending()) s.state = was;
        else this.ended(r, st, rt, s, now);
      }
      if (s.restartAt !== undefined && now >= s.restartAt && st.state === 'STOPPED') await this.restart(r, s, rt);
      const hc = this.healthOf(rt?.health ?? null);
      if (hc && st.state === 'RUNNING' && !s.probing && s.runningSince !== undefined) {
        s.nextProbe ??= s.runningSince + hc.interval * 1000;
        if (now >= s.nextProbe) probes.push(this.probeOne(r, rt!, hc, s));
      }
    }
    await Promise.all(probes);
  }

  /** It was running and is STOPPED now. */
  private ended(r: DupNames, st: ServiceStatus, rt: DupRuntime | undefined, s: Seen, now: number): void {
    s.runningSince = undefined;
    s.nextProbe = undefined;
    s.fails = 0;
    const exit = exitCodeOf(st);
    if (rt) recordExit(this.db, r.vm, r.service, exit);
    if (s.byUser) return;
    const failed = isFailure(st);
    recordEvent(this.db, {
      kind: failed ? 'crashed' : 'stopped',
      vm: r.vm,
      service: r.service,
      detail: { by: 'service', exitCode: exit, win32ExitCode: st.win32ExitCode, serviceExitCode: st.serviceExitCode },
    });
    this.log(`${r.scmName} ${failed ? 'crashed' : 'stopped'} (exit ${exit})`);
    if (!rt || this.opts.scmRestarts) return;
    const policy = parseRestart(rt.restart);
    if (!shouldRestart(policy, st, rt.restarts, false)) return;
    s.restartAt = now + backoffMs(s.streak);
    s.restartReason = failed ? 'crashed' : 'stopped';
  }

  /** Take the writer lock without waiting: a command at work is left to finish (the next tick tries again). */
  private async locked<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    let lock: WriterLock;
    try {
      lock = await WriterLock.acquire(this.backend.paths.home, { waitMs: 0, what: `(watcher) ${what}` });
    } catch (err) {
      if (err instanceof LockBusyError) return undefined;
      throw err;
    }
    try {
      // what commands did up to the lock: a stop, an undup
      this.readCommands();
      return await fn();
    } finally {
      lock.release();
    }
  }

  private stillOurs(r: DupNames, s: Seen): boolean {
    return !s.byUser && !!this.dups.get(r.vm, r.service);
  }

  private async restart(r: DupNames, s: Seen, rt: DupRuntime | undefined): Promise<void> {
    const delay = backoffMs(s.streak);
    await this.locked(`restart ${r.scmName}`, async () => {
      s.restartAt = undefined;
      if (!this.stillOurs(r, s) || !rt) return;
      const restarts = countRestart(this.db, r.vm, r.service);
      s.streak++;
      // whatever the start does, the next STOPPED is seen as another end
      s.state = 'START_PENDING';
      let error: string | undefined;
      try {
        const st = await this.dups.start(r.service, r.vm, [], { byWatcher: true });
        s.pid = st.pid;
      } catch (err) {
        if (!(err instanceof Error) || (!(err instanceof AgentError) && !(err as { exitCode?: number }).exitCode)) throw err;
        error = err.message;
      }
      recordEvent(this.db, {
        kind: 'restarted',
        vm: r.vm,
        service: r.service,
        detail: { by: 'watcher', reason: s.restartReason ?? 'crashed', restarts, policy: rt.restart, afterMs: delay, ...(error ? { error } : {}) },
      });
      if (rt.health) setHealthState(this.db, r.vm, r.service, 'starting');
      this.log(`${r.scmName} restarted (${restarts}${error ? `: ${error}` : ''})`);
    });
  }

  private probeFor(r: DupNames, hc: HealthCheck): Probe | undefined {
    const vm = getVm(this.db, r.vm);
    if (!vm) return undefined;
    try {
      return resolveProbe(hc, vm);
    } catch {
      return undefined; // the VM's network changed under the check: nothing it may reach
    }
  }

  private async probeOne(r: DupNames, rt: DupRuntime, hc: HealthCheck, s: Seen): Promise<void> {
    const p = this.probeFor(r, hc);
    if (!p) return;
    s.probing = true;
    try {
      const timeout = Math.min(hc.interval * 1000, 5000);
      const ok = await probe(
        p,
        r.vm,
        { backend: this.backend, runInVm: async (vm, argv, ms) => (await this.vms.run(vm, argv, { timeoutMs: ms })).code },
        timeout,
      );
      s.nextProbe = Date.now() + hc.interval * 1000;
      const now = getRuntimeState(this.db, r);
      if (ok) {
        s.fails = 0;
        if (now !== 'healthy') {
          setHealthState(this.db, r.vm, r.service, 'healthy');
          recordEvent(this.db, { kind: 'healthy', vm: r.vm, service: r.service, detail: { check: hc.check } });
        }
        return;
      }
      s.fails++;
      if (s.fails < hc.retries || now === 'unhealthy') return;
      setHealthState(this.db, r.vm, r.service, 'unhealthy');
      recordEvent(this.db, { kind: 'unhealthy', vm: r.vm, service: r.service, detail: { check: hc.check, failedProbes: s.fails } });
      this.log(`${r.scmName} unhealthy (${hc.check}, ${s.fails} failed probes)`);
      const policy = parseRestart(rt.restart);
      if (policy.kind === 'no' || (policy.max !== undefined && rt.restarts >= policy.max)) return;
      // unhealthy and a restart policy: stop it, then the restart of a crashed one
      await this.locked(`stop unhealthy ${r.scmName}`, async () => {
        if (!this.stillOurs(r, s)) return;
        await stopAndWait(this.backend, r.scmName);
        s.state = 'STOPPED';
        s.runningSince = undefined;
        s.nextProbe = undefined;
        s.fails = 0;
      });
      if (s.state === 'STOPPED') {
        s.restartReason = 'unhealthy';
        await this.restart(r, s, rt);
      }
    } finally {
      s.probing = false;
    }
  }
}

const getRuntimeState = (db: Db, r: DupNames): string | null => getRuntime(db, r.vm, r.service)?.healthState ?? null;
