// What VMs and duplicates use (docs/operate.md, "Stats"): one sample is two agent calls, the
// SCM's service list (each duplicate's pid) and job.stats (each VM's job: its member
// processes' counters, native/agent/stats.c). CPU % is the CPU time between two samples over
// the wall time between them. Under Wine the job keeps no accounting, so a VM's figures are
// its processes' sums; its I/O bytes come from Linux (/proc/PID/io of the VM's cgroup) where
// it has one, as Wine reports none.
import { readFileSync } from 'node:fs';
import type { HostBackend, JobProcessStats, ServiceStatus } from '../backend/types.js';
import type { Db } from '../state/db.js';
import { listDuplicateNames } from '../state/duplicates.js';
import { listVmLimits } from '../state/vms.js';
import { cgroupPids } from './limits.js';

export interface Usage {
  /** CPU time so far, ms (user + kernel) */
  cpuMs: number;
  /** % of one CPU since the previous sample; absent on a first sample */
  cpuPercent?: number;
  privateBytes: number;
  workingSetBytes: number;
  processes: number;
  threads: number;
  handles: number;
  readBytes: number;
  writeBytes: number;
}

export interface DupStats extends Usage {
  service: string;
  scmName: string;
  state: string;
  pid: number;
}

export interface VmStats extends Usage {
  vm: string;
  /** where the VM's figures come from: the job's own accounting (Windows) or its processes' sums (Wine) */
  source: 'job' | 'processes';
  /** where its I/O bytes come from ('none': Wine without a cgroup for the VM) */
  ioSource: 'job' | 'processes' | 'linux' | 'none';
  /** the Linux cgroup's charge (Wine, a VM with a memory limit) */
  cgroupMemoryBytes?: number;
  memoryLimit?: number;
  duplicates: DupStats[];
}

export interface StatsSample {
  at: number;
  vms: VmStats[];
}

const zero = (): Usage => ({ cpuMs: 0, privateBytes: 0, workingSetBytes: 0, processes: 0, threads: 0, handles: 0, readBytes: 0, writeBytes: 0 });

function add(u: Usage, p: JobProcessStats): void {
  u.cpuMs += p.cpuMs;
  u.privateBytes += p.privateBytes;
  u.workingSetBytes += p.workingSetBytes;
  u.processes += 1;
  u.threads += p.threads;
  u.handles += p.handles;
  u.readBytes += p.readBytes;
  u.writeBytes += p.writeBytes;
}

/** A duplicate's processes: those of the VM's job descended from the SCM's pid (the image itself, or svcdup-host's child). */
export function processesOf(scmPid: number, procs: readonly JobProcessStats[]): JobProcessStats[] {
  if (!scmPid) return [];
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  return procs.filter((p) => {
    const seen = new Set<number>();
    for (let q: JobProcessStats | undefined = p; q && !seen.has(q.pid); q = byPid.get(q.ppid)) {
      if (q.pid === scmPid || q.ppid === scmPid) return true;
      seen.add(q.pid);
    }
    return false;
  });
}

/** Linux I/O of a cgroup's processes (rchar/wchar: bytes through read and write calls, as Windows counts transfers). */
function linuxIo(dir: string): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const pid of cgroupPids(dir)) {
    try {
      const t = readFileSync(`/proc/${pid}/io`, 'utf8');
      readBytes += Number(/^rchar: (\d+)/m.exec(t)?.[1] ?? 0);
      writeBytes += Number(/^wchar: (\d+)/m.exec(t)?.[1] ?? 0);
    } catch {
      /* ended */
    }
  }
  return { readBytes, writeBytes };
}

