// A VM's resource limits (docs/operate.md, "Limits"): --memory, --cpus, --processes.
// The Windows mechanism is the VM's job object: the hook sets these on it when svcdup's own
// process makes the job (native/hook/limits.c, from the VM key's Limits value written here).
// Wine 8 accepts job limits and enforces none, so on the Wine backend the kernel enforces
// memory and CPU through Linux cgroup v1 controllers around the VM's processes (each VM
// process joins them before its image runs), and the hook refuses a process over the count.
// A VM over its memory limit: the kernel's OOM killer ends the process that allocates;
// `enforceMemoryLimits` (run by the limits guard) then ends the VM's other processes and
// records a 'limit' event, as an out-of-memory kill of the whole VM.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { SvcdupError, UsageError } from '../errors.js';
import type { Db } from '../state/db.js';
import { listEvents, recordEvent } from '../state/events.js';
import type { VmLimits } from '../state/vms.js';

export type { VmLimits };

export interface HostCapacity {
  memoryBytes: number;
  cpus: number;
  maxProcesses: number;
}

export function hostCapacity(): HostCapacity {
  let maxProcesses = 4_194_304;
  try {
    maxProcesses = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim()) || maxProcesses;
  } catch {
    /* not Linux */
  }
  return { memoryBytes: totalmem(), cpus: availableParallelism(), maxProcesses };
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 2 ** 10,
  kb: 2 ** 10,
  kib: 2 ** 10,
  m: 2 ** 20,
  mb: 2 ** 20,
  mib: 2 ** 20,
  g: 2 ** 30,
  gb: 2 ** 30,
  gib: 2 ** 30,
  t: 2 ** 40,
  tb: 2 ** 40,
  tib: 2 ** 40,
};
/** Below this a Wine process does not even start: a limit under it is a mistake, not a limit. */
export const MIN_MEMORY = 8 * 2 ** 20;

const fmtBytes = (n: number): string => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)}G` : `${Math.round(n / 2 ** 20)}M`);

/** SIZE as `--memory` takes it: a number with an optional binary unit (k, m, g, t; b/kb/kib... alike). */
export function parseMemory(text: string, host: HostCapacity, what = '--memory'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`${what} ${JSON.stringify(text)}: not a size (a number with an optional unit k, m, g or t, e.g. 512m)`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes === 0) throw new UsageError(`${what} ${text}: must be more than 0`);
  if (bytes < MIN_MEMORY) throw new UsageError(`${what} ${text}: under ${fmtBytes(MIN_MEMORY)}, too little for any process of the VM to start`);
  if (bytes > host.memoryBytes) throw new UsageError(`${what} ${text}: more than this host's memory (${fmtBytes(host.memoryBytes)})`);
  return bytes;
}

export function parseCpus(text: string, host: HostCapacity, what = '--cpus'): number {
  if (!/^\s*\d+(\.\d{1,3})?\s*$/.test(text)) throw new UsageError(`${what} ${JSON.stringify(text)}: not a number of CPUs (e.g. 1 or 0.5, to a thousandth)`);
  const n = Number(text);
  if (n <= 0) throw new UsageError(`${what} ${text}: must be more than 0`);
  if (n > host.cpus) throw new UsageError(`${what} ${text}: more than this host's ${host.cpus} CPUs`);
  return n;
}

export function parseProcesses(text: string, host: HostCapacity, what = '--processes'): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new UsageError(`${what} ${JSON.stringify(text)}: not a whole number of processes`);
  const n = Number(text);
  if (n <= 0) throw new UsageError(`${what} ${text}: must be at least 1`);
  if (n > host.maxProcesses) throw new UsageError(`${what} ${text}: more than this host allows (${host.maxProcesses})`);
  return n;
}

/** The limits as given (CLI flags or fleet fields, strings or numbers), checked; {} when none. */
export function parseLimits(
  given: { memory?: string | number; cpus?: string | number; processes?: string | number },
  host = hostCapacity(),
  names = { memory: '--memory', cpus: '--cpus', processes: '--processes' },
): VmLimits {
  const out: VmLimits = {};
  if (given.memory !== undefined) out.memory = parseMemory(String(given.memory), host, names.memory);
  if (given.cpus !== undefined) out.cpus = parseCpus(String(given.cpus), host, names.cpus);
  if (given.processes !== undefined) out.processes = parseProcesses(String(given.processes), host, names.processes);
  return out;
}

