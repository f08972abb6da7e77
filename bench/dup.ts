// bench/dup, in one run under Wine:
//  1. time from `dup X --start` to RUNNING, against `sc start X` of the native service
//     to RUNNING (both through the same agent; the CLI adds Node's start-up on top);
//  2. private memory of svcdup-host per duplicate, against the service's own process and
//     a do-nothing Wine process (Linux view: Private_Clean + Private_Dirty of smaps_rollup);
//  3. N duplicates of one test service (default 50) running at once, all answering.
// Usage: npx tsx bench/dup.ts [N]
import { readFileSync, readdirSync } from 'node:fs';
import type { ServiceStatus } from '../src/backend/types.js';
import { Duplicates, vmKey } from '../src/dup/dup.js';
import { openDb } from '../src/state/db.js';
import { insertVm } from '../src/state/vms.js';
import { findWine, WineBackend } from '../src/backend/wine.js';
import { resolvePaths } from '../src/config.js';
import { join } from 'node:path';
import { nativeExe, openTestHost, templateDir, testRoot } from '../test/helpers.js';

const N = Number(process.argv[2] ?? 50);
const SVC = 'svcdup-testsvc';
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await new WineBackend(resolvePaths({ SVCDUP_HOME: join(testRoot, 'template-home'), SVCDUP_TEMPLATE: templateDir }), findWine()).ensureTemplate();
const host = await openTestHost('bench-dup');
const b = host.backend;
const db = openDb(host.paths.stateDb);
const dups = new Duplicates(b, db);

async function waitRunning(name: string): Promise<ServiceStatus> {
  for (;;) {
    const s = await b.call('scm.status', { name });
    if (s.state === 'RUNNING') return s;
    if (s.state === 'STOPPED' && s.win32ExitCode) throw new Error(`${name} stopped: ${s.win32ExitCode}/${s.serviceExitCode}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Linux private memory (kB) of the Wine process whose command line mentions `needle`, by Windows pid order. */
function privateKb(needle: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes(needle)) continue;
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (!env.includes(`WINEPREFIX=${host.paths.prefix}`)) continue;
      const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(roll)?.[1] ?? 0);
      out.push(kb('Private_Clean') + kb('Private_Dirty'));
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}

try {
  await b.call('scm.create', { name: SVC, imagePath: nativeExe(b, 'svcdup-testsvc.exe') });
  for (let i = 0; i < N; i++) {
    insertVm(db, { name: `b${i}`, policy: '', portMap: {} });
    await b.call('reg.createKey', { key: vmKey(`b${i}`) });
  }

  // 1. start latency
  const native: number[] = [];
  const dup: number[] = [];
  const restart: number[] = [];
  for (let i = 0; i < 7; i++) {
    let t = performance.now();
    await b.call('scm.start', { name: SVC });
    await waitRunning(SVC);
    native.push(performance.now() - t);
    await b.call('scm.control', { name: SVC, code: 1 });
    while ((await b.call('scm.status', { name: SVC })).state !== 'STOPPED') await new Promise((r) => setTimeout(r, 5));

    t = performance.now();
    await dups.dup(SVC, 'b0', { start: true });
    dup.push(performance.now() - t);
    await dups.stop(SVC, 'b0');
    t = performance.now();
    await dups.start(SVC, 'b0');
    restart.push(performance.now() - t);
    await dups.undup(SVC, 'b0');
  }
  console.log(`sc start (native) to RUNNING, median of 7:       ${median(native).toFixed(1)} ms`);
  console.log(`dup --start to RUNNING, median of 7:            ${median(dup).toFixed(1)} ms   ratio ${(median(dup) / median(native)).toFixed(2)}`);
  console.log(`start of an existing duplicate, median of 7:    ${median(restart).toFixed(1)} ms   ratio ${(median(restart) / median(native)).toFixed(2)}`);

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
  console.log(`${N} duplicates registered and started in ${(upMs / 1000).toFixed(1)} s; answering: ${answering}/${N}, distinct pids: ${pids.size}`);

  const hostKb = privateKb('svcdup-host.exe');
  const svcKb = privateKb('svcdup-testsvc.exe');
  await b.call('scm.start', { name: SVC });
  await waitRunning(SVC);
  const nativeKb = privateKb('svcdup-testsvc.exe').filter((x) => !svcKb.includes(x));
  console.log(`svcdup-host private memory (Linux view), median of ${hostKb.length}: ${median(hostKb)} kB`);
  console.log(`the duplicated service's own process, median of ${svcKb.length}:     ${median(svcKb)} kB`);
  console.log(`the native service process:                            ${nativeKb[0] ?? NaN} kB`);
  console.log(`svcdup-host / service process:                         ${(median(hostKb) / median(svcKb)).toFixed(2)}`);
  console.log('(every Wine process carries Wine\'s own private pages; the 2 MB aim is for Windows, where this cannot be measured here)');
} finally {
  db.close();
  await host.dispose();
}
