// bench/files: what file copy-on-write (issue 10, docs/state.md) costs. svcdup-fbench.exe
// times each operation in-process on the host and in a VM (file cow on), alternating, in
// the same run and prefix; the ratios VM / native are the result. Aims (issue 10):
// open+read+close of an unchanged host file and of a VM-private file <= 1.10x, listing a
// 1,000-entry folder with 100 VM changes <= 1.5x, copy-up of a big file <= 1.5x `cp` on the
// same disk; the hook's memory bounded whatever the number of files touched. What is left of a
// VM-private open is split in the same run: a native process opening the same private copy by
// its area path C:\ProgramData\svcdup\VMs\bench\files\C\... (openAreaNativeUs) pays the deeper path
// and no hook; the VM opens it by a unix spelling two components shorter (docs/state.md). And
// what a process pays for files it opens once (the DLLs it loads, the files it reads at start):
// the first open of each of BENCH_FILES_FIRSTS host files in one folder, in a fresh process.
// Usage: npx tsx bench/files.ts [--json]
// BENCH_ROUNDS (5), BENCH_ITERATIONS (300), BENCH_FILES_MB (100), BENCH_FILES_TOUCH (10000),
// BENCH_FILES_FIRSTS (200).
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDb } from '../src/state/db.js';
import { fileAreaWin } from '../src/vm/files.js';
import { Vms } from '../src/vm/ops.js';
import { dbVmStore } from '../src/vm/store.js';
import { COW_POLICY, nativeExe, openTestHost } from '../test/helpers.js';
import { median, privateKb, report, round, say } from './lib.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const iterations = Number(process.env.BENCH_ITERATIONS ?? 300);
const bigMb = Number(process.env.BENCH_FILES_MB ?? 100);
const touchN = Number(process.env.BENCH_FILES_TOUCH ?? 10000);
const firstsN = Number(process.env.BENCH_FILES_FIRSTS ?? 200);

