// bench/density: how many duplicates one host holds, and whether the cost per duplicate
// stays flat as their number grows. For each N (default 50, 100, 250, 500) in a fresh
// prefix: N VMs, each with its own duplicate of the project's test service started in it
// (VMs one after the other, then `dup --start` 8 at a time), then every one asked through its own VM (a VM
// client to the service's pipe: each must answer, from a distinct process). Then RpcSs
// (default 100): N duplicates, each VM's epmapper served by that VM's own RpcSs.
// Figures per N: ms per duplicate to bring up (VM + dup --start), private memory of
// svcdup's own processes (every svcdup-host) / N against the idle-process floor, the
// wineserver's CPU time and memory growth per duplicate, and ms per duplicate to remove
// (undup + VM removal, of the first BENCH_REMOVED, default 10: removal slows as N grows). Everything lives in a private prefix that is removed at the end,
// on a failure and on Ctrl-C alike.
// Direct duplicates (`dup --direct`: the SCM starts a hooked copy of the image, no
// svcdup-host) of the test service are measured the same way, at BENCH_DIRECT sizes
// (default 50,500; 0: none); svcdup's memory per duplicate is then what the hook adds to
// the service's own process (its image over the native one's).
// Usage: npx tsx bench/density.ts [N,N,...] [--rpcss N] [--json]
import { copyFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { mapLimit, START_CONCURRENCY } from '../src/dup/limit.js';
import { nativeDir, nativeExe } from '../test/helpers.js';
import { args, benchHome, cpuAndMemory, idleKb, machine, prefixPids, privateKbOf, report, round, say } from './lib.js';

const rpcssAt = process.argv.indexOf('--rpcss');
const RPCSS_N = rpcssAt > 0 ? Number(process.argv[rpcssAt + 1]) : Number(process.env.BENCH_RPCSS ?? 100);
const positional = args.filter((a, i) => !(rpcssAt > 0 && (a === '--rpcss' || args[i - 1] === '--rpcss')));
const SIZES = (positional[0] ?? '50,100,250,500')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const DIRECT_SIZES = (process.env.BENCH_DIRECT ?? '50,500')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const CONCURRENCY = 4; // VM clients asking at once (the machine has 2 cores)
const REMOVED = Number(process.env.BENCH_REMOVED ?? 10); // duplicates removed one by one at the end of a round

interface Round {
  service: string;
  /** relay: svcdup-host per duplicate; direct: `dup --direct` */
  mode: 'relay' | 'direct';
  n: number;
  bringUpMsPerDuplicate: number;
  vmCreateMsPerDuplicate: number;
  dupStartMsPerDuplicate: number;
  answering: number;
  notAnswering: string[];
  distinctPids: number;
  svcdupPrivateKbTotal: number;
  svcdupPrivateKbPerDuplicate: number;
  overIdleFloor: number;
  imagePrivateKbPerDuplicate: number;
  wineserverCpuMsPerDuplicate: number;
  wineserverPrivateKb: number;
  wineserverPrivateKbPerDuplicate: number;
  removeMsPerDuplicate: number;
  /** duplicates brought up at once */
  startConcurrency: number;
  /** dup --start calls that failed (the round goes on without them) */
  upFailed: number;
  firstFailure?: string;
  /** the machine's 1-minute load average before and after the bring-up */
  loadAverage: number[];
}

const { open, cleanup } = benchHome();

async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function round1(service: 'svcdup-testsvc' | 'RpcSs', n: number, idleFloorKb: { v?: number }, mode: Round['mode'] = 'relay'): Promise<Round> {
  const direct = mode === 'direct';
  const { paths, backend, dups, vms } = await open(`density-${service}-${n}-${mode}`);
  const prefix = paths.prefix;
  // the test service's image in the prefix: direct copies are written beside it
  const testImage = 'C:\\bench\\svcdup-testsvc.exe';
  if (service === 'svcdup-testsvc') {
    mkdirSync(backend.toHostPath('C:\\bench'), { recursive: true });
    copyFileSync(backend.toHostPath(nativeExe(backend, 'svcdup-testsvc.exe')), backend.toHostPath(testImage));
    await backend.call('scm.create', { name: service, imagePath: testImage });
  }
  idleFloorKb.v ??= (await idleKb(backend)).idleProcessKb;
  const names = Array.from({ length: n }, (_, i) => `d${i}`);

  const ws = prefixPids(prefix, 'wineserver')[0];
  const ws0 = ws ? cpuAndMemory(ws) : undefined;
  // VMs one after the other (each takes the next free address), then `dup --start` of
  // START_CONCURRENCY at once: wall-clock time over N is the bring-up cost per duplicate
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  for (const vm of names) await vms.create(vm);
  const vmMs = performance.now() - t0;
  let up = 0;
  const t1 = performance.now();
  const failed: string[] = []; // a failure is counted and named, and the others go on
  await mapLimit(names, START_CONCURRENCY, async (vm) => {
    try {
      await dups.dup(service, vm, { start: true, mode: direct ? 'direct' : 'relayed' });
    } catch (err) {
      failed.push(`${vm}: ${(err as Error).message.split('\n')[0]}`);
      say(`${service} N=${n}: ${vm} failed: ${failed[failed.length - 1]}`);
      return;
    }
    if (++up % 50 === 0 && up < n) say(`${service} N=${n}: ${up} up, ${((vmMs + performance.now() - t1) / up).toFixed(0)} ms/dup so far`);
  });
  const dupMs = performance.now() - t1;
  const upMs = vmMs + dupMs;
  const load1 = loadavg()[0]!;
  const ws1 = ws ? cpuAndMemory(ws) : undefined;

  // every duplicate answers through its own VM, from its own process
  let answering = 0;
  const silent: string[] = []; // duplicates that did not answer, and why
  const pids = new Set<number>();
  const hostRpcss = service === 'RpcSs' ? (await backend.call('scm.status', { name: 'RpcSs' })).pid : 0;
  await pool(names, CONCURRENCY, async (vm) => {
    const exe = join(nativeDir, 'svcdup-pipecall.exe');
    const r = await vms.run(vm, service === 'RpcSs' ? [exe, '--server-pid', 'epmapper'] : [exe, service], { timeoutMs: 60_000 });
    if (r.code !== 0) {
      // named, with what the client said and the duplicate's state: a figure with a reason
      const st = await backend.call('scm.status', { name: `${service}@${vm}` }).catch((e: Error) => ({ state: e.message, pid: 0 }));
      silent.push(`${vm}: client exit ${r.code} ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}; duplicate ${st.state} pid ${st.pid}`);
      say(`${service} N=${n}: ${silent[silent.length - 1]}`);
      return;
    }
    const pid = service === 'RpcSs' ? Number(r.stdout.trim()) : (JSON.parse(r.stdout) as { pid: number }).pid;
    if (pid > 0 && pid !== hostRpcss) {
      answering++;
      pids.add(pid);
    }
  });

  const hostKb = prefixPids(prefix, 'svcdup-host.exe')
    .map(privateKbOf)
    .filter((x) => !Number.isNaN(x));
  const image = service === 'RpcSs' ? 'rpcss.exe' : direct ? 'svcdup-testsvc@' : 'svcdup-testsvc.exe';
  const imageKb = prefixPids(prefix, image)
    .map(privateKbOf)
    .filter((x) => !Number.isNaN(x));
  const imageTotal = imageKb.reduce((a, b) => a + b, 0);
  // direct: no svcdup process; what svcdup costs is the hook in each image, over the native process
  let nativeKb: number | undefined;
  if (direct) {
    await backend.call('scm.start', { name: service });
    while ((await backend.call('scm.status', { name: service })).state !== 'RUNNING') await new Promise((r) => setTimeout(r, 20));
    // asked once, as every duplicate was: a served client leaves its mark in the process
    await backend.exec([join(nativeDir, 'svcdup-pipecall.exe'), service], { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 500));
    const pid = prefixPids(prefix, 'svcdup-testsvc.exe')[0];
    nativeKb = pid ? privateKbOf(pid) : undefined;
  }
  const total = direct ? (nativeKb === undefined ? NaN : imageTotal - nativeKb * imageKb.length) : hostKb.reduce((a, b) => a + b, 0);

  // orderly removal of the first REMOVED (undup + VM removal, each journaled); the rest
  // go with the prefix: at 500 an orderly removal of all would take longer than the rest
  const removed = names.slice(0, REMOVED);
  const tr = performance.now();
  for (const vm of removed) await vms.remove(vm);
  const removeMs = performance.now() - tr;
  await cleanup();

  const r: Round = {
    service,
    mode,
    n,
    bringUpMsPerDuplicate: round(upMs / n, 1),
    vmCreateMsPerDuplicate: round(vmMs / n, 1),
    dupStartMsPerDuplicate: round(dupMs / n, 1),
    answering,
    notAnswering: silent,
    distinctPids: pids.size,
    svcdupPrivateKbTotal: total,
    svcdupPrivateKbPerDuplicate: round(total / n, 0),
    overIdleFloor: round(total / n / idleFloorKb.v),
    imagePrivateKbPerDuplicate: round(imageTotal / n, 0),
    wineserverCpuMsPerDuplicate: ws0 && ws1 ? round((ws1.cpuMs - ws0.cpuMs) / n, 2) : NaN,
    wineserverPrivateKb: ws1?.privateKb ?? NaN,
    wineserverPrivateKbPerDuplicate: ws0 && ws1 ? round((ws1.privateKb - ws0.privateKb) / n, 1) : NaN,
    removeMsPerDuplicate: round(removeMs / removed.length, 1),
    startConcurrency: START_CONCURRENCY,
    upFailed: failed.length,
    ...(failed.length ? { firstFailure: failed[0] } : {}),
    loadAverage: [round(load0, 1), round(load1, 1)],
  };
  say(
    `${service.padEnd(14)} ${mode.padEnd(6)} N=${String(n).padStart(3)}: up ${r.bringUpMsPerDuplicate} ms/dup (vm create ${r.vmCreateMsPerDuplicate}, dup --start ${r.dupStartMsPerDuplicate}), answering ${answering}/${n} (${pids.size} pids), ` +
      `svcdup ${r.svcdupPrivateKbPerDuplicate} kB/dup (${r.overIdleFloor}x idle), image ${r.imagePrivateKbPerDuplicate} kB/dup, ` +
      `wineserver ${r.wineserverCpuMsPerDuplicate} ms CPU/dup, +${r.wineserverPrivateKbPerDuplicate} kB/dup (${r.wineserverPrivateKb} kB), remove ${r.removeMsPerDuplicate} ms/dup, load ${r.loadAverage.join(' -> ')}`,
  );
  return r;
}

try {
  const floor: { v?: number } = {};
  const rounds: Round[] = [];
  for (const n of SIZES) rounds.push(await round1('svcdup-testsvc', n, floor));
  if (RPCSS_N > 0) rounds.push(await round1('RpcSs', RPCSS_N, floor));
  for (const n of DIRECT_SIZES) rounds.push(await round1('svcdup-testsvc', n, floor, 'direct'));

  // growth: each figure at the largest N over the same figure at the smallest (flat = 1)
  const test = rounds.filter((r) => r.service === 'svcdup-testsvc' && r.mode === 'relay');
  const first = test[0];
  const last = test[test.length - 1];
  const growth =
    first && last && first !== last
      ? {
          from: first.n,
          to: last.n,
          bringUp: round(last.bringUpMsPerDuplicate / first.bringUpMsPerDuplicate),
          svcdupPrivate: round(last.svcdupPrivateKbPerDuplicate / first.svcdupPrivateKbPerDuplicate),
          wineserverCpu: round(last.wineserverCpuMsPerDuplicate / first.wineserverCpuMsPerDuplicate),
          wineserverMemory: round(last.wineserverPrivateKbPerDuplicate / first.wineserverPrivateKbPerDuplicate),
          remove: round(last.removeMsPerDuplicate / first.removeMsPerDuplicate),
        }
      : null;
  if (!process.argv.includes('--json')) {
    console.log(
      '\n| service | mode | N | bring-up ms/dup | answering | svcdup kB/dup | x idle floor | image kB/dup | wineserver CPU ms/dup | wineserver +kB/dup | remove ms/dup |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rounds)
      console.log(
        `| ${r.service} | ${r.mode} | ${r.n} | ${r.bringUpMsPerDuplicate} | ${r.answering}/${r.n} | ${r.svcdupPrivateKbPerDuplicate} | ${r.overIdleFloor} | ${r.imagePrivateKbPerDuplicate} | ${r.wineserverCpuMsPerDuplicate} | ${r.wineserverPrivateKbPerDuplicate} | ${r.removeMsPerDuplicate} |`,
      );
    if (growth) console.log(`\ngrowth ${growth.from} -> ${growth.to} (1 = flat): ${JSON.stringify(growth)}`);
  }
  report({ bench: 'density', idleProcessKb: floor.v, rounds, growth, machine: machine() });
} finally {
  await cleanup();
}
