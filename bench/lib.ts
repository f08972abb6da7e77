// Shared by the benchmarks: figures as one JSON object (`--json`) or as prose, the
// Linux view of a Wine prefix's processes (private memory, wineserver CPU time), the
// idle-process floor, and cleanup of a bench's Wine home on a failure or Ctrl-C.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createBackend, type ManagedBackend } from '../src/backend/index.js';
import { resolvePaths, type Paths } from '../src/config.js';
import { Duplicates } from '../src/dup/dup.js';
import { Vms } from '../src/vm/ops.js';
import { dbVmStore } from '../src/vm/store.js';
import { openDb, type Db } from '../src/state/db.js';
import { nativeDir, templateDir } from '../test/helpers.js';

export const json = process.argv.includes('--json');
/** The positional arguments (everything but --json). */
export const args = process.argv.slice(2).filter((a) => a !== '--json');

export const median = (xs: number[]): number => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);
export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** Prose goes to stdout without --json, to stderr with it (stdout then holds only the JSON object). */
export function say(line: string): void {
  (json ? process.stderr : process.stdout).write(line + '\n');
}

/** The bench's result: with --json, one object of named figures on stdout. */
export function report(figures: Record<string, unknown>): void {
  if (json) process.stdout.write(JSON.stringify(figures) + '\n');
}

/** Every process of `prefix` (by its WINEPREFIX) whose command line contains `needle`. */
export function prefixPids(prefix: string, needle: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) continue;
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (env.split('\0').includes(`WINEPREFIX=${prefix}`)) out.push(Number(pid));
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}

/** Private memory (kB) of a Linux process: Private_Clean + Private_Dirty of smaps_rollup. */
export function privateKbOf(pid: number): number {
  try {
    const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(roll)?.[1] ?? 0);
    return kb('Private_Clean') + kb('Private_Dirty');
  } catch {
    return NaN;
  }
}

/** Private memory (kB) of each process of `prefix` whose command line contains `needle`. */
export function privateKb(prefix: string, needle: string): number[] {
  return prefixPids(prefix, needle)
    .map(privateKbOf)
    .filter((x) => !Number.isNaN(x));
}

/** The wineserver of a prefix: its pid (found by the prefix's server socket being ours is not
    visible in /proc, so by WINEPREFIX in its environment). */
export function wineserverPid(prefix: string): number | undefined {
  return prefixPids(prefix, 'wineserver')[0];
}

/** CPU time (ms, user + system) and private memory (kB) of a Linux process. */
export function cpuAndMemory(pid: number): { cpuMs: number; privateKb: number; rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  const hz = 100;
  const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return { cpuMs: (ticks * 1000) / hz, privateKb: privateKbOf(pid), rssKb: rss };
}

/**
 * The floor: private memory of svcdup-idle.exe (no C runtime, kernel32 only: the smallest
 * Wine process there is) and of the same program on mingw's C runtime, run in the prefix.
 */
export async function idleKb(backend: ManagedBackend): Promise<{ idleProcessKb: number; idleCrtProcessKb: number }> {
  const one = async (exe: string): Promise<number> => {
    const prefix = backend.paths.prefix;
    const samples: number[] = [];
    for (let i = 0; i < 3; i++) {
      // sampled while it sleeps: the largest figure seen is the settled one (on a loaded
      // machine a sample taken too early sees a process still being loaded)
      const run = backend.exec([backend.toWindowsPath(join(nativeDir, exe)), '6000'], { timeoutMs: 60_000 });
      let done = false;
      void run.finally(() => (done = true));
      let max = 0;
      while (!done) {
        await new Promise((r) => setTimeout(r, 300));
        for (const kb of privateKb(prefix, exe)) max = Math.max(max, kb);
      }
      await run;
      if (max) samples.push(max);
    }
    return median(samples);
  };
  return { idleProcessKb: await one('svcdup-idle.exe'), idleCrtProcessKb: await one('svcdup-idle-crt.exe') };
}

/** The machine a figure was measured on. */
export function machine(wineVersion?: string): { cores: number; memoryGb: number; cpu: string; wine: string } {
  let wine = wineVersion ?? '';
  if (!wine) {
    const r = spawnSync(process.env.SVCDUP_WINE ?? 'wine', ['--version'], { encoding: 'utf8' });
    wine = (r.stdout ?? '').trim();
  }
  return { cores: cpus().length, memoryGb: round(totalmem() / 2 ** 30, 1), cpu: cpus()[0]?.model ?? '', wine };
}

/**
 * `cleanup` also runs on Ctrl-C / SIGTERM (then the bench exits 130/143), so that a bench
 * never leaves its wineserver, VMs or duplicates behind; the bench calls the returned
 * function itself on normal exit and on an error. `cleanup` must be idempotent.
 */
export function onExit(cleanup: () => Promise<void>): () => Promise<void> {
  const run = (): Promise<void> => cleanup().catch((e: unknown) => say(`cleanup failed: ${String(e)}`));
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(sig, () => {
      say(`${sig}: cleaning up`);
      void run().then(() => process.exit(code));
    });
  }
  return run;
}

/**
 * A bench's private Wine home, at most one at a time: `open(label)` makes it (outside
 * .svcdup-test: a test run elsewhere wipes .svcdup-test/homes at its start) with its backend,
 * database, duplicates and VMs; `cleanup` (also on Ctrl-C) closes the database, ends its
 * wineserver (every VM process and duplicate with it) and removes the home.
 */
export function benchHome(): {
  open(label: string): Promise<{ home: string; paths: Paths; backend: ManagedBackend; db: Db; dups: Duplicates; vms: Vms }>;
  cleanup: () => Promise<void>;
} {
  let current: { backend: ManagedBackend; db: Db; home: string } | undefined;
  const cleanup = onExit(async () => {
    const c = current;
    current = undefined;
    if (!c) return;
    try {
      c.db.close();
    } catch {
      /* already closed */
    }
    await c.backend.shutdown();
    rmSync(c.home, { recursive: true, force: true });
  });
  const open = async (label: string) => {
    const home = join(tmpdir(), `svcdup-bench-${label}-${process.pid}`);
    mkdirSync(home, { recursive: true });
    const paths = { ...resolvePaths({ SVCDUP_HOME: home, SVCDUP_TEMPLATE: templateDir }), nativeDir };
    const backend = createBackend({ kind: 'wine', paths });
    const db = openDb(paths.stateDb);
    current = { backend, db, home };
    await backend.open();
    const dups = new Duplicates(backend, db);
    return { home, paths, backend, db, dups, vms: new Vms(backend, dbVmStore(db), dups) };
  };
  return { open, cleanup };
}
