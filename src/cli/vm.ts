// VM commands: vm create/ls/rm, run --vm, ps, trace (docs/vm.md).
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { dbVmStore } from '../vm/store.js';
import { Vms } from '../vm/ops.js';
import { validateVmName } from '../vm/names.js';
import { withContext } from './context.js';
import { printJson, printTable } from './output.js';

const vmsOf = (ctx: Parameters<Parameters<typeof withContext>[1]>[0]) => new Vms(ctx.backend, dbVmStore(ctx.db), ctx.dups);

export function registerVmCommands(program: Command): void {
  const vm = program.command('vm').description('feather-weight VMs: private names for processes and IPC');

  vm.command('create <name>')
    .description('create a VM (names: lowercase letters, digits, hyphens; 1-32 chars)')
    .option('--policy <file>', 'policy file (JSON): names shared with the host, denied, or kept private')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { policy?: string; json?: boolean }) => {
      validateVmName(name);
      const rec = await withContext(program, (ctx) => vmsOf(ctx).create(name, opts.policy));
      if (opts.json) printJson(rec);
      else process.stdout.write(`created VM ${rec.name}\n`);
    });

  vm.command('ls')
    .description('list VMs with their process counts')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const list = await withContext(program, (ctx) => vmsOf(ctx).list());
      if (opts.json) return printJson(list);
      printTable(
        ['NAME', 'PROCESSES', 'CREATED', 'POLICY RULES'],
        list.map((v) => [v.name, v.processes, v.createdAt, v.policy.split('\n').filter((l) => l && !l.startsWith('#')).length]),
      );
    });

  vm.command('rm <name>')
    .description('end every process of a VM and remove all its state')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { json?: boolean }) => {
      validateVmName(name);
      const r = await withContext(program, (ctx) => vmsOf(ctx).remove(name));
      if (opts.json) printJson({ name, ...r });
      else {
        for (const d of r.undup) process.stdout.write(`removed ${d}\n`);
        process.stdout.write(`removed VM ${name} (${r.killed} process${r.killed === 1 ? '' : 'es'} ended)\n`);
      }
    });

  program
    .command('run')
    .description('run a Windows program inside a VM; its stdio passes through and its exit code is ours')
    .requiredOption('--vm <name>', 'the VM')
    .argument('<exe>', 'program (Windows name or path, or a Linux path to an .exe)')
    .argument('[args...]', 'its arguments (put -- before them)')
    .action(async (exe: string, args: string[], opts: { vm: string }) => {
      validateVmName(opts.vm);
      const r = await withContext(program, (ctx) => vmsOf(ctx).run(opts.vm, [exe, ...args], { inherit: true }));
      process.exitCode = r.code;
    });

  program
    .command('ps')
    .description('list processes running in VMs')
    .option('--vm <name>', 'only this VM')
    .option('--json', 'machine-readable output')
    .action(async (opts: { vm?: string; json?: boolean }) => {
      if (opts.vm) validateVmName(opts.vm);
      const procs = await withContext(program, (ctx) => vmsOf(ctx).ps(opts.vm));
      if (opts.json) return printJson(procs);
      printTable(['VM', 'PID', 'PPID', 'IMAGE'], procs.map((p) => [p.vm, p.pid, p.ppid, p.image]));
    });

  program
    .command('trace')
    .description("stream a VM's naming decisions (time, pid, call, name used, effective name, decision) as JSON lines")
    .requiredOption('--vm <name>', 'the VM')
    .option('--seconds <n>', 'stop after n seconds (default: until interrupted)')
    .action(async (opts: { vm: string; seconds?: string }) => {
      validateVmName(opts.vm);
      const seconds = opts.seconds === undefined ? 0 : Number(opts.seconds);
      if (!Number.isInteger(seconds) || seconds < 0) throw new UsageError('--seconds must be a whole number');
      const r = await withContext(program, (ctx) => vmsOf(ctx).trace(opts.vm, seconds));
      process.exitCode = r.code;
    });
}
