// Running duplicates the way containers are run (docs/operate.md): stats, and the limits guard.
import type { Command } from 'commander';
import { resolvePaths } from '../config.js';
import { UsageError } from '../errors.js';
import { runLimitsGuard } from '../ops/limits.js';
import { sampleStats, type StatsSample } from '../ops/stats.js';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dupLogPath, readDupLog, readRange, resolveVmFile, tailLines } from '../ops/logs.js';
import { listDuplicates } from '../state/duplicates.js';
import { openDb } from '../state/db.js';
import { getVm, listVms } from '../state/vms.js';
import { validateVmName } from '../vm/names.js';
import { withReader } from './context.js';
import { parseSince } from './events.js';
import { printJson, printTable } from './output.js';
import { parsePort, untilInterrupted } from './serve.js';

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

/**
 * Print what is appended to the file `where` names (it may move: a copy-up, a rotation) until
 * interrupted. `rotated`: a duplicate's log, which the watcher rotates by copying it to `.1` and
 * emptying it: what was appended since the last read is read from the copy first.
 */
async function follow(where: () => { path: string } | undefined, startPath: string, startAt: number, rotated = false): Promise<never> {
  let path = startPath;
  let at = startAt;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = where();
    if (!now || !existsSync(now.path)) continue;
    if (now.path !== path) [path, at] = [now.path, 0];
    const size = statSync(path).size;
    if (size < at) {
      // truncated or rotated: the rest of the old content, when it was kept, then from the start
      const old = `${path}.1`;
      const oldSize = rotated && existsSync(old) ? statSync(old).size : 0;
      if (oldSize > at) process.stdout.write(readRange(old, at, oldSize));
      at = 0;
    }
    if (size > at) {
      process.stdout.write(readRange(path, at, size));
      at = size;
    }
  }
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

  program
    .command('metrics')
    .description('serve Prometheus metrics at http://127.0.0.1:PORT/metrics until interrupted (docs/operate.md)')
    .option('--port <n>', 'TCP port on 127.0.0.1 (default 9477; 0: any free one)')
    .option('--json', 'print where it serves as JSON')
    .action(async (opts: { port?: string; json?: boolean }) => {
      const port = parsePort(opts.port, 9477);
      await withReader(program, async (ctx) => {
        let server: Server;
        try {
          // prom-client loads here only: `logs` and `stats` paid its start-up
          const { metricsScraper, serveMetrics } = await import('../ops/metrics.js');
          server = await serveMetrics(metricsScraper(ctx.backend, ctx.db), port);
        } catch (err) {
          throw new UsageError(`cannot serve on 127.0.0.1:${port}: ${(err as Error).message}`);
        }
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
        if (opts.json) printJson({ url });
        else process.stdout.write(`serving Prometheus metrics at ${url} (Ctrl-C ends)\n`);
        await untilInterrupted();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      });
    });

  program
    .command('logs [service]')
    .description(
      "what a duplicate wrote to stdout and stderr, or (--file) a file a VM's service writes, read through the VM's copy-on-write view (docs/operate.md)",
    )
    .requiredOption('--vm <vm>', 'the VM')
    .option('--file <path>', 'a Windows path the service writes, e.g. C:\\app\\app.log')
    .option('--tail <n>', 'only the last N lines')
    .option('--since <time>', "a duplicate's output from this time (ISO 8601) or this long ago (30s, 10m, 2h, 1d) on")
    .option('-f, --follow', 'keep printing what is appended, until interrupted')
    .option('--json', 'print {vm, service or file, path, text} as JSON')
    .action(async (service: string | undefined, opts: { vm: string; file?: string; tail?: string; since?: string; follow?: boolean; json?: boolean }) => {
      validateVmName(opts.vm);
      if ((service === undefined) === (opts.file === undefined))
        throw new UsageError('logs: name a duplicate (svcdup logs SERVICE --vm VM) or a file (--file PATH), one of them');
      if (opts.tail !== undefined && !/^\d+$/.test(opts.tail)) throw new UsageError(`--tail ${opts.tail}: a whole number of lines`);
      if (opts.since !== undefined && opts.file !== undefined)
        throw new UsageError(`--since ${opts.since}: only for a duplicate's output (a service's own file carries its own times)`);
      const since = opts.since === undefined ? undefined : parseSince(opts.since);
      const tail = opts.tail === undefined ? undefined : Number(opts.tail);
      await withReader(program, async (ctx) => {
        if (!getVm(ctx.db, opts.vm)) throw new UsageError(`no VM named ${opts.vm} (create it with: svcdup vm create ${opts.vm})`);
        const home = ctx.backend.paths.home;
        let where: () => { path: string } | undefined;
        // `end`: the bytes of first.path printed, where -f goes on
        let first: { path: string; text: string; end: number; from?: string };
        if (service !== undefined) {
          if (!listDuplicates(ctx.db, opts.vm).some((d) => d.service.toLowerCase() === service.toLowerCase()))
            throw new UsageError(`${service} is not duplicated into VM ${opts.vm}`);
          const log = readDupLog(home, opts.vm, service, since);
          first = log ?? { path: dupLogPath(home, opts.vm, service), text: '', end: 0 };
          where = () => ({ path: dupLogPath(home, opts.vm, service) });
        } else {
          const file = opts.file!;
          const found = resolveVmFile(ctx.backend, opts.vm, file);
          if (!found) throw new UsageError(`VM ${opts.vm} sees no file ${file}`);
          const buf = readFileSync(found.path);
          first = { ...found, text: buf.toString('utf8'), end: buf.length };
          where = () => resolveVmFile(ctx.backend, opts.vm, file);
        }
        const text = tailLines(first.text, tail);
        if (opts.json)
          return printJson({ vm: opts.vm, ...(service !== undefined ? { service } : { file: opts.file, from: first.from }), path: first.path, text });
        process.stdout.write(text);
        if (opts.follow) await follow(where, first.path, first.end, service !== undefined);
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
