// bench/health: what the watcher costs (docs/operate.md, "What runs when no command does") with N
// duplicates (default 100), each the test service listening on TCP in its own VM, each with
// `--restart on-failure --health tcp:PORT`: CPU time of the watcher (its Node loop, run here),
// of the agent it calls (one scm.list a second) and what the wineserver spends beyond its idle
// rate, over a window, as a percentage of one core. At the default interval (10 s) and at 1 s.
// Every duplicate must have been found healthy (the probes really ran). A private prefix,
// removed at the end, on a failure and on Ctrl-C alike.
// Usage: npx tsx bench/health.ts [N] [--json]
import { copyFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { mapLimit, START_CONCURRENCY } from '../src/dup/limit.js';
import { healthText, parseHealth } from '../src/ops/health.js';
import { Watcher } from '../src/watch/watcher.js';
import { listRuntime, setPolicy } from '../src/state/runtime.js';
import { nativeExe } from '../test/helpers.js';
import { args, benchHome, cpuAndMemory, machine, prefixPids, report, round, say } from './lib.js';

const N = Number(args[0] ?? 100);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 30_000);
const PORT = 7800;
const SVC = 'svcdup-testsvc';

const { open, cleanup } = benchHome();

const cpuOf = (pid: number | undefined): number => (pid ? cpuAndMemory(pid).cpuMs : 0);

/** CPU ms over `ms` of: this process, the agent, the wineserver; with the watcher ticking or not. */
async function window(prefix: string, ms: number, watcher?: Watcher): Promise<{ node: number; agent: number; wineserver: number }> {
  const agent = prefixPids(prefix, 'svcdup-agent')[0];
  const ws = prefixPids(prefix, 'wineserver')[0];
  const c0 = process.cpuUsage();
  const a0 = cpuOf(agent);
  const w0 = cpuOf(ws);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // as the watcher's own loop does (src/watch/daemon.ts)
    if (watcher) await watcher.tick();
    await new Promise((r) => setTimeout(r, watcher ? watcher.nextDue() - Date.now() : 1000));
  }
  const c1 = process.cpuUsage(c0);
  return { node: (c1.user + c1.system) / 1000, agent: cpuOf(agent) - a0, wineserver: cpuOf(ws) - w0 };
}

const figures: Record<string, unknown> = { machine: machine(), n: N, windowMs: WINDOW_MS };
try {
  const { backend, db, paths, dups, vms } = await open('health');
  const image = 'C:\\bench\\svcdup-testsvc.exe';
  mkdirSync(backend.toHostPath('C:\\bench'), { recursive: true });
  copyFileSync(backend.toHostPath(nativeExe(backend, 'svcdup-testsvc.exe')), backend.toHostPath(image));
  await backend.call('scm.create', { name: SVC, imagePath: `${image} --tcp ${PORT}` });
  const names = Array.from({ length: N }, (_, i) => `h${i}`);
  const t0 = performance.now();
  for (const vm of names) await vms.create(vm);
  await mapLimit(names, START_CONCURRENCY, (vm) => dups.dup(SVC, vm, { start: true }));
  say(`${N} duplicates up in ${((performance.now() - t0) / 1000).toFixed(0)} s (load ${loadavg()[0]!.toFixed(1)})`);

  const pct = (ms: number) => round((ms / WINDOW_MS) * 100, 2);
  const idle = await window(paths.prefix, WINDOW_MS);
  say(`idle: wineserver ${idle.wineserver} ms CPU in ${WINDOW_MS} ms`);
  for (const interval of [10, 1]) {
    const health = healthText(parseHealth(`tcp:${PORT}`, String(interval), '3'));
    for (const vm of names) setPolicy(db, vm, SVC, { restart: 'on-failure', health });
    const w = new Watcher(backend, db, { scmRestarts: false });
    await w.tick(); // the first look: every duplicate seen RUNNING from here
    const load = loadavg()[0]!;
    const run = await window(paths.prefix, WINDOW_MS, w);
    const healthy = listRuntime(db).filter((r) => r.healthState === 'healthy').length;
    const total = run.node + run.agent + Math.max(0, run.wineserver - idle.wineserver);
    const f = {
      intervalS: interval,
      watcherNodeCpuPct: pct(run.node),
      agentCpuPct: pct(run.agent),
      wineserverExtraCpuPct: pct(Math.max(0, run.wineserver - idle.wineserver)),
      totalCpuPctOfOneCore: pct(total),
      healthy,
      loadAverage: round(load, 1),
    };
    figures[`interval${interval}s`] = f;
    say(
      `interval ${interval} s: ${f.totalCpuPctOfOneCore}% of one core (watcher ${f.watcherNodeCpuPct}%, agent ${f.agentCpuPct}%, wineserver +${f.wineserverExtraCpuPct}%); ${healthy}/${N} healthy; load ${f.loadAverage}`,
    );
  }
  report(figures);
} finally {
  await cleanup();
}
