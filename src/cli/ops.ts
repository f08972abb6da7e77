// Running duplicates the way containers are run (docs/operate.md): stats, and the limits guard.
import type { Command } from 'commander';
import { resolvePaths } from '../config.js';
import { UsageError } from '../errors.js';
import { runLimitsGuard } from '../ops/limits.js';
import { sampleStats, type StatsSample } from '../ops/stats.js';
import { openDb } from '../state/db.js';
import { getVm, listVms } from '../state/vms.js';
import { validateVmName } from '../vm/names.js';
import { withReader } from './context.js';
import { printJson, printTable } from './output.js';

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)}M`;
const pct = (n: number | undefined) => (n === undefined ? '-' : `${n.toFixed(1)}%`);

function statsTable(s: StatsSample): void {
  const rows: (string | number)[][] = [];
  for (const v of s.vms) {
    rows.push([
      v.vm,
      '',
      pct(v.cpuPercent),
      mb(v.privateBytes),
      mb(v.workingSetBytes),
      v.memoryLimit ? mb(v.memoryLimit) : '-',
      v.processes,
      v.threads,
      v.handles,
      v.ioSource === 'none' ? '-' : `${mb(v.readBytes)} / ${mb(v.writeBytes)}`,
    ]);
    for (const d of v.duplicates)
      rows.push([
        `  ${v.vm}`,
        d.service,
        pct(d.cpuPercent),
        mb(d.privateBytes),
        mb(d.workingSetBytes),
        '',
        d.processes,
        d.threads,
        d.handles,
        d.readBytes + d.writeBytes ? `${mb(d.readBytes)} / ${mb(d.writeBytes)}` : '-',
      ]);
  }
  printTable(['VM', 'DUPLICATE', 'CPU', 'PRIVATE', 'WORKING SET', 'LIMIT', 'PROCS', 'THREADS', 'HANDLES', 'I/O READ / WRITE'], rows);
}

export function registerOpsCommands(program: Command): void {
  program
    .command('stats')
    .description('what each VM and duplicate uses: CPU, private memory, working set, processes, threads, handles, I/O (docs/operate.md)')
    .option('--vm <vm>', 'one VM only')
    .option('--watch', 'sample every --interval seconds until interrupted')
    .option('--interval <seconds>', 'between samples (default 2)')
    .option('--json', 'machine-readable output (with --watch: one JSON object a line)')
    .action(async (opts: { vm?: string; watch?: boolean; interval?: string; json?: boolean }) => {
      if (opts.vm !== undefined) validateVmName(opts.vm);
      const interval = opts.interval === undefined ? 2 : Number(opts.interval);
      if (!/^\d+(\.\d+)?$/.test(opts.interval ?? '2') || interval < 0.2 || interval > 3600)
        throw new UsageError(`--interval ${opts.interval}: a number of seconds from 0.2 to 3600`);
      await withReader(program, async (ctx) => {
        if (opts.vm !== undefined && !getVm(ctx.db, opts.vm)) throw new UsageError(`no VM named ${opts.vm} (create it with: svcdup vm create ${opts.vm})`);
        const only = opts.vm !== undefined ? { only: opts.vm } : {};
        // CPU % needs two samples: a short first interval, then the watch's own
        let prev = await sampleStats(ctx.backend, ctx.db, only);
        await new Promise((r) => setTimeout(r, opts.watch ? interval * 1000 : 500));
        for (;;) {
          const cur = await sampleStats(ctx.backend, ctx.db, { ...only, prev });
          if (opts.json) opts.watch ? process.stdout.write(`${JSON.stringify(cur)}\n`) : printJson(cur);
          else {
            if (opts.watch) process.stdout.write(`\n${new Date(cur.at).toISOString()}\n`);
            statsTable(cur);
          }
          if (!opts.watch) return;
          prev = cur;
          await new Promise((r) => setTimeout(r, interval * 1000));
        }
      });
    });

  // started by svcdup itself (src/ops/limits.ts, prepareVmLimits) while a memory-limited VM runs
  program.command('limits-guard', { hidden: true }).action(async () => {
    const paths = resolvePaths();
    await runLimitsGuard(paths.home, () => {
      const db = openDb(paths.stateDb);
      return { db, vms: listVms(db), close: () => db.close() };
    });
  });
}