export const hasLimits = (l: VmLimits | undefined): l is VmLimits => !!l && (l.memory !== undefined || l.cpus !== undefined || l.processes !== undefined);

/** The VM key's Limits value the hook reads (native/hook/limits.c): one `name=value` a line. */
export function limitsValueText(l: VmLimits): string {
  const lines: string[] = [];
  if (l.processes !== undefined) lines.push(`processes=${l.processes}`);
  if (l.memory !== undefined) lines.push(`memory=${l.memory}`);
  if (l.cpus !== undefined) lines.push(`cpus=${Math.round(l.cpus * 1000)}`);
  for (const c of l.cgroups ?? []) lines.push(`cgroup=${c}`);
  return lines.join('\n');
}

/** The Limits value read back (svcdup repair rebuilding a record from the VM's key). */
export function limitsFromValueText(text: string): VmLimits {
  const l: VmLimits = {};
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf('=');
    const [name, value] = [line.slice(0, at), line.slice(at + 1)];
    if (at <= 0 || value === '') continue;
    if (name === 'processes') l.processes = Number(value);
    else if (name === 'memory') l.memory = Number(value);
    else if (name === 'cpus') l.cpus = Number(value) / 1000;
    else if (name === 'cgroup') (l.cgroups ??= []).push(value);
  }
  return l;
}

/** One line, for tables. */
export function limitsText(l: VmLimits | undefined): string {
  if (!hasLimits(l)) return '-';
  return [
    l.memory !== undefined ? `memory ${fmtBytes(l.memory)}` : '',
    l.cpus !== undefined ? `cpus ${l.cpus}` : '',
    l.processes !== undefined ? `processes ${l.processes}` : '',
  ]
    .filter(Boolean)
    .join(', ');
}

// ---- Linux cgroups (the Wine backend) ----

const CGROUP_ROOT = '/sys/fs/cgroup';

/** This process's own cgroup in a v1 hierarchy (from /proc/self/cgroup), so the VMs' nest under it. */
function ownCgroup(controller: string): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, ctrls, path] = line.split(':');
      if (ctrls?.split(',').includes(controller)) return path;
    }
  } catch {
    /* not Linux */
  }
  return undefined;
}

/**
 * The cgroup directories of VM `vm` of this home: memory for a memory limit, cpu for a CPU
 * limit (none for a process count alone: the hook holds that). One line where a controller is not there.
 */
export function planCgroups(home: string, vm: string, l: VmLimits): string[] {
  const ctrls = [...(l.memory !== undefined ? ['memory'] : []), ...(l.cpus !== undefined ? ['cpu'] : [])];
  const key = `svcdup-${createHash('sha256').update(home).digest('hex').slice(0, 12)}`;
  return ctrls.map((c) => {
    const base = join(CGROUP_ROOT, c);
    const own = ownCgroup(c);
    if (own === undefined || !existsSync(join(base, 'cgroup.procs')))
      throw new SvcdupError(
        `--${c === 'cpu' ? 'cpus' : c} needs the Linux cgroup v1 "${c}" controller mounted at ${base} (it is not here): this host cannot enforce it under Wine`,
      );
    return join(base, own, key, vm);
  });
}

/** Make the VM's cgroups (again: they go with a reboot) and write the limits into them. */
export function ensureCgroups(l: VmLimits): void {
  for (const dir of l.cgroups ?? []) {
    try {
      mkdirSync(dir, { recursive: true });
      if (dir.includes('/memory/') && l.memory !== undefined) {
        writeFileSync(join(dir, 'memory.limit_in_bytes'), String(l.memory));
        // swap counted too where the kernel accounts it, or the VM would page out instead of stopping
        if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(l.memory));
      }
      if (dir.includes('/cpu/') && l.cpus !== undefined) {
        writeFileSync(join(dir, 'cpu.cfs_period_us'), '100000');
        writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(Math.round(l.cpus * 100000)));
      }
    } catch (err) {
      throw new SvcdupError(`cannot set up the VM's cgroup ${dir}: ${(err as Error).message} (limits under Wine need root and cgroup v1)`);
    }
  }
}

