// bench/stats: what `svcdup stats --watch` (and the dashboard's stats, and each /metrics scrape)
// costs with N duplicates running (default 100): N VMs with a direct duplicate of the test
// service each, then samples every INTERVAL seconds (default 2, as `stats --watch`) for
// SAMPLES samples (default 10). The cost is the CPU time of everything a sample makes work
// (this process's sampling, the agent, the wineserver, and services.exe, the SCM that answers
// the service list) over the wall time, as % of one core, and the ms one sample takes. The
// duplicates' own CPU is not counted: a sample asks them nothing (Wine reads their counters
// from Linux /proc in the agent). Everything lives in a private prefix removed at the end.
// Usage: npx tsx bench/stats.ts [N] [--json]
import { copyFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { mapLimit, START_CONCURRENCY } from '../src/dup/limit.js';
import { sampleStats, type StatsSample } from '../src/ops/stats.js';
import { nativeExe } from '../test/helpers.js';
import { args, benchHome, cpuAndMemory, machine, prefixPids, report, round, say } from './lib.js';

const N = Number(args[0] ?? 100);
const INTERVAL_S = Number(process.env.BENCH_INTERVAL ?? 2);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 10);

const { open, cleanup } = benchHome();

const cpuOf = (pids: number[]) => pids.reduce((t, p) => t + cpuAndMemory(p).cpuMs, 0);

async function main(): Promise<void> {
  const { paths, backend, db, dups, vms } = await open('stats');
  const image = 'C:\\bench\\svcdup-testsvc.exe';
  mkdirSync(backend.toHostPath('C:\\bench'), { recursive: true });
  copyFileSync(backend.toHostPath(nativeExe(backend, 'svcdup-testsvc.exe')), backend.toHostPath(image));
  await backend.call('scm.create', { name: 'svcdup-testsvc', imagePath: image });
  const names = Array.from({ length: N }, (_, i) => `s${i}`);
  say(`stats: ${N} VMs with a direct duplicate each`);
  for (const vm of names) await vms.create(vm);
  await mapLimit(names, START_CONCURRENCY, (vm) => dups.dup('svcdup-testsvc', vm, { start: true, mode: 'direct' }));
  await new Promise((r) => setTimeout(r, 3000)); // let the starts settle

  // what a sample makes work: this process, the agent, the wineserver, the SCM
  const agent = prefixPids(paths.prefix, 'svcdup-agent');
  const wineserver = prefixPids(paths.prefix, 'wineserver');
  const scm = prefixPids(paths.prefix, 'services.exe');
  const others = [...agent, ...wineserver, ...scm];
  const load0 = loadavg()[0]!;
  const sampleMs: number[] = [];
  let prev: StatsSample | undefined;
  let last: StatsSample | undefined;
  const own0 = process.cpuUsage();
  const others0 = cpuOf(others);
  const parts0 = [cpuOf(agent), cpuOf(wineserver), cpuOf(scm)];
  const t0 = performance.now();
  for (let i = 0; i < SAMPLES; i++) {
    const s0 = performance.now();
    last = await sampleStats(backend, db, prev ? { prev } : {});
    sampleMs.push(performance.now() - s0);
    prev = last;
    if (i < SAMPLES - 1) await new Promise((r) => setTimeout(r, INTERVAL_S * 1000));
  }
  const wallMs = performance.now() - t0;
  const own = process.cpuUsage(own0);
  const ownMs = (own.user + own.system) / 1000;
  const othersMs = cpuOf(others) - others0;
  const [agentMs, wineserverMs, scmMs] = [cpuOf(agent), cpuOf(wineserver), cpuOf(scm)].map((x, i) => x - parts0[i]!);
  const running = last?.vms.filter((v) => v.duplicates.some((d) => d.state === 'RUNNING')).length ?? 0;
  const figures = {
    duplicates: N,
    running,
    intervalS: INTERVAL_S,
    samples: SAMPLES,
    sampleMsMedian: round([...sampleMs].sort((a, b) => a - b)[Math.floor(sampleMs.length / 2)]!, 1),
    cpuPercentOfOneCore: round(((ownMs + othersMs) / wallMs) * 100, 2),
    cpuMsPerSample: round((ownMs + othersMs) / SAMPLES, 1),
    svcdupCpuMs: round(ownMs, 0),
    agentCpuMs: round(agentMs!, 0),
    wineserverCpuMs: round(wineserverMs!, 0),
    scmCpuMs: round(scmMs!, 0),
    loadAverage: [round(load0, 2), round(loadavg()[0]!, 2)],
    machine: machine(),
  };
  say(
    `stats with ${N} duplicates (${running} running): a sample every ${INTERVAL_S} s costs ${figures.cpuPercentOfOneCore}% of one core (${figures.cpuMsPerSample} ms CPU a sample: svcdup ${figures.svcdupCpuMs}, agent ${figures.agentCpuMs}, wineserver ${figures.wineserverCpuMs}, services.exe ${figures.scmCpuMs} ms in all ${SAMPLES} samples; median sample ${figures.sampleMsMedian} ms); load ${figures.loadAverage.join(' -> ')}`,
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