const host = await openTestHost('bench-files');
const db = openDb(host.paths.stateDb);
try {
  const b = host.backend;
  const vms = new Vms(b, dbVmStore(db));
  await vms.create('bench', COW_POLICY);
  const exe = nativeExe(b, 'svcdup-fbench.exe');
  const D = 'C:\\fbench';
  const dir = b.toHostPath(D);
  const area = b.toHostPath(`${fileAreaWin('bench')}\\C\\fbench`);
  mkdirSync(join(dir, 'list'), { recursive: true });
  mkdirSync(join(dir, 't10'), { recursive: true });
  mkdirSync(join(dir, 'tmany'), { recursive: true });
  mkdirSync(join(dir, 'firsts'), { recursive: true });
  const page = Buffer.alloc(4096, 'svcdup file bench ');
  writeFileSync(join(dir, 'read.txt'), page);
  writeFileSync(join(dir, 'priv.txt'), page);
  for (let i = 0; i < 1000; i++) writeFileSync(join(dir, 'list', `e${String(i).padStart(4, '0')}.txt`), 'x');
  for (let i = 0; i < 10; i++) writeFileSync(join(dir, 't10', `f${i}.txt`), 'x');
  for (let i = 0; i < touchN; i++) writeFileSync(join(dir, 'tmany', `f${i}.txt`), 'x');
  for (let i = 0; i < firstsN; i++) writeFileSync(join(dir, 'firsts', `f${i}.txt`), 'x');
  writeFileSync(join(dir, 'big.bin'), Buffer.alloc(bigMb << 20, 'big '));

  const run = async (inVm: boolean, ...argv: string[]): Promise<Record<string, number>> => {
    const r = inVm ? await vms.run('bench', [exe, ...argv]) : await b.exec([exe, ...argv]);
    if (r.code) throw new Error(`svcdup-fbench ${argv.join(' ')} ${inVm ? 'in the VM' : 'on the host'}: exit ${r.code} ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout.trim()) as Record<string, number>;
  };

  // the VM's own state: priv.txt copied up, 100 changes in list\ (50 changed, 25 deleted, 25 new)
  await run(true, 'append', `${D}\\priv.txt`);
  await run(true, 'change', `${D}\\list`, '100');
  const entries = (await run(true, 'list', `${D}\\list`, '1')).entries!;
  const openArea: number[] = [];
  const firsts: [number[], number[]] = [[], []];
  const s = { openHost: [[], []], openPrivate: [[], []], list: [[], []], copyUp: [[], []] } as Record<string, [number[], number[]]>;
  for (let r = 0; r < rounds; r++) {
    s.openHost![0].push((await run(false, 'open', `${D}\\read.txt`, String(iterations))).us!);
    s.openHost![1].push((await run(true, 'open', `${D}\\read.txt`, String(iterations))).us!);
    // native: the host's priv.txt; in the VM: its private copy
    s.openPrivate![0].push((await run(false, 'open', `${D}\\priv.txt`, String(iterations))).us!);
    s.openPrivate![1].push((await run(true, 'open', `${D}\\priv.txt`, String(iterations))).us!);
    openArea.push((await run(false, 'open', `${fileAreaWin('bench')}\\C\\fbench\\priv.txt`, String(iterations))).us!);
    // the VM never changes firsts\: its area has no such folder (each first open skips the area)
    firsts[0].push((await run(false, 'firsts', `${D}\\firsts`, String(firstsN))).us!);
    firsts[1].push((await run(true, 'firsts', `${D}\\firsts`, String(firstsN))).us!);
    // one listing per process: in a VM with file copy-on-write on, a second FindFirstFile in the
    // same process fails with ERROR_ACCESS_DENIED (docs/state.md, known limits)
    for (let i = 0; i < 3; i++) {
      s.list![0].push((await run(false, 'list', `${D}\\list`, '1')).us!);
      s.list![1].push((await run(true, 'list', `${D}\\list`, '1')).us!);
    }
    // copy-up: the VM's first open for writing copies the whole file; `cp` on the same disk
    // timed by the shell around cp (node's own process start would count otherwise)
    const cp = spawnSync(
      'sh',
      ['-c', 'a=$(date +%s%N); cp "$1" "$2" || exit 1; b=$(date +%s%N); echo $(((b - a) / 1000))', 'sh', join(dir, 'big.bin'), join(dir, 'big.cp')],
      {
        encoding: 'utf8',
      },
    );
    if (cp.status) throw new Error(`cp: ${cp.stderr}`);
    const cpUs = Number(cp.stdout.trim());
    rmSync(join(dir, 'big.cp'));
    s.copyUp![0].push(cpUs);
    s.copyUp![1].push((await run(true, 'append', `${D}\\big.bin`)).us!);
    rmSync(join(area, 'big.bin')); // the next round copies it up again (an open for writing never uses the hook's memory of absent paths)
  }

  // the hook's memory: private kB of the VM process (Linux view) after touching 10 vs touchN files
  const peakKb = async (sub: string, n: number): Promise<number> => {
    let peak = 0;
    const poll = setInterval(() => {
      for (const kb of privateKb(host.paths.prefix, 'svcdup-fbench')) peak = Math.max(peak, kb);
    }, 100);
    try {
      await run(true, 'touch', `${D}\\${sub}`, String(n), '1500');
    } finally {
      clearInterval(poll);
    }
    return peak;
  };
  const kb10 = await peakKb('t10', 10);
  const kbMany = await peakKb('tmany', touchN);

  const aims: Record<string, number> = { openHost: 1.1, openPrivate: 1.1, list: 1.5, copyUp: 1.5 };
  const label: Record<string, string> = {
    openHost: 'open+read+close, unchanged host file',
    openPrivate: 'open+read+close, VM-private file',
    list: `listing ${entries} entries (100 VM changes)`,
    copyUp: `copy-up of ${bigMb} MB (native: cp)`,
  };
  say(`median of ${rounds} rounds; open: median of ${iterations} per round; listing: 3 processes of one listing per round; copy-up: one per round`);
  say(`${'operation'.padEnd(46)}${'native µs'.padStart(12)}${'in VM µs'.padStart(12)}${'ratio'.padStart(8)}  aim`);
  const figures: Record<string, number> = {};
  for (const k of Object.keys(aims)) {
    const n = median(s[k]![0]);
    const v = median(s[k]![1]);
    const ratio = v / n;
    Object.assign(figures, { [`${k}NativeUs`]: round(n, 1), [`${k}VmUs`]: round(v, 1), [`${k}Ratio`]: round(ratio, 3) });
    say(
      `${label[k]!.padEnd(46)}${n.toFixed(1).padStart(12)}${v.toFixed(1).padStart(12)}${ratio.toFixed(3).padStart(8)}  <= ${aims[k]!.toFixed(2)} ${ratio <= aims[k]! ? 'ok' : 'MISSED'}`,
    );
  }
  const areaUs = median(openArea);
  Object.assign(figures, { openAreaNativeUs: round(areaUs, 1), openPrivateVsAreaRatio: round(figures.openPrivateVmUs! / areaUs, 3) });
  say(
    `${'  native open of the same copy by its area path'.padEnd(46)}${areaUs.toFixed(1).padStart(12)}${figures.openPrivateVmUs!.toFixed(1).padStart(12)}${figures.openPrivateVsAreaRatio!.toFixed(3).padStart(8)}  (VM / native by the area path)`,
  );
  const [fn, fv] = [median(firsts[0]), median(firsts[1])];
  Object.assign(figures, { openFirstNativeUs: round(fn, 1), openFirstVmUs: round(fv, 1), openFirstRatio: round(fv / fn, 3) });
  say(
    `${`first open of each of ${firstsN} host files (one folder)`.padEnd(46)}${fn.toFixed(1).padStart(12)}${fv.toFixed(1).padStart(12)}${(fv / fn).toFixed(3).padStart(8)}  (median of one process's opens)`,
  );
  say(`VM process private memory after touching 10 files: ${kb10} kB; ${touchN} files: ${kbMany} kB (${kbMany - kb10 >= 0 ? '+' : ''}${kbMany - kb10} kB)`);
  report({
    bench: 'files',
    rounds,
    iterations,
    bigMb,
    touched: touchN,
    firsts: firstsN,
    listEntries: entries,
    ...figures,
    touch10Kb: kb10,
    touchManyKb: kbMany,
  });
} finally {
  db.close();
  await host.dispose();
}
