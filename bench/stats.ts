// bench/stats: what `svcdup stats --watch` (and the dashboard's stats, and each /metrics scrape)
// costs with N duplicates running (default 100): N VMs with a direct duplicate of the test
// service each, then samples every INTERVAL seconds (default 2, as `stats --watch`) for
// SAMPLES samples (default 10). The cost is the CPU time of everything a sample makes work
// (the `svcdup stats --watch` process, its agent, the wineserver, and services.exe, the SCM that answers
// the service list) over the wall time, as % of one core, and per sample. The
// duplicates' own CPU is not counted: a sample asks them nothing (Wine reads their counters
// from Linux /proc in the agent). Everything lives in a private prefix removed at the end.
// Usage: npx tsx bench/stats.ts [N] [--json] (BENCH_SAMPLES, BENCH_INTERVAL, BENCH_CPU_PROF=DIR)
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/config.js';
import { mapLimit, START_CONCURRENCY } from '../src/dup/limit.js';
import type { StatsSample } from '../src/ops/stats.js';
import { nativeExe, testEnv } from '../test/helpers.js';
import { args, benchHome, cpuAndMemory, machine, prefixPids, report, round, say } from './lib.js';

const N = Number(args[0] ?? 100);
const INTERVAL_S = Number(process.env.BENCH_INTERVAL ?? 2);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 10);

const { open, cleanup } = benchHome();

const cpuOf = (pids: number[]) => pids.reduce((t, p) => t + cpuAndMemory(p).cpuMs, 0);

async function main(): Promise<void> {
  const { paths, backend, dups, vms } = await open('stats');
  const image = 'C:\\bench\\svcdup-testsvc.exe';
  mkdirSync(backend.toHostPath('C:\\bench'), { recursive: true });
  copyFileSync(backend.toHostPath(nativeExe(backend, 'svcdup-testsvc.exe')), backend.toHostPath(image));
  await backend.call('scm.create', { name: 'svcdup-testsvc', imagePath: image });
  const names = Array.from({ length: N }, (_, i) => `s${i}`);
  say(`stats: ${N} VMs with a direct duplicate each`);
  for (const vm of names) await vms.create(vm);
  await mapLimit(names, START_CONCURRENCY, (vm) => dups.dup('svcdup-testsvc', vm, { start: true, mode: 'direct' }));
  await new Promise((r) => setTimeout(r, 6000)); // let the starts settle (and be older than the agent's 5 s margin for new processes: native/agent/stats.c)

  // The real `svcdup stats --watch --json` (the compiled CLI, its own agent), as a user runs it.
  // Run from this tsx process, sampleStats would also count tsx's loader thread (esbuild's
  // worker: its garbage collection alone cost more than the sampling itself, 12 of 17 ms a sample).
  // The first WARMUP samples are left out: the CLI's start, and its agent, a new process the
  // agent's own job reading treats as one that may still join a VM (native/agent/stats.c).
  const WARMUP = 3;
  const agentsBefore = new Set(prefixPids(paths.prefix, 'svcdup-agent'));
  // BENCH_CPU_PROF=DIR: the CLI's V8 CPU profile into DIR (node --cpu-prof), to see where its share goes
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const cli = spawn(process.execPath, [...prof, join(packageRoot, 'dist/cli.js'), 'stats', '--watch', '--json', '--interval', String(INTERVAL_S)], {
    env: testEnv(paths),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const wineserver = prefixPids(paths.prefix, 'wineserver');
  const scm = prefixPids(paths.prefix, 'services.exe');
  let agent: number[] = [];
  const load0 = loadavg()[0]!;
  let at0 = 0;
  let parts0: number[] = [];
  let last: StatsSample | undefined;
  const parts = () => [cpuOf([cli.pid!]), cpuOf(agent), cpuOf(wineserver), cpuOf(scm)];
  const wallMs = await new Promise<number>((resolve, reject) => {
    let lines = 0;
    let buf = '';
    cli.on('exit', (code) => reject(new Error(`svcdup stats --watch ended (${code}) after ${lines} samples`)));
    cli.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        last = JSON.parse(buf.slice(0, i)) as StatsSample;
        buf = buf.slice(i + 1);
        lines += 1;
        if (lines === WARMUP) {
          agent = prefixPids(paths.prefix, 'svcdup-agent').filter((p) => !agentsBefore.has(p));
          parts0 = parts();
          at0 = performance.now();
        } else if (lines === WARMUP + SAMPLES) {
          cli.removeAllListeners('exit');
          resolve(performance.now() - at0);
        }
      }
    });
  });
  const [ownMs, agentMs, wineserverMs, scmMs] = parts().map((x, i) => x - parts0[i]!) as [number, number, number, number];
  cli.kill('SIGTERM');
  const othersMs = agentMs + wineserverMs + scmMs;
  const running = last?.vms.filter((v) => v.duplicates.some((d) => d.state === 'RUNNING')).length ?? 0;
  const figures = {
    duplicates: N,
    running,
    intervalS: INTERVAL_S,
    samples: SAMPLES,
    cpuPercentOfOneCore: round(((ownMs + othersMs) / wallMs) * 100, 2),
    cpuMsPerSample: round((ownMs + othersMs) / SAMPLES, 1),
    svcdupCpuMs: round(ownMs, 0),
    agents: agent.length,
    agentCpuMs: round(agentMs, 0),
    wineserverCpuMs: round(wineserverMs, 0),
    scmCpuMs: round(scmMs, 0),
    loadAverage: [round(load0, 2), round(loadavg()[0]!, 2)],
    machine: machine(),
  };
  say(
    `stats with ${N} duplicates (${running} running): a sample every ${INTERVAL_S} s costs ${figures.cpuPercentOfOneCore}% of one core (${figures.cpuMsPerSample} ms CPU a sample: svcdup ${figures.svcdupCpuMs}, agent ${figures.agentCpuMs}, wineserver ${figures.wineserverCpuMs}, services.exe ${figures.scmCpuMs} ms in all ${SAMPLES} samples); load ${figures.loadAverage.join(' -> ')}`,
  );
  report({ bench: 'stats', ...figures });
}

main()
  .then(cleanup, async (e: unknown) => {
    await cleanup();
    throw e;
  })
  .catch((e: unknown) => {
    say(`bench/stats failed: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  });
