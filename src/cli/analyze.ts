// svcdup analyze SERVICE|FILE.exe|FILE.dll|FILE.sys [--json] [--trace SECONDS [--share NAME]...]
import type { Command } from 'commander';
import { createBackend, type ManagedBackend } from '../backend/index.js';
import { UsageError } from '../errors.js';
import { analyzeTarget, renderReport } from '../analyze/index.js';
import { isFileTarget, traceNeedsService, vmTraceLab } from '../analyze/io.js';
import type { TracedReport } from '../analyze/trace.js';
import { Vms } from '../vm/ops.js';
import { dbVmStore } from '../vm/store.js';
import { withContext } from './context.js';
import { printJson } from './output.js';

const collect = (v: string, acc: string[]): string[] => [...acc, v];

export function registerAnalyzeCommand(program: Command): void {
  program
    .command('analyze')
    .argument('<target>', 'a service name, or a PE file (.exe, .dll, .sys)')
    .description('what stands in the way of duplicating a service (the twelve issues), with evidence, and how each is resolved')
    .option('--json', 'the report as JSON (docs/analyze.md)')
    .option('--trace <seconds>', 'also run the service duplicated in a scratch VM for that long and record the names it uses')
    .option('--share <service>', 'with --trace: leave this dependency to the host instance (repeatable)', collect, [])
    .action(async (target: string, opts: { json?: boolean; trace?: string; share: string[] }) => {
      let trace: number | undefined;
      if (opts.trace !== undefined) {
        trace = Number(opts.trace);
        if (!Number.isFinite(trace) || trace <= 0 || trace > 3600) throw new UsageError(`--trace takes a number of seconds between 1 and 3600, not "${opts.trace}"`);
      }
      if (opts.share.length && trace === undefined) throw new UsageError('--share goes with --trace');
      let report: TracedReport;
      if (trace === undefined) {
        let backend: ManagedBackend | undefined;
        try {
          report = await analyzeTarget(target, {
            host: async () => {
              backend = createBackend({ kind: program.opts<{ backend?: string }>().backend });
              await backend.open();
              return backend;
            },
          });
        } finally {
          await backend?.close();
        }
      } else {
        if (isFileTarget(target)) throw traceNeedsService(target);
        // Ctrl-C or a TERM ends the run early; the scratch VM is removed all the same.
        const abort = new AbortController();
        const onSignal = (): void => abort.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          report = await withContext(program, (ctx) =>
            analyzeTarget(target, {
              trace,
              share: opts.share,
              signal: abort.signal,
              progress: (note) => process.stderr.write(`svcdup: ${note}\n`),
              host: async () => ctx.backend,
              lab: () => vmTraceLab(new Vms(ctx.backend, dbVmStore(ctx.db), ctx.dups), ctx.dups),
            }),
          );
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        if (abort.signal.aborted) process.exitCode = 130;
      }
      if (opts.json) printJson(report);
      else process.stdout.write(renderReport(report));
    });
}