/** Remove the VM's cgroups once it has no process; their parent too when no other VM is left in it. */
export function removeCgroups(l: VmLimits | undefined): void {
  for (const dir of l?.cgroups ?? []) {
    for (const d of [dir, join(dir, '..')]) {
      try {
        // the kernel refuses (EBUSY) while a process or a child cgroup is in it
        if (existsSync(d)) rmdirSync(d);
      } catch {
        /* still in use (another VM of this home): left, harmless */
      }
    }
  }
}

/** The Linux pids in a cgroup. */
export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const memoryDir = (l: VmLimits | undefined): string | undefined => l?.cgroups?.find((d) => d.includes('/memory/'));

function oomKills(dir: string): number {
  try {
    return Number(/^oom_kill (\d+)/m.exec(readFileSync(join(dir, 'memory.oom_control'), 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * VMs with a memory limit whose cgroup saw an OOM kill since the last 'limit' event: end the
 * VM's other processes (the kernel ended one) and record the event. Returns the VMs stopped.
 */
export function enforceMemoryLimits(db: Db, vms: readonly { name: string; limits?: VmLimits }[]): string[] {
  const stopped: string[] = [];
  for (const vm of vms) {
    const dir = memoryDir(vm.limits);
    if (!dir || vm.limits?.memory === undefined) continue;
    const kills = oomKills(dir);
    if (kills === 0) continue;
    const last = listEvents(db, { vm: vm.name })
      .filter((e) => e.kind === 'limit' && e.detail.limit === 'memory')
      .at(-1);
    const seen = Number(last?.detail.cgroupOomKills ?? 0);
    // the counter starts again with a new cgroup (a reboot): fewer than seen is new as well
    if (kills === seen) continue;
    const pids = cgroupPids(dir);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    let maxUsage = 0;
    try {
      maxUsage = Number(readFileSync(join(dir, 'memory.max_usage_in_bytes'), 'utf8').trim());
    } catch {
      /* gone */
    }
    recordEvent(db, {
      kind: 'limit',
      vm: vm.name,
      detail: {
        limit: 'memory',
        value: vm.limits.memory,
        maxUsage,
        ended: pids.length + 1,
        cgroupOomKills: kills,
        by: 'kernel OOM kill in the VM cgroup, then svcdup',
      },
    });
    stopped.push(vm.name);
  }
  return stopped;
}

// ---- the limits guard: one small process per home while a memory-limited VM runs ----

const guardPidFile = (home: string) => join(home, 'limits-guard.pid');

function guardAlive(home: string): boolean {
  try {
    const pid = Number(readFileSync(guardPidFile(home), 'utf8'));
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('limits-guard');
  } catch {
    return false;
  }
}

/** Before a VM's processes start: its cgroups there, and the guard running when it has a memory limit. */
export function prepareVmLimits(home: string, l: VmLimits | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if (!l?.cgroups?.length) return;
  ensureCgroups(l);
  if (l.memory === undefined || guardAlive(home) || !process.argv[1]) return;
  const child = spawn(process.execPath, [process.argv[1], 'limits-guard'], { detached: true, stdio: 'ignore', env: { ...env, SVCDUP_HOME: home } });
  writeFileSync(guardPidFile(home), String(child.pid));
  child.unref();
}

/** The guard's loop: every half second, until no memory-limited VM has had a process for a minute. */
export async function runLimitsGuard(home: string, read: () => { db: Db; vms: { name: string; limits?: VmLimits }[]; close(): void }): Promise<void> {
  writeFileSync(guardPidFile(home), String(process.pid));
  let idleSince = Date.now();
  // a home removed under it (a test's, a user's rm -rf) ends it rather than being made again
  while (Date.now() - idleSince < 60_000 && existsSync(join(home, 'state.db'))) {
    const s = read();
    try {
      enforceMemoryLimits(s.db, s.vms);
      if (s.vms.some((v) => memoryDir(v.limits) && cgroupPids(memoryDir(v.limits)!).length > 0)) idleSince = Date.now();
    } finally {
      s.close();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
