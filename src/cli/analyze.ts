// svcdup analyze SERVICE|FILE.exe|FILE.dll|FILE.sys [--json] [--vm VM] [--trace SECONDS [--share NAME]...] [--verify]
// svcdup analyze --all [--json]
import type { Command } from 'commander';
import { createBackend, type ManagedBackend } from '../backend/index.js';
import { UsageError } from '../errors.js';
import { analyzeAll, analyzeTarget, renderReport, renderTable, type AnalyzeReport } from '../analyze/index.js';
import { isFileTarget, traceNeedsService, vmTraceLab } from '../analyze/io.js';
import { renderVerify, verifyService, type VerifyResult } from '../analyze/verify.js';
import { getVm } from '../state/vms.js';
import { Vms } from '../vm/ops.js';
import { dbVmStore } from '../vm/store.js';
import { withContext } from './context.js';
import { printJson } from './output.js';

const collect = (v: string, acc: string[]): string[] => [...acc, v];

interface AnalyzeCliOptions {
  json?: boolean;
  all?: boolean;
  vm?: string;
  trace?: string;
  share: string[];
  verify?: boolean;
}

export function registerAnalyzeCommand(program: Command): void {
  program
    .command('analyze')
    .argument('[target]', 'a service name, or a PE file (.exe, .dll, .sys)')
    .description(
      'what happens when a service is duplicated: the verdict, the twelve issues with evidence, the whole service (programs, settings, ports, state)',
    )
    .option('--json', 'the report as JSON (docs/analyze.md)')
    .option('--all', 'every service on the host, one line each with its verdict')
    .option('--vm <name>', "state rules (issue 9) from this VM's policy instead of the default")
    .option('--trace <seconds>', 'also run the service duplicated in a scratch VM for that long and record the names it uses')
    .option('--share <service>', 'with --trace: leave this dependency to the host instance (repeatable)', collect, [])
    .option('--verify', 'duplicate it into a scratch VM, start it, check it runs and answers on what was predicted, remove the VM')
    .action(async (target: string | undefined, opts: AnalyzeCliOptions) => {
      let trace: number | undefined;
      if (opts.trace !== undefined) {
        trace = Number(opts.trace);
        if (!Number.isFinite(trace) || trace <= 0 || trace > 3600)
          throw new UsageError(`--trace takes a number of seconds between 1 and 3600, not "${opts.trace}"`);
      }
      if (opts.share.length && trace === undefined) throw new UsageError('--share goes with --trace');
      if (opts.all && (target || trace !== undefined || opts.verify))
        throw new UsageError('--all analyzes every service: give no target, --trace or --verify with it');
      if (!opts.all && !target) throw new UsageError('give a service name or a file, or --all');
      if (opts.verify && trace !== undefined) throw new UsageError('--verify and --trace each run the service in a scratch VM: give one');
      if (opts.verify && isFileTarget(target!))
        throw new UsageError(`${target} is a file; --verify runs an installed service in a scratch VM (give the service's name)`);

      if (opts.all) {
        let backend: ManagedBackend | undefined;
        let reports: AnalyzeReport[];
        try {
          backend = createBackend({ kind: program.opts<{ backend?: string }>().backend });
          await backend.open();
          // duplicates are svcdup's own, not the host's services
          reports = await analyzeAll(backend, { skip: (n) => n.includes('@') });
        } finally {
          await backend?.close();
        }
        if (opts.json) printJson(reports.map((r) => ({ service: r.service?.name, kind: r.service?.kind, verdict: r.verdict })));
        else process.stdout.write(renderTable(reports));
        return;
      }

      let report: AnalyzeReport;
      let verify: VerifyResult | undefined;
      if (trace === undefined && !opts.verify && !opts.vm) {
        let backend: ManagedBackend | undefined;
        try {
          report = await analyzeTarget(target!, {
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
        if (trace !== undefined && isFileTarget(target!)) throw traceNeedsService(target!);
        // Ctrl-C or a TERM ends the run early; the scratch VM is removed all the same.
        const abort = new AbortController();
        const onSignal = (): void => abort.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const progress = (note: string): boolean => process.stderr.write(`svcdup: ${note}\n`);
        try {
          report = await withContext(program, async (ctx) => {
            if (opts.vm && !getVm(ctx.db, opts.vm)) throw new UsageError(`no VM named ${opts.vm} (svcdup vm ls lists them)`);
            const vms = new Vms(ctx.backend, dbVmStore(ctx.db), ctx.dups);
            const r = await analyzeTarget(target!, {
              ...(trace !== undefined ? { trace } : {}),
              share: opts.share,
              signal: abort.signal,
              progress,
              host: async () => ctx.backend,
              lab: () => vmTraceLab(vms, ctx.dups),
              ...(opts.vm ? { policy: { name: opts.vm, text: ctx.dups.policyText(opts.vm) } } : {}),
            });
            if (opts.verify) verify = await verifyService(r, vms, ctx.dups, { progress });
            return r;
          });
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        if (abort.signal.aborted) process.exitCode = 130;
      }
      if (opts.json) printJson(verify ? { ...report, verify } : report);
      else process.stdout.write(renderReport(report) + (verify ? `\n${renderVerify(verify)}` : ''));
      if (verify && !verify.agree) process.exitCode = 3;
    });
}