function readNumber(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/**
 * What a sample asked the SCM, kept for the next sample of the same series (the `prev` it is
 * given): the service list, when it was asked, and what it depended on.
 */
interface ScmAnswer {
  at: number;
  scm: Map<string, ServiceStatus>;
  /** every VM's member processes ("vm:pid ...") and the duplicates' names when it was asked */
  processes: string;
  names: string;
}
const scmAnswers = new WeakMap<StatsSample, ScmAnswer>();
/** the service list is asked again at least this often (a pause, which changes no process, shows within it) */
const SCM_REASK_MS = 30_000;
const PENDING = new Set(['START_PENDING', 'STOP_PENDING', 'CONTINUE_PENDING', 'PAUSE_PENDING']);

/**
 * The previous sample's service list when it still holds (docs/operate.md, "Stats"): a
 * duplicate's pid and state change only as its process starts or ends, which changes its VM's
 * member processes; so while no VM's processes, no duplicate's name and no pending state
 * changed, and for at most SCM_REASK_MS, the SCM is not asked again (one EnumServicesStatusEx
 * less: the agent's, the wineserver's and services.exe's CPU).
 */
function reusableScm(prev: StatsSample | undefined, processes: string, names: string, now: number): ScmAnswer | undefined {
  const a = prev && scmAnswers.get(prev);
  if (!a || now - a.at >= SCM_REASK_MS || a.processes !== processes || a.names !== names) return undefined;
  for (const v of prev!.vms) for (const d of v.duplicates) if (PENDING.has(d.state)) return undefined;
  return a;
}

/** One sample of every VM (or `only`), with CPU % against `prev` when given. */
export async function sampleStats(backend: HostBackend, db: Db, opts: { only?: string; prev?: StatsSample } = {}): Promise<StatsSample> {
  const vms = listVmLimits(db).filter((v) => !opts.only || v.name === opts.only);
  // the duplicates' names only, in one query: their plans are not needed (parsing 100 of them was most of a sample's own CPU)
  const dupNames = listDuplicateNames(db);
  const jobs = await backend.call('job.stats', { vms: vms.map((v) => v.name) });
  // the counters' time, for CPU %: the service list, when asked, comes after them
  const at = Date.now();
  const processes = jobs.vms.map((j) => `${j.vm}:${j.processes.map((p) => p.pid).join(',')}`).join(' ');
  const names = dupNames.map((d) => d.scmName).join(' ');
  let answer = reusableScm(opts.prev, processes, names, at);
  if (!answer) {
    const services = await backend.call('scm.list', {});
    answer = { at: Date.now(), scm: new Map<string, ServiceStatus>(services.map((s) => [s.name.toLowerCase(), s])), processes, names };
  }
  const scm = answer.scm;
  const jobOf = new Map(jobs.vms.map((j) => [j.vm, j]));
  const dupsOf = new Map<string, { service: string; scmName: string }[]>();
  for (const d of dupNames) dupsOf.set(d.vm, [...(dupsOf.get(d.vm) ?? []), d]);
  const out: VmStats[] = [];
  for (const vm of vms) {
    const job = jobOf.get(vm.name) ?? { vm: vm.name, processes: [] };
    const u = zero();
    for (const p of job.processes) add(u, p);
    const memDir = vm.limits?.cgroups?.find((d) => d.includes('/memory/'));
    let ioSource: VmStats['ioSource'] = 'processes';
    if (job.accounting) {
      u.cpuMs = job.accounting.cpuMs;
      u.readBytes = job.accounting.readBytes;
      u.writeBytes = job.accounting.writeBytes;
      ioSource = 'job';
    } else if (u.readBytes === 0 && u.writeBytes === 0) {
      if (memDir) {
        Object.assign(u, linuxIo(memDir));
        ioSource = 'linux';
      } else ioSource = 'none';
    }
    const duplicates: DupStats[] = (dupsOf.get(vm.name) ?? []).map((d) => {
      const s = scm.get(d.scmName.toLowerCase());
      const pid = s?.state === 'RUNNING' || s?.state === 'START_PENDING' || s?.state === 'STOP_PENDING' ? s.pid : 0;
      const du = zero();
      for (const p of processesOf(pid, job.processes)) add(du, p);
      return { service: d.service, scmName: d.scmName, state: s?.state ?? 'MISSING', pid, ...du };
    });
    const cgroupMemoryBytes = memDir ? readNumber(`${memDir}/memory.usage_in_bytes`) : undefined;
    out.push({
      vm: vm.name,
      source: job.accounting ? 'job' : 'processes',
      ioSource,
      ...u,
      ...(cgroupMemoryBytes !== undefined ? { cgroupMemoryBytes } : {}),
      ...(vm.limits?.memory !== undefined ? { memoryLimit: vm.limits.memory } : {}),
      duplicates,
    });
  }
  const sample: StatsSample = { at, vms: out };
  if (opts.prev) withCpuPercent(sample, opts.prev);
  scmAnswers.set(sample, answer);
  return sample;
}

/** CPU % of one CPU between two samples, for each VM and duplicate present in both. */
export function withCpuPercent(cur: StatsSample, prev: StatsSample): StatsSample {
  const ms = cur.at - prev.at;
  if (ms <= 0) return cur;
  const pct = (now: number, before: number | undefined) => (before === undefined ? undefined : Math.max(0, Math.round(((now - before) / ms) * 1000) / 10));
  const before = new Map(prev.vms.map((x) => [x.vm, x]));
  for (const v of cur.vms) {
    const pv = before.get(v.vm);
    const p = pct(v.cpuMs, pv?.cpuMs);
    if (p !== undefined) v.cpuPercent = p;
    for (const d of v.duplicates) {
      const pd = pv?.duplicates.find((x) => x.scmName === d.scmName && x.pid === d.pid);
      const q = pct(d.cpuMs, pd?.cpuMs);
      if (q !== undefined) d.cpuPercent = q;
    }
  }
  return cur;
}
