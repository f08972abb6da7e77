// svcdup analyze SERVICE|FILE.exe|FILE.dll|FILE.sys [--json] [--trace SECONDS]
import type { Command } from 'commander';
import { createBackend, type ManagedBackend } from '../backend/index.js';
import { UsageError } from '../errors.js';
import { analyzeTarget, renderReport } from '../analyze/index.js';
import { printJson } from './output.js';

export function registerAnalyzeCommand(program: Command): void {
  program
    .command('analyze')
    .argument('<target>', 'a service name, or a PE file (.exe, .dll, .sys)')
    .description('what stands in the way of duplicating a service (the twelve issues), with evidence, and how each is resolved')
    .option('--json', 'the report as JSON (docs/analyze.md)')
    .option('--trace <seconds>', 'also run the service duplicated in a scratch VM and record the names it uses (needs the VM layer)')
    .action(async (target: string, opts: { json?: boolean; trace?: string }) => {
      let trace: number | undefined;
      if (opts.trace !== undefined) {
        trace = Number(opts.trace);
        if (!Number.isFinite(trace) || trace <= 0 || trace > 3600) throw new UsageError(`--trace takes a number of seconds between 1 and 3600, not "${opts.trace}"`);
      }
      let backend: ManagedBackend | undefined;
      try {
        const report = await analyzeTarget(target, {
          ...(trace !== undefined ? { trace } : {}),
          host: async () => {
            backend = createBackend({ kind: program.opts<{ backend?: string }>().backend });
            await backend.open();
            return backend;
          },
        });
        if (opts.json) printJson(report);
        else process.stdout.write(renderReport(report));
      } finally {
        await backend?.close();
      }
    });
}
