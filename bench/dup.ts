// bench/dup, in one run under Wine:
//  1. time from `dup X --start` to RUNNING, and start of an existing duplicate, against
//     `sc start X` of the native service to RUNNING (all through the same agent);
//  2. private memory of svcdup-host per duplicate, against the service's own process and
//     the idle-process floor (svcdup-idle.exe; Linux view: Private_Clean + Private_Dirty);
//  3. N duplicates of one test service (default 50) running at once, all answering;
//  4. the same starts in each mode: the default (`dup` with no mode: direct for the test
//     service, an x64 .exe), relayed (`--relayed`: svcdup-host relays) and direct (`--direct`:
//     the SCM starts a hooked copy of the image, no svcdup-host), with where a start goes;
//  5. svcdup's private memory per duplicate in the default mode (a direct image's over the
//     native service's process), and a relayed duplicate's (svcdup-host, and its image).
// dupStartRatio / restartRatio / hostPrivateKbPerDuplicate are the default mode's.
// The test service's image is copied into the bench's prefix first (C:\bench), so that the
// direct copies written beside it stay in the prefix.
// Usage: npx tsx bench/dup.ts [N] [--json]   (BENCH_ROUNDS: latency rounds, default 9)
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceStatus } from '../src/backend/types.js';
import { Duplicates, duplicateMode, vmKey, type DupMode } from '../src/dup/dup.js';
import { openDb } from '../src/state/db.js';
import { insertVm } from '../src/state/vms.js';
import { findWine, WineBackend } from '../src/backend/wine.js';
import { resolvePaths } from '../src/config.js';
import { nativeExe, openTestHost, templateDir, testRoot } from '../test/helpers.js';
import { args, idleKb, median, onExit, prefixPids, privateKb, privateKbOf, report, round, say } from './lib.js';

