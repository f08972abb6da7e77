// VM commands: vm create/ls/rm, run --vm, ps, trace (docs/vm.md).
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { dbVmStore } from '../vm/store.js';
import { Vms } from '../vm/ops.js';
import { validateVmName } from '../vm/names.js';
import { spawnSync } from 'node:child_process';
import { listeningEndpoints, portMapFromRecord, type Endpoint } from '../net/index.js';
import type { VmRecord } from '../state/vms.js';
import { withContext, withReader, type Context } from './context.js';
import { printJson, printTable } from './output.js';
import { vmDiff } from '../vm/diff.js';
import { parseLimits } from '../ops/limits.js';
// portable/ (tar, zod) and fleet (yaml) load in the commands that use them: start-up of every vm command paid them

const portMapText = (m: Record<string, number>): string =>
  Object.entries(m)
    .map(([from, to]) => `${from}:${to}`)
    .join(',');

/** Listening sockets on the VMs' addresses and mapped ports (Wine: the Linux host's sockets). */
async function vmEndpoints(ctx: Context, vms: VmRecord[]): Promise<Endpoint[]> {
  if (ctx.backend.kind !== 'wine' || vms.length === 0) return [];
  const r = spawnSync('ss', ['-H', '-ltun'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return listeningEndpoints(
    r.stdout,
    vms.map((v) => ({ name: v.name, ...(v.address ? { address: v.address } : {}), portMap: portMapFromRecord(v.portMap) })),
  );
}

const vmsOf = (ctx: Parameters<Parameters<typeof withContext>[1]>[0]) => new Vms(ctx.backend, dbVmStore(ctx.db), ctx.dups);

export function registerVmCommands(program: Command): void {
  const vm = program.command('vm').description('feather-weight VMs: private names for processes and IPC');

  vm.command('create <name>')
    .description('create a VM (names: lowercase letters, digits, hyphens; 1-32 chars)')
    .option('--policy <file>', 'policy file (JSON): names shared with the host, denied, or kept private')
    .option('--ip <addr>', "the VM's address (default: the next free one in 127.77.0.0/16)")
    .option('--port-map <map>', 'map ports instead of (or besides) an address: 80:8081,udp/53:5353,...')
    .option('--from <vm>', "start with a copy of this VM's private files (docs/state.md); stop its services first for a consistent copy")
    .option('--memory <size>', "memory limit of the VM's processes together (e.g. 512m, 2g; docs/operate.md)")
    .option('--cpus <n>', 'CPU limit, in CPUs (e.g. 0.5)')
    .option('--processes <n>', 'how many processes the VM may have at once')
    .option('--json', 'machine-readable output')
    .action(
      async (
        name: string,
        opts: { policy?: string; ip?: string; portMap?: string; from?: string; memory?: string; cpus?: string; processes?: string; json?: boolean },
      ) => {
        validateVmName(name);
        if (opts.from !== undefined) validateVmName(opts.from);
        const net = { ...(opts.ip ? { ip: opts.ip } : {}), ...(opts.portMap ? { portMap: opts.portMap } : {}) };
        const limits = parseLimits(opts);
        const rec = await withContext(program, (ctx) => vmsOf(ctx).create(name, opts.policy, net, opts.from, limits));
        if (opts.json) printJson(rec);
        else
          process.stdout.write(
            `created VM ${rec.name}${rec.address ? ` at ${rec.address}` : ''}${portMapText(rec.portMap) ? ` (ports ${portMapText(rec.portMap)})` : ''}\n`,
          );
      },
    );

  vm.command('ls')
    .description('list VMs with their process counts')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const list = await withReader(program, async (ctx) => {
        const vms = await vmsOf(ctx).list();
        const eps = await vmEndpoints(ctx, vms);
        return vms.map((v) => ({ ...v, endpoints: eps.filter((e) => e.vm === v.name) }));
      });
      if (opts.json) return printJson(list);
      printTable(
        ['NAME', 'ADDRESS', 'PORT MAP', 'PROCESSES', 'LISTENING', 'CREATED', 'POLICY RULES'],
        list.map((v) => [
          v.name,
          v.address ?? '-',
          portMapText(v.portMap) || '-',
          v.processes,
          v.endpoints.map((e) => `${e.proto}/${e.local}`).join(' ') || '-',
          v.createdAt,
          v.policy.split('\n').filter((l) => l && !l.startsWith('#')).length,
        ]),
      );
    });

  vm.command('diff <name>')
    .description("files and registry keys the VM Added, Changed and Deleted against the host's (as docker diff lists them)")
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { json?: boolean }) => {
      validateVmName(name);
      const changes = await withReader(program, async (ctx) => {
        vmsOf(ctx).require(name);
        return vmDiff(ctx.backend, name);
      });
      if (opts.json) return printJson(changes);
      for (const c of changes.files) process.stdout.write(`${c.kind} ${c.path}\n`);
      for (const k of changes.keys) process.stdout.write(`${k.change[0]} ${k.key}${k.value !== undefined ? ` [${k.value || '(default)'}]` : ''}\n`);
    });

  vm.command('export <name>')
    .description("write the VM's files, registry copies, policy, address and duplicates to one archive (docs/state.md)")
    .option('-o, --output <file>', 'the archive to write (default: NAME.svcdup.tgz)')
    .option('--stop', 'stop running duplicates for the copy, start them again after')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { output?: string; stop?: boolean; json?: boolean }) => {
      validateVmName(name);
      const r = await withContext(program, async (ctx) =>
        (await import('../portable/export.js')).exportVm(ctx.backend, ctx.dups, name, opts.output ?? `${name}.svcdup.tgz`, { stop: !!opts.stop }),
      );
      if (opts.json) return printJson(r);
      process.stdout.write(
        `exported VM ${name} to ${r.file} (${r.bytes} bytes; ${r.files} files, ${r.fileBytes} bytes; duplicates: ${r.duplicates.join(', ') || 'none'})\n`,
      );
      for (const s of r.restarted) process.stdout.write(`started ${s}@${name} again\n`);
    });

  vm.command('import <file>')
    .description('make a VM of an archive of vm export (this host or another); checked first, then one journaled operation')
    .option('--as <name>', "the VM's name here (default: its name in the archive)")
    .option('--ip <addr>', 'its address here (default: the archived one)')
    .option('--port-map <map>', 'its port map here: 80:8081,udp/53:5353,...')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { as?: string; ip?: string; portMap?: string; json?: boolean }) => {
      if (opts.as !== undefined) validateVmName(opts.as);
      const r = await withContext(program, async (ctx) =>
        (await import('../portable/import.js')).importVm(ctx.backend, ctx.dups, file, {
          ...(opts.as ? { as: opts.as } : {}),
          ...(opts.ip ? { ip: opts.ip } : {}),
          ...(opts.portMap ? { portMap: opts.portMap } : {}),
        }),
      );
      if (opts.json) return printJson(r);
      process.stdout.write(
        `imported VM ${r.vm}${r.address ? ` at ${r.address}` : ''} from VM ${r.from.vm} of ${r.from.host} (${r.files} files; duplicates: ${r.duplicates.join(', ') || 'none'})\n`,
      );
    });

  vm.command('checkpoint <vm> [name]')
    .description("a point-in-time copy of the VM's files and registry copies (its duplicates stopped for the copy)")
    .option('--json', 'machine-readable output')
    .action(async (vmName: string, name: string | undefined, opts: { json?: boolean }) => {
      validateVmName(vmName);
      const r = await withContext(program, async (ctx) => (await import('../portable/checkpoint.js')).checkpointVm(ctx.backend, ctx.dups, vmName, name));
      if (opts.json) return printJson(r);
      process.stdout.write(`checkpoint ${r.name} of VM ${vmName} (${r.fileBytes} bytes of files)\n`);
    });

  vm.command('checkpoints <vm>')
    .description("list a VM's checkpoints")
    .option('--json', 'machine-readable output')
    .action(async (vmName: string, opts: { json?: boolean }) => {
      validateVmName(vmName);
      const list = await withContext(program, async (ctx) => (await import('../portable/checkpoint.js')).listCheckpoints(ctx.backend, ctx.dups, vmName));
      if (opts.json) return printJson(list);
      printTable(
        ['NAME', 'CREATED', 'FILE BYTES'],
        list.map((c) => [c.name, c.createdAt, c.fileBytes]),
      );
    });

  vm.command('restore <vm> <name>')
    .description("put the VM's files and registry copies back as they were at a checkpoint (its duplicates stopped, then started again)")
    .option('--json', 'machine-readable output')
    .action(async (vmName: string, name: string, opts: { json?: boolean }) => {
      validateVmName(vmName);
      const r = await withContext(program, async (ctx) => (await import('../portable/checkpoint.js')).restoreVm(ctx.backend, ctx.dups, vmName, name));
      if (opts.json) return printJson(r);
      process.stdout.write(`VM ${vmName} restored to checkpoint ${name}\n`);
    });

  vm.command('commit <vm> [items...]')
    .description("write the VM's changes (or the named files and keys) into the host; what the host changed since the VM's copy is a conflict")
    .option('--dry-run', 'list what would be written and the conflicts; change nothing')
    .option('--force', 'write conflicting items too')
    .option('--json', 'machine-readable output')
    .action(async (vmName: string, items: string[], opts: { dryRun?: boolean; force?: boolean; json?: boolean }) => {
      validateVmName(vmName);
      const r = await withContext(program, async (ctx) =>
        (await import('../portable/commit.js')).commitVm(ctx.backend, ctx.dups, vmName, {
          select: items,
          ...(opts.dryRun ? { dryRun: true } : {}),
          ...(opts.force ? { force: true } : {}),
        }),
      );
      // conflicts left unwritten: a non-zero exit, so that scripts notice
      if (r.conflicts.length && !r.forced) process.exitCode = 1;
      if (opts.json) return printJson(r);
      for (const c of r.committed) process.stdout.write(`${r.dryRun ? 'would commit' : 'committed'} ${c}\n`);
      for (const c of r.conflicts) process.stdout.write(`conflict ${c}${r.forced ? ' (written: --force)' : ' (not written; --force writes it)'}\n`);
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
      const r = await withReader(program, (ctx) => vmsOf(ctx).run(opts.vm, [exe, ...args], { inherit: true }));
      process.exitCode = r.code;
    });

  program
    .command('ps')
    .description('list processes running in VMs; with -f FILE, a fleet file declared against actual')
    .option('--vm <name>', 'only this VM')
    .option('-f, --file <file>', 'a fleet file (svcdup.yaml): its VMs and duplicates, declared against actual')
    .option('--json', 'machine-readable output')
    .action(async (opts: { vm?: string; file?: string; json?: boolean }) => {
      if (opts.file) return (await import('./fleet.js')).fleetPsCommand(program, opts.file, !!opts.json);
      if (opts.vm) validateVmName(opts.vm);
      const { procs, eps } = await withReader(program, async (ctx) => {
        const vms = vmsOf(ctx);
        const [found, dups] = await Promise.all([vms.ps(opts.vm), ctx.dups.status(opts.vm)]);
        // A duplicate's process: the SCM's own for a direct one, svcdup-host's child for a relayed one.
        const byPid = new Map(dups.filter((d) => d.status?.pid).map((d) => [d.status!.pid, d]));
        const procs = found.map((p) => {
          const d = byPid.get(p.pid);
          const owner = d?.mode === 'direct' ? d : byPid.get(p.ppid)?.mode === 'relayed' ? byPid.get(p.ppid) : undefined;
          return owner ? { ...p, duplicate: owner.scmName, mode: owner.mode } : p;
        });
        const eps = opts.json ? [] : (await vmEndpoints(ctx, vms.store.list())).filter((e) => e.vm && (!opts.vm || e.vm === opts.vm));
        return { procs, eps };
      });
      if (opts.json) return printJson(procs);
      printTable(
        ['VM', 'PID', 'PPID', 'DUPLICATE', 'MODE', 'IMAGE'],
        procs.map((p) => [p.vm, p.pid, p.ppid, 'duplicate' in p ? p.duplicate : '-', 'mode' in p ? p.mode : '-', p.image]),
      );
      if (eps.length) {
        process.stdout.write('\n');
        printTable(
          ['VM', 'PROTO', 'LISTENING', 'IN THE VM'],
          eps.map((e) => [e.vm!, e.proto, e.local, e.inVm ?? '']),
        );
      }
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
      const r = await withReader(program, (ctx) => vmsOf(ctx).trace(opts.vm, seconds));
      process.exitCode = r.code;
    });
}
