// The thin I/O layer of `svcdup analyze`: read the file, or ask the host for the service's
// configuration and read its code file; for --trace, run the service in a scratch VM and
// collect the VM layer's trace. Everything else is the pure analysis (trace.ts for the trace).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AgentError, SvcdupError, UsageError } from '../errors.js';
import type { DuplicationPlan } from '../plan/plan.js';
import { validateVmName } from '../vm/names.js';
import type { VmBackend, VmProcess } from '../vm/ops.js';
import { analyzeBinary } from './binary.js';
import { defaultRead, readPe } from './files.js';
import { assess } from './issues.js';
import type { AnalyzeReport, TraceReport } from './report.js';
import { analyzeService, type AnalyzeHost } from './service.js';
import { applyTrace, parseTrace, summarizeTrace } from './trace.js';

export type { AnalyzeHost } from './service.js';

export interface AnalyzeOptions {
  /** the host, for a service name; opened only when needed */
  host?: () => Promise<AnalyzeHost>;
  readFile?: (path: string) => Promise<Uint8Array>;
  /** --trace SECONDS: run the service in a scratch VM for that long and record the names it uses */
  trace?: number;
  /** the VM layer, for --trace */
  lab?: () => Promise<TraceLab> | TraceLab;
  /** --share NAME: dependencies left to the host's instance during the trace */
  share?: string[];
  /** ends the trace early (Ctrl-C): the scratch VM is still removed */
  signal?: AbortSignal;
  /** progress notes (the CLI prints them on stderr) */
  progress?: (note: string) => void;
  /** the VM whose policy decides the state rules (kinds `files`, `keys`): its name and policy text */
  policy?: { name: string; text: string };
}

export class TraceUnavailableError extends SvcdupError {
  constructor(why: string) {
    super(`--trace is not available here: ${why}. Run analyze without --trace for the static analysis.`, 2);
    this.name = 'TraceUnavailableError';
  }
}

const FILE_EXT = /\.(exe|dll|sys|ocx|cpl|drv|scr|efi|mui)$/i;

/** A path (has a separator or a PE extension) rather than a service name. */
export function looksLikeFile(target: string): boolean {
  return target.includes('/') || target.includes('\\') || FILE_EXT.test(target);
}

/** Analyze a file (FILE.exe|dll|sys) or a service by name. */
export async function analyzeTarget(target: string, opts: AnalyzeOptions = {}): Promise<AnalyzeReport> {
  const read = opts.readFile ?? defaultRead;
  if (isFileTarget(target)) {
    if (opts.trace !== undefined) throw traceNeedsService(target);
    if (!existsSync(target)) throw new UsageError(`no such file: ${target}`);
    return analyzeFile(target, read);
  }
  if (!opts.host) throw new UsageError(`"${target}" is not a file, and no host backend is available to look it up as a service`);
  const report = await analyzeService(target, await opts.host(), { read, ...(opts.policy ? { policy: opts.policy } : {}) });
  if (opts.trace === undefined) return report;
  if (!opts.lab) throw new TraceUnavailableError('no VM layer was given to run the service in');
  return traceService(report, opts.trace, await opts.lab(), opts);
}

/** A file target (a path, a PE extension, or an existing file) rather than a service name. */
export function isFileTarget(target: string): boolean {
  return looksLikeFile(target) || existsSync(target);
}

/** --trace on a file: only a service can be run in a VM. */
export function traceNeedsService(target: string): TraceUnavailableError {
  return new TraceUnavailableError(`${target} is a file; --trace runs an installed service in a scratch VM (give the service's name)`);
}

