// bench/portable: what moving and rolling back a VM's state costs (issue 24, docs/state.md
// "Export, import, commit, checkpoints"). A VM's file area filled with BENCH_PORT_MB of files
// (random bytes: gzip cannot shrink them, the worst case), then `vm export` and `vm import`
// (as another VM of the same home) against GNU `tar czf` / `tar xzf` of the same folder in
// the same run; a checkpoint of a BENCH_CKPT_MB area (fs.cp with COPYFILE_FICLONE: reflinks
// where the file system has them) against `cp --reflink=always` (whether the file system
// has reflinks) and `cp -r` (a plain copy).
// Usage: npx tsx bench/portable.ts [--json]   BENCH_PORT_MB (200), BENCH_CKPT_MB (1024).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Duplicates } from '../src/dup/dup.js';
import { openDb } from '../src/state/db.js';
import { checkpointVm } from '../src/portable/checkpoint.js';
import { exportVm } from '../src/portable/export.js';
import { fileAreaWin } from '../src/vm/files.js';
import { importVm } from '../src/portable/import.js';
import { Vms } from '../src/vm/ops.js';
import { dbVmStore } from '../src/vm/store.js';
import { openTestHost, testRoot } from '../test/helpers.js';
import { report, round, say } from './lib.js';

const portMb = Number(process.env.BENCH_PORT_MB ?? 200);
const ckptMb = Number(process.env.BENCH_CKPT_MB ?? 1024);

/** `mb` MB of files (4 MB each) under `dir`. */
function fill(dir: string, mb: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < Math.ceil(mb / 4); i++) writeFileSync(join(dir, `f${i}.bin`), randomBytes(4 << 20));
}
const timed = async (fn: () => unknown): Promise<number> => {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
};
const sh = (argv: string[]): void => {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
};

const host = await openTestHost('bench-portable');
const db = openDb(host.paths.stateDb);
const work = join(testRoot, `bench-portable-${process.pid}`);
try {
  const b = host.backend;
  const dups = new Duplicates(b, db);
  const vms = new Vms(b, dbVmStore(db), dups);
  await vms.create('bp');
  const area = b.toHostPath(fileAreaWin('bp'));
  fill(join(area, 'C', 'data'), portMb);
  mkdirSync(work, { recursive: true });
  const file = join(work, 'bp.tgz');
  const load0 = loadavg()[0]!;
  const exportS = await timed(() => exportVm(b, dups, 'bp', file));
  const archiveMb = statSync(file).size / 1048576;
  const importS = await timed(() => importVm(b, dups, file, { as: 'bp2', ip: '127.77.250.9' }));
  const tarC = await timed(() => sh(['tar', 'czf', join(work, 'tar.tgz'), '-C', area, '.']));
  mkdirSync(join(work, 'x'));
  const tarX = await timed(() => sh(['tar', 'xzf', join(work, 'tar.tgz'), '-C', join(work, 'x')]));
  rmSync(join(work, 'x'), { recursive: true, force: true });
  const mbps = (s: number) => round(portMb / s, 1);
  say(`export ${portMb} MB: ${exportS.toFixed(1)} s (${mbps(exportS)} MB/s; tar czf ${tarC.toFixed(1)} s, ${mbps(tarC)} MB/s)`);
  say(`import ${portMb} MB: ${importS.toFixed(1)} s (${mbps(importS)} MB/s; tar xzf ${tarX.toFixed(1)} s, ${mbps(tarX)} MB/s)`);

  // the checkpoint: a bigger area
  fill(join(area, 'C', 'big'), Math.max(0, ckptMb - portMb));
  const ckptS = await timed(() => checkpointVm(b, dups, 'bp', 'one'));
  const reflink = spawnSync('cp', ['--reflink=always', join(area, 'C', 'data', 'f0.bin'), join(work, 'probe')]).status === 0;
  const cpS = await timed(() => sh(['cp', '-r', area, join(work, 'cp')]));
  say(`checkpoint of ${ckptMb} MB: ${ckptS.toFixed(1)} s (cp -r ${cpS.toFixed(1)} s); reflinks on this file system: ${reflink ? 'yes' : 'no (a plain copy)'}`);
  const load1 = loadavg()[0]!;
  say(`load average (1 min) ${load0.toFixed(1)} before, ${load1.toFixed(1)} after`);
  report({
    portMb,
    archiveMb: round(archiveMb, 1),
    exportMBps: mbps(exportS),
    tarCzfMBps: mbps(tarC),
    importMBps: mbps(importS),
    tarXzfMBps: mbps(tarX),
    checkpointMb: ckptMb,
    checkpointS: round(ckptS, 1),
    cpS: round(cpS, 1),
    reflink,
    loadavg: [round(load0, 1), round(load1, 1)],
  });
} finally {
  db.close();
  rmSync(work, { recursive: true, force: true });
  await host.dispose();
}
