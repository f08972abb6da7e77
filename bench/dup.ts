// bench/dup, in one run under Wine:
//  1. time from `dup X --start` to RUNNING, and start of an existing duplicate, against
//     `sc start X` of the native service to RUNNING (all through the same agent);
//  2. private memory of svcdup-host per duplicate, against the service's own process and
//     the idle-process floor (svcdup-idle.exe; Linux view: Private_Clean + Private_Dirty);
//  3. N duplicates of one test service (default 50) running at once, all answering;
//  4. the same starts for direct duplicates (`dup --direct`: the SCM starts a hooked copy of
//     the image, no svcdup-host), and the direct image's private memory.
// The test service's image is copied into the bench's prefix first (C:\bench), so that the
// direct copies written beside it stay in the prefix.
// Usage: npx tsx bench/dup.ts [N] [--json]   (BENCH_ROUNDS: latency rounds, default 7)
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceStatus } from '../src/backend/types.js';
import { Duplicates, vmKey } from '../src/dup/dup.js';
import { openDb } from '../src/state/db.js';
import { insertVm } from '../src/state/vms.js';
import { findWine, WineBackend } from '../src/backend/wine.js';
import { resolvePaths } from '../src/config.js';
import { nativeExe, openTestHost, templateDir, testRoot } from '../test/helpers.js';
import { args, idleKb, median, onExit, prefixPids, privateKb, privateKbOf, report, round, say } from './lib.js';