const N = Number(args[0] ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
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

/**
 * Wait until no test-service image nor svcdup-host of an earlier start is left in the
 * prefix (Linux view), before each timed start: STOPPED is reported before the process has
 * exited, and its teardown beside the next start (the SCM, the wineserver) would be charged
 * to whichever start comes next in the round. The same wait before every start, native or not.
 */
async function settled(): Promise<void> {
  const until = performance.now() + 5000;
  while ((prefixPids(host.paths.prefix, 'svcdup-testsvc').length || prefixPids(host.paths.prefix, 'svcdup-host.exe').length) && performance.now() < until)
    await new Promise((r) => setTimeout(r, 2));
}

async function waitRunning(name: string): Promise<ServiceStatus> {
  for (;;) {
    // as Duplicates waits (ensureRunning): the agent waits out START_PENDING, one round trip
    const s = await b.call('scm.wait', { name, ms: 5000 });
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

/**
 * One round of a duplicate: `dup --start` timed (with `Duplicates.dup`'s own timeline: plan
 * made, registered, running), stopped, started again timed (with its phases), removed.
 * Returns the mode it ran in.
 */
async function dupRound(
  mode: DupMode,
  dupMs: number[],
  restartMs: number[],
  restartPhases: Phases[],
  dupTimelines: Record<string, number>[] = [],
  firstPhases: Phases[] = [],
): Promise<string> {
  await settled();
  let t = performance.now();
  const wall0 = Date.now();
  const timeline: Record<string, number> = {};
  const plan = await dups.dup(SVC, 'b0', { start: true, mode, timeline });
  dupMs.push(performance.now() - t);
  dupTimelines.push(timeline);
  // the new duplicate's first start, as the restart's below: from the moment it was asked (right after the registration);
  // asked in every mode, so that each round does the same work before its restart
  firstPhases.push(await phases(wall0 + (timeline.registered ?? NaN), wall0 + (timeline.running ?? NaN), `${SVC}@b0`, 'b0'));
  await dups.stop(SVC, 'b0');
  await settled();
  t = performance.now();
  const wall = Date.now();
  await dups.start(SVC, 'b0');
  restartMs.push(performance.now() - t);
  restartPhases.push(await phases(wall, Date.now(), `${SVC}@b0`, 'b0'));
  await dups.undup(SVC, 'b0');
  return duplicateMode(plan.services.at(-1)!);
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
  const firstPhases: Phases[] = [];
  const relayed: number[] = [];
  const relayedRestart: number[] = [];
  const relayedPhases: Phases[] = [];
  const dupTimelines: Record<string, number>[] = [];
  const relayedDupTimelines: Record<string, number>[] = [];
  const direct: number[] = [];
  const directRestart: number[] = [];
  const directPhases: Phases[] = [];
  let defaultMode = '';
  for (let i = 0; i < ROUNDS; i++) {
    await settled();
    const t = performance.now();
    const wall = Date.now();
    await b.call('scm.start', { name: SVC });
    await waitRunning(SVC);
    native.push(performance.now() - t);
    nativePhases.push(await phases(wall, Date.now(), SVC, null));
    await b.call('scm.control', { name: SVC, code: 1 });
    while ((await b.call('scm.status', { name: SVC })).state !== 'STOPPED') await new Promise((r) => setTimeout(r, 5));

    // the three modes in turn, each first after the native start as often as the others (the
    // round right after it was 5-10 ms slower in every run when the default always came first)
    const rounds: (() => Promise<unknown>)[] = [
      async () => (defaultMode = await dupRound('auto', dup, restart, restartPhases, dupTimelines, firstPhases)),
      () => dupRound('relayed', relayed, relayedRestart, relayedPhases, relayedDupTimelines),
      () => dupRound('direct', direct, directRestart, directPhases),
    ];
    for (let k = 0; k < rounds.length; k++) await rounds[(i + k) % rounds.length]!();
  }
  const nativeMs = median(native);
  say(`sc start (native) to RUNNING, median of ${ROUNDS}:       ${nativeMs.toFixed(1)} ms`);
  say(
    `dup --start (default mode: ${defaultMode}) to RUNNING, median of ${ROUNDS}: ${median(dup).toFixed(1)} ms   ratio ${(median(dup) / nativeMs).toFixed(2)}`,
  );
  say(`start of an existing duplicate (default), median of ${ROUNDS}: ${median(restart).toFixed(1)} ms   ratio ${(median(restart) / nativeMs).toFixed(2)}`);
  say(`dup --relayed --start to RUNNING, median of ${ROUNDS}:  ${median(relayed).toFixed(1)} ms   ratio ${(median(relayed) / nativeMs).toFixed(2)}`);
  say(`start of an existing relayed duplicate, median:      ${median(relayedRestart).toFixed(1)} ms   ratio ${(median(relayedRestart) / nativeMs).toFixed(2)}`);
  const phaseMedians = (ps: readonly object[]): Record<string, number> =>
    Object.fromEntries(Object.keys(ps[0] ?? {}).map((k) => [k, round(median(ps.map((p) => (p as Record<string, number | undefined>)[k] ?? NaN)), 0)]));
  const nativeTimeline = phaseMedians(nativePhases);
  const restartTimeline = phaseMedians(restartPhases);
  const firstStartTimeline = phaseMedians(firstPhases);
  const relayedTimeline = phaseMedians(relayedPhases);
  say(`a new duplicate's first start (default), from the start asked (ms, medians): ${JSON.stringify(firstStartTimeline)}`);
  say(
    `where a start goes (ms, medians): native ${JSON.stringify(nativeTimeline)}; existing duplicate (default) ${JSON.stringify(restartTimeline)}; relayed ${JSON.stringify(relayedTimeline)}`,
  );
  // the part of a relayed start that a native one has not: svcdup-host's own Wine start-up, its work and its CreateProcess of the image
  const relayedHostToImage = median(relayedPhases.map((p) => p.imageCreated - (p.hostCreated ?? NaN)));
  say(`relayed: svcdup-host created to the image created, median of ${relayedPhases.length}: ${relayedHostToImage.toFixed(1)} ms`);
  const dupTimeline = phaseMedians(dupTimelines);
  const relayedDupTimeline = phaseMedians(relayedDupTimelines);
  say(
    `where a dup --start goes (ms after the call, medians: plan made, registered, running): default ${JSON.stringify(dupTimeline)}; relayed ${JSON.stringify(relayedDupTimeline)}`,
  );
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

  // memory, with every process settled after its start and after serving one client: the N
  // default-mode duplicates above, one relayed duplicate (svcdup-host and its image) and the
  // native service
  const prefix = host.paths.prefix;
  insertVm(db, { name: 'br', policy: '', portMap: {} });
  await b.call('reg.createKey', { key: vmKey('br') });
  await dups.dup(SVC, 'br', { start: true, mode: 'relayed' });
  await b.exec([nativeExe(b, 'svcdup-run.exe'), '--vm', 'br', '--', nativeExe(b, 'svcdup-pipecall.exe'), SVC], { timeoutMs: 30_000 });
  const dupPids = new Set(prefixPids(prefix, 'svcdup-testsvc.exe'));
  await b.call('scm.start', { name: SVC });
  await waitRunning(SVC);
  await b.exec([nativeExe(b, 'svcdup-pipecall.exe'), SVC], { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 1000));
  const hostKb = privateKb(prefix, 'svcdup-host.exe');
  const kbOf = (pids: number[]): number[] => pids.map(privateKbOf).filter((x) => !Number.isNaN(x));
  const images = prefixPids(prefix, 'svcdup-testsvc.exe');
  const svcKb = kbOf(images.filter((p) => dupPids.has(p)));
  const nativeKb = kbOf(images.filter((p) => !dupPids.has(p)));
  // the direct copies are svcdup-testsvc@bN.exe
  const directKb = privateKb(prefix, 'svcdup-testsvc@b');
  const idle = await idleKb(b);
  const relayedHostKb = median(hostKb);
  // svcdup's own memory per duplicate in the default mode: a direct image's over the native process, or svcdup-host
  const hostPrivateKbPerDuplicate =
    defaultMode === 'direct' ? (nativeKb[0] !== undefined && directKb.length ? median(directKb) - nativeKb[0] : null) : relayedHostKb;
  say(
    `svcdup's private memory per duplicate, default mode (${defaultMode}): ${hostPrivateKbPerDuplicate} kB (direct images, median of ${directKb.length}: ${median(directKb)} kB)`,
  );
  say(`svcdup-host private memory (Linux view), median of ${hostKb.length}: ${relayedHostKb} kB`);
  say(`the duplicated service's own process, median of ${svcKb.length}:     ${median(svcKb)} kB`);
  say(`the native service process:                            ${nativeKb[0] ?? NaN} kB`);
  say(`an idle Wine process (no C runtime / mingw C runtime):   ${idle.idleProcessKb} / ${idle.idleCrtProcessKb} kB`);
  say(
    `svcdup-host / service process: ${(relayedHostKb / median(svcKb)).toFixed(2)}; svcdup-host / idle process: ${(relayedHostKb / idle.idleProcessKb).toFixed(2)}`,
  );
  report({
    bench: 'dup',
    n: N,
    rounds: ROUNDS,
    nativeStartMs: round(nativeMs, 1),
    dupStartMs: round(median(dup), 1),
    restartMs: round(median(restart), 1),
    defaultMode,
    dupStartRatio: round(median(dup) / nativeMs),
    restartRatio: round(median(restart) / nativeMs),
    relayedStartMs: round(median(relayed), 1),
    relayedRestartMs: round(median(relayedRestart), 1),
    relayedStartRatio: round(median(relayed) / nativeMs),
    relayedRestartRatio: round(median(relayedRestart) / nativeMs),
    directStartRatio: round(median(direct) / nativeMs),
    nativeTimeline,
    restartTimeline,
    firstStartTimeline,
    relayedTimeline,
    relayedHostToImageMs: round(relayedHostToImage, 1),
    dupTimeline,
    relayedDupTimeline,
    bringUpMsPerDuplicate: round(upMs / N, 1),
    answering,
    distinctPids: pids.size,
    hostPrivateKbPerDuplicate,
    relayedHostPrivateKb: relayedHostKb,
    serviceProcessKb: median(svcKb),
    nativeServiceProcessKb: nativeKb[0] ?? null,
    idleProcessKb: idle.idleProcessKb,
    idleCrtProcessKb: idle.idleCrtProcessKb,
    hostOverIdle: round(relayedHostKb / idle.idleProcessKb),
    directDupStartMs: round(median(direct), 1),
    directRestartMs: round(median(directRestart), 1),
    directDupStartRatio: round(median(direct) / nativeMs),
    directRestartRatio: round(median(directRestart) / nativeMs),
    directTimeline: phaseMedians(directPhases),
    directImageKb: directKb.length ? median(directKb) : null,
    // what a duplicate costs over the native service process: relayed, svcdup-host and the
    // image in the VM; direct, the hook in the service's own process
    relayOverNativeKb: nativeKb[0] !== undefined ? relayedHostKb + median(svcKb) - nativeKb[0] : null,
    directSvcdupKbPerDuplicate: directKb.length && nativeKb[0] !== undefined ? median(directKb) - nativeKb[0] : null,
  });
} finally {
  await cleanup();
}