export async function analyzeFile(path: string, read: (p: string) => Promise<Uint8Array> = defaultRead): Promise<AnalyzeReport> {
  let bytes: Uint8Array;
  try {
    bytes = await readPe(path, read);
  } catch (err) {
    if (err instanceof SvcdupError) throw err;
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const binary = analyzeBinary(bytes, { file: path });
  return assess({ target: { input: path, kind: 'file' }, binary });
}

/** The file name a report is about, for headings. */
export function displayName(report: AnalyzeReport): string {
  return report.service?.name ?? basename(report.target.input);
}

// ---------------------------------------------------------------- --trace

/** What --trace needs from the VM layer; `vmTraceLab` builds it from Vms and Duplicates. */
export interface TraceLab {
  /** a VM of that name exists (scratch names must be new) */
  exists(vm: string): boolean;
  createVm(vm: string): Promise<void>;
  /** start the VM's trace listener; resolves once it is registered, so no decision after that is lost */
  listen(vm: string): Promise<TraceListener>;
  /** register the service's duplicate (and the dependencies duplicated with it) in the VM */
  dup(service: string, vm: string, share: string[]): Promise<{ duplicated: string[]; shared: string[] }>;
  /** start it, dependencies first; resolves once it is RUNNING */
  start(service: string, vm: string): Promise<void>;
  /** stop the service's duplicate (its dependents first) */
  stop(service: string, vm: string): Promise<void>;
  /** undup everything in the VM, end its processes, remove it; refuses while a process is left */
  removeVm(vm: string): Promise<{ removed: string[]; processesEnded: number }>;
  /** processes left in the VM (0 after removeVm) */
  processes(vm: string): Promise<number>;
}

export interface TraceListener {
  /** end the listener once it has printed what it has read: its stdout, and what went wrong if it ended by itself */
  stop(): Promise<{ output: string; problem?: string }>;
}

/** The parts of `Vms` and `Duplicates` (src/vm/ops.ts, src/dup/dup.ts) a trace lab is made of. */
export interface TraceVms {
  readonly backend: VmBackend;
  readonly store: { get(name: string): unknown };
  create(name: string): Promise<unknown>;
  remove(name: string): Promise<{ killed: number; undup: string[] }>;
  ps(name?: string): Promise<VmProcess[]>;
}
export interface TraceDups {
  dup(service: string, vm: string, opts: { share?: string[]; force?: boolean }): Promise<DuplicationPlan>;
  start(service: string, vm: string): Promise<unknown>;
  stop(service: string, vm: string): Promise<unknown>;
}

/** A trace lab over the real VM layer. `vms` must be constructed with `dups` as its hooks, so that removing the VM undups. */
export function vmTraceLab(vms: TraceVms, dups: TraceDups): TraceLab {
  return {
    exists: (vm) => !!vms.store.get(vm),
    createVm: async (vm) => void (await vms.create(vm)),
    listen: (vm) => startListener(vms.backend, vm),
    async dup(service, vm, share) {
      // forced: a trace shows what the service does, also where dup would refuse it
      const plan = await dups.dup(service, vm, { share, force: true });
      return { duplicated: plan.services.map((s) => s.scmName), shared: plan.shared.map((s) => s.name) };
    },
    start: async (service, vm) => void (await dups.start(service, vm)),
    stop: async (service, vm) => void (await dups.stop(service, vm)),
    async removeVm(vm) {
      const r = await vms.remove(vm);
      return { removed: r.undup, processesEnded: r.killed };
    },
    processes: async (vm) => (await vms.ps()).filter((p) => p.vm === vm).length,
  };
}

/** How long the listener may take to register before the trace gives up. */
const LISTEN_TIMEOUT_MS = 30_000;
/** The listener polls its ring buffer every 50 ms: give it two rounds to print the last decisions. */
const LISTEN_DRAIN_MS = 120;

/**
 * `svcdup-run --trace VM`, streamed: it prints "svcdup-run: tracing VM X" on stderr right
 * after registering in the VM's trace channel (native/launch/svcdup-run.c), and VM processes
 * write decisions only while a listener is registered, so the service must not start before
 * that line. HostBackend.exec returns only at exit, hence this spawn of our own, with the
 * backend's own loader and environment (see docs/analyze.md, "--trace").
 */
async function startListener(backend: VmBackend, vm: string): Promise<TraceListener> {
  const run = join(backend.paths.nativeDir, 'svcdup-run.exe');
  if (!existsSync(run) || !existsSync(join(backend.paths.nativeDir, 'svcdup-hook.dll')))
    throw new SvcdupError(`native binaries are not built (${run} or svcdup-hook.dll is missing): run npm run build`);
  const argv = [backend.toWindowsPath(run), '--trace', vm];
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  let child: ChildProcess;
  if (backend.kind === 'wine') {
    const wine = backend as unknown as { wine: { loader: string }; env(): NodeJS.ProcessEnv };
    child = spawn(wine.wine.loader, argv, { env: wine.env(), stdio });
  } else {
    child = spawn(argv[0]!, argv.slice(1), { stdio, windowsHide: true });
  }
  let stdout = '';
  let stderr = '';
  const closed = new Promise<number>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const registered = new Promise<void>((resolve) => {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (/tracing VM/.test(stderr)) resolve();
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    registered.then(() => 'ok' as const),
    closed.then((code) => `exited with code ${code}` as const),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`did not register within ${LISTEN_TIMEOUT_MS / 1000} s`), LISTEN_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (outcome !== 'ok') {
    child.kill('SIGKILL');
    await closed;
    throw new SvcdupError(`the trace listener for VM ${vm} ${outcome}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
  }
  let stopping: Promise<{ output: string; problem?: string }> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        // it only ends by itself when something went wrong (it runs until stopped)
        const early = child.exitCode !== null || child.signalCode !== null;
        await sleep(LISTEN_DRAIN_MS);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        const code = await closed;
        return {
          output: stdout,
          ...(early
            ? {
                problem: `the listener ended early (exit code ${code}${stderr.replace(/^.*tracing VM.*$/m, '').trim() ? `: ${stderr.replace(/^.*tracing VM.*$/m, '').trim()}` : ''}): later decisions are missing`,
              }
            : {}),
        };
      })();
      return stopping;
    },
  };
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** A fresh, valid VM name (docs/vm.md): `analyze-<pid>-<time>` in base 36. */
export function scratchVmName(exists: (vm: string) => boolean = () => false, pid = process.pid, now = Date.now()): string {
  for (let i = 0; ; i++) {
    const name = `analyze-${pid.toString(36)}-${(now + i).toString(36)}`;
    if (!exists(name)) return validateVmName(name);
  }
}

/**
 * Run the service duplicated into a scratch VM for `seconds`, with the VM's trace listener
 * registered before it starts; whatever happens, the VM and its duplicates are removed.
 */
export async function traceService(
  report: AnalyzeReport,
  seconds: number,
  lab: TraceLab,
  opts: Pick<AnalyzeOptions, 'share' | 'signal' | 'progress'> = {},
): Promise<AnalyzeReport> {
  const svc = report.service;
  if (!svc) throw new TraceUnavailableError('only a service can be traced');
  if (report.verdict.reasons.some((r) => r.code === 'kernel-driver')) throw new TraceUnavailableError(`${svc.name} is a kernel driver: it cannot run in a VM`);
  const note = opts.progress ?? (() => {});
  const vm = scratchVmName((n) => lab.exists(n));
  const warnings: string[] = [];
  const startedAt = new Date().toISOString();
  let service: TraceReport['service'] = { started: false, duplicated: [], shared: [] };
  let output = '';
  let cleanup: TraceReport['cleanup'] = { removed: [], processesEnded: 0 };
  let failure: unknown;

  note(`creating scratch VM ${vm}`);
  await lab.createVm(vm);
  let listener: TraceListener | undefined;
  try {
    listener = await lab.listen(vm);
    note(`starting ${svc.name} in ${vm} for ${seconds} s`);
    // a plan that cannot be made is the user's to fix (--share); a service that fails to start is a finding
    try {
      service = { ...service, ...(await lab.dup(svc.name, vm, opts.share ?? [])) };
    } catch (err) {
      if (err instanceof UsageError)
        throw new UsageError(
          `cannot duplicate ${svc.name} for the trace: ${err.message}${opts.share?.length ? '' : ' (--share NAME leaves a dependency to the host)'}`,
        );
      throw err;
    }
    try {
      await lab.start(svc.name, vm);
      service.started = true;
    } catch (err) {
      if (!(err instanceof SvcdupError || err instanceof AgentError)) throw err;
      service.error = err.message;
      warnings.push(`${svc.name} did not start in the VM: ${err.message}; the trace shows what it did until then`);
    }
    if (service.started) {
      await sleep(seconds * 1000, opts.signal);
      if (opts.signal?.aborted) {
        service.error = 'interrupted';
        warnings.push(`interrupted: the service ran for less than ${seconds} s`);
      }
      // stopped while the listener still listens: what it does on the way down counts too
      try {
        await lab.stop(svc.name, vm);
      } catch (err) {
        warnings.push(`stopping ${svc.name}: ${(err as Error).message}`);
      }
    }
    const heard = await listener.stop();
    output = heard.output;
    if (heard.problem) warnings.push(heard.problem);
  } catch (err) {
    failure = err;
  } finally {
    try {
      await listener?.stop();
      note(`removing scratch VM ${vm}`);
      cleanup = await lab.removeVm(vm);
      const left = await lab.processes(vm);
      // biome-ignore lint/correctness/noUnsafeFinally: caught just below, where it becomes the removal error
      if (left) throw new SvcdupError(`${left} process${left === 1 ? '' : 'es'} of VM ${vm} still run`);
    } catch (err) {
      const msg = `the scratch VM ${vm} could not be removed: ${(err as Error).message}; remove it with: svcdup vm rm ${vm}`;
      if (failure === undefined) failure = new SvcdupError(msg);
      else warnings.push(msg);
    }
  }
  if (failure !== undefined) throw failure;

  const parsed = parseTrace(output);
  if (parsed.dropped) warnings.push(`the listener fell behind: ${parsed.dropped} decisions were dropped`);
  if (parsed.unparsed.length) warnings.push(`${parsed.unparsed.length} trace lines were not understood, e.g. ${JSON.stringify(parsed.unparsed[0])}`);
  if (report.binary?.codeScan && report.binary.codeScan !== 'x64')
    warnings.push('the static analysis did not decode this machine code: run-time names it missed are expected');
  const summary = summarizeTrace(parsed, report.binary?.names ?? []);
  const trace: TraceReport = { vm, seconds, startedAt, endedAt: new Date().toISOString(), service, ...summary, cleanup, warnings };
  const traced = applyTrace(report, trace);
  // the programs it started, as --trace saw them: part of the whole service
  if (traced.footprint) {
    const known = new Set(traced.footprint.programs.map((p) => p.path.toLowerCase()));
    const children = [...new Set(parsed.events.filter((e) => e.call === 'NtCreateUserProcess').map((e) => e.used))].filter(
      (u) => u && !known.has(u.toLowerCase()),
    );
    traced.footprint = {
      ...traced.footprint,
      programs: [
        ...traced.footprint.programs,
        ...children.slice(0, 20).map((u) => ({ path: u, source: 'trace' as const, evidence: `started in the VM during the trace`, exists: true })),
      ],
    };
  }
  return traced;
}