const N = Number(args[0] ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const SVC = 'svcdup-testsvc';

await new WineBackend(resolvePaths({ SVCDUP_HOME: join(testRoot, 'template-home'), SVCDUP_TEMPLATE: templateDir }), findWine()).ensureTemplate();
const host = await openTestHost('bench-dup');
const b = host.backend;
const db = openDb(host.paths.stateDb);
let open = true;
const cleanup = onExit(async () => {
  if (!open) return;
  open = false;
  db.close();
  await host.dispose();
});
const dups = new Duplicates(b, db);

async function waitRunning(name: string): Promise<ServiceStatus> {
  for (;;) {
    const s = await b.call('scm.status', { name });
    if (s.state === 'RUNNING') return s;
    if (s.state === 'STOPPED' && s.win32ExitCode) throw new Error(`${name} stopped: ${s.win32ExitCode}/${s.serviceExitCode}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Where one start went, from what the processes themselves record: creation times of the
 * processes (GetProcessTimes) and the test service's own ServiceMain time (its pipe reply),
 * each as ms after the start was asked for (`wall`); `running` is when RUNNING was seen.
 * A duplicate: SCM -> svcdup-host created -> image created -> ServiceMain -> RUNNING.
 */
interface Phases {
  hostCreated?: number;
  imageCreated: number;
  serviceMain: number;
  running: number;
}
async function phases(wall: number, runningAt: number, name: string, vm: string | null): Promise<Phases> {
  const st = await b.call('scm.status', { name });
  const procs = await b.call('proc.list', {});
  const pipecall = [nativeExe(b, 'svcdup-pipecall.exe'), SVC];
  const r = await b.exec(vm ? [nativeExe(b, 'svcdup-run.exe'), '--vm', vm, '--', ...pipecall] : pipecall, { timeoutMs: 30_000 });
  const reply = JSON.parse(r.stdout) as { pid: number; startedAt: number };
  const at = (pid: number): number => (procs.find((p) => p.pid === pid)?.startedAt ?? NaN) - wall;
  return {
    ...(vm ? { hostCreated: at(st.pid) } : {}),
    imageCreated: at(reply.pid),
    serviceMain: reply.startedAt - wall,
    running: runningAt - wall,
  };
}

/** One round of a duplicate: `dup --start` timed, stopped, started again timed (with its phases), removed. */
async function dupRound(opts: { direct?: boolean }, dupMs: number[], restartMs: number[], restartPhases: Phases[]): Promise<void> {
  let t = performance.now();
  await dups.dup(SVC, 'b0', { start: true, ...opts });
  dupMs.push(performance.now() - t);
  await dups.stop(SVC, 'b0');
  t = performance.now();
  const wall = Date.now();
  await dups.start(SVC, 'b0');
  restartMs.push(performance.now() - t);
  restartPhases.push(await phases(wall, Date.now(), `${SVC}@b0`, 'b0'));
  await dups.undup(SVC, 'b0');
}

try {
  const image = 'C:\\bench\\svcdup-testsvc.exe';
  mkdirSync(b.toHostPath('C:\\bench'), { recursive: true });
  copyFileSync(b.toHostPath(nativeExe(b, 'svcdup-testsvc.exe')), b.toHostPath(image));
  await b.call('scm.create', { name: SVC, imagePath: image });
  for (let i = 0; i < N; i++) {
    insertVm(db, { name: `b${i}`, policy: '', portMap: {} });
    await b.call('reg.createKey', { key: vmKey(`b${i}`) });
  }

  // 1. start latency, native and duplicate alternating
  const native: number[] = [];
  const dup: number[] = [];
  const restart: number[] = [];
  const nativePhases: Phases[] = [];
  const restartPhases: Phases[] = [];
  const direct: number[] = [];
  const directRestart: number[] = [];
  const directPhases: Phases[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    const wall = Date.now();
    await b.call('scm.start', { name: SVC });
    await waitRunning(SVC);
    native.push(performance.now() - t);
    nativePhases.push(await phases(wall, Date.now(), SVC, null));
    await b.call('scm.control', { name: SVC, code: 1 });
    while ((await b.call('scm.status', { name: SVC })).state !== 'STOPPED') await new Promise((r) => setTimeout(r, 5));

    await dupRound({}, dup, restart, restartPhases);
    await dupRound({ direct: true }, direct, directRestart, directPhases);
  }
  const nativeMs = median(native);
  say(`sc start (native) to RUNNING, median of ${ROUNDS}:       ${nativeMs.toFixed(1)} ms`);
  say(`dup --start to RUNNING, median of ${ROUNDS}:            ${median(dup).toFixed(1)} ms   ratio ${(median(dup) / nativeMs).toFixed(2)}`);
  say(`start of an existing duplicate, median of ${ROUNDS}:    ${median(restart).toFixed(1)} ms   ratio ${(median(restart) / nativeMs).toFixed(2)}`);
  const phaseMedians = (ps: Phases[]): Record<string, number> =>
    Object.fromEntries(Object.keys(ps[0] ?? {}).map((k) => [k, round(median(ps.map((p) => p[k as keyof Phases] ?? NaN)), 0)]));
  const nativeTimeline = phaseMedians(nativePhases);
  const restartTimeline = phaseMedians(restartPhases);
  say(`where a start goes (ms, medians): native ${JSON.stringify(nativeTimeline)}; existing duplicate ${JSON.stringify(restartTimeline)}`);
  say(`dup --direct --start to RUNNING, median of ${ROUNDS}:   ${median(direct).toFixed(1)} ms   ratio ${(median(direct) / nativeMs).toFixed(2)}`);
  say(`start of an existing direct duplicate, median:       ${median(directRestart).toFixed(1)} ms   ratio ${(median(directRestart) / nativeMs).toFixed(2)}`);

  // 2 and 3. N duplicates at once
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await dups.dup(SVC, `b${i}`, { start: true });
  const upMs = performance.now() - t0;
  let answering = 0;
  const pids = new Set<number>();
  for (let i = 0; i < N; i++) {
    const r = await b.exec([nativeExe(b, 'svcdup-run.exe'), '--vm', `b${i}`, '--', nativeExe(b, 'svcdup-pipecall.exe'), SVC], { timeoutMs: 30_000 });
    if (r.code === 0) {
      answering++;
      pids.add((JSON.parse(r.stdout) as { pid: number }).pid);
    }
  }
  say(`${N} duplicates registered and started in ${(upMs / 1000).toFixed(1)} s; answering: ${answering}/${N}, distinct pids: ${pids.size}`);

  // memory, with every process settled after its start: the relayed duplicates above, one
  // direct duplicate (its process is the SCM's) and the native service
  const prefix = host.paths.prefix;
  const dupPids = new Set(prefixPids(prefix, 'svcdup-testsvc.exe'));
  insertVm(db, { name: 'bd', policy: '', portMap: {} });
  await b.call('reg.createKey', { key: vmKey('bd') });
  await dups.dup(SVC, 'bd', { start: true, direct: true });
  await b.call('scm.start', { name: SVC });
  await waitRunning(SVC);
  // each asked once, as the relayed ones were above: a served client leaves its mark in the process
  await b.exec([nativeExe(b, 'svcdup-run.exe'), '--vm', 'bd', '--', nativeExe(b, 'svcdup-pipecall.exe'), SVC], { timeoutMs: 30_000 });
  await b.exec([nativeExe(b, 'svcdup-pipecall.exe'), SVC], { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 1000));
  const hostKb = privateKb(prefix, 'svcdup-host.exe');
  const kbOf = (pids: number[]): number[] => pids.map(privateKbOf).filter((x) => !Number.isNaN(x));
  const images = prefixPids(prefix, 'svcdup-testsvc.exe');
  const svcKb = kbOf(images.filter((p) => dupPids.has(p)));
  const nativeKb = kbOf(images.filter((p) => !dupPids.has(p)));
  const directKb = privateKb(prefix, 'svcdup-testsvc@bd.exe');
  const idle = await idleKb(b);
  const hostPrivateKbPerDuplicate = median(hostKb);
  say(`svcdup-host private memory (Linux view), median of ${hostKb.length}: ${hostPrivateKbPerDuplicate} kB`);
  say(`the duplicated service's own process, median of ${svcKb.length}:     ${median(svcKb)} kB`);
  say(`the native service process:                            ${nativeKb[0] ?? NaN} kB`);
  say(`an idle Wine process (no C runtime / mingw C runtime):   ${idle.idleProcessKb} / ${idle.idleCrtProcessKb} kB`);
  say(
    `svcdup-host / service process: ${(hostPrivateKbPerDuplicate / median(svcKb)).toFixed(2)}; svcdup-host / idle process: ${(hostPrivateKbPerDuplicate / idle.idleProcessKb).toFixed(2)}`,
  );
  report({
    bench: 'dup',
    n: N,
    rounds: ROUNDS,
    nativeStartMs: round(nativeMs, 1),
    dupStartMs: round(median(dup), 1),
    restartMs: round(median(restart), 1),
    dupStartRatio: round(median(dup) / nativeMs),
    restartRatio: round(median(restart) / nativeMs),
    nativeTimeline,
    restartTimeline,
    bringUpMsPerDuplicate: round(upMs / N, 1),
    answering,
    distinctPids: pids.size,
    hostPrivateKbPerDuplicate,
    serviceProcessKb: median(svcKb),
    nativeServiceProcessKb: nativeKb[0] ?? null,
    idleProcessKb: idle.idleProcessKb,
    idleCrtProcessKb: idle.idleCrtProcessKb,
    hostOverIdle: round(hostPrivateKbPerDuplicate / idle.idleProcessKb),
    directDupStartMs: round(median(direct), 1),
    directRestartMs: round(median(directRestart), 1),
    directDupStartRatio: round(median(direct) / nativeMs),
    directRestartRatio: round(median(directRestart) / nativeMs),
    directTimeline: phaseMedians(directPhases),
    directImageKb: directKb[0] ?? null,
    // what a duplicate costs over the native service process: relayed, svcdup-host and the
    // image in the VM; direct, the hook in the service's own process
    relayOverNativeKb: nativeKb[0] !== undefined ? hostPrivateKbPerDuplicate + median(svcKb) - nativeKb[0] : null,
    directSvcdupKbPerDuplicate: directKb[0] !== undefined && nativeKb[0] !== undefined ? directKb[0] - nativeKb[0] : null,
  });
} finally {
  await cleanup();
}
