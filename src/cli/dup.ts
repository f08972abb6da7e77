// dup, undup, start, stop, status: duplicates of host services inside VMs.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { describeStep } from '../plan/steps.js';
import { duplicateMode, type DuplicationPlan, type PlannedService } from '../plan/plan.js';
import { getVm } from '../state/vms.js';
import { serviceTypeName } from '../services.js';
import { withContext, withReader, type Context } from './context.js';
import { printJson, printTable } from './output.js';
import { applyPolicy, checkPolicy } from '../watch/policy.js';
import { listRuntime } from '../state/runtime.js';
import { healthFromText } from '../ops/health.js';

/** `direct`, or `relayed` with why when direct did not apply to the root. */
function modeText(plan: DuplicationPlan, s: PlannedService): string {
  const mode = duplicateMode(s);
  return plan.relayedBecause && s.service === plan.root ? `${mode}: ${plan.relayedBecause}` : mode;
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

function requireVm(ctx: Context, vm: string | undefined): string {
  if (!vm) throw new UsageError('--vm NAME is required');
  if (!getVm(ctx.db, vm)) throw new UsageError(`no VM named ${vm} (create it with: svcdup vm create ${vm})`);
  return vm;
}

export function registerDupCommands(program: Command): void {
  program
    .command('dup')
    .description('duplicate a host service into a VM: a real service SERVICE@VM in the host SCM')
    .argument('<service>', 'the host service to duplicate')
    .requiredOption('--vm <name>', 'the VM to duplicate it into')
    .option('--share <service>', 'leave this dependency to the host instance (repeatable)', collect, [])
    .option('--set <path=value>', 'edit the VM copy of the service key, e.g. Parameters\\Port=8080 or Parameters\\N:REG_DWORD=5 (repeatable)', collect, [])
    .option('--start', 'start the duplicate (and its dependencies) once registered')
    .option('--restricted-token', 'run the images with a restricted token: every privilege but SeChangeNotify removed (docs/dup.md)')
    .option(
      '--direct',
      'force direct mode, refused with the reason where it does not apply: the SCM starts a copy of the image (IMAGE@VM.exe beside it) that loads svcdup-hook.dll itself, no svcdup-host process (the default where it applies: docs/dup.md)',
    )
    .option(
      '--relayed',
      'force relayed mode: the SCM starts svcdup-host, which runs the image in the VM and relays the SCM protocol (the default where direct does not apply)',
    )
    .option('--dry-run', 'print the plan (every step and its undo) and change nothing')
    .option('--force', 'register it even when svcdup analyze says it cannot run or cannot be duplicated')
    .option('--restart <policy>', 'no, on-failure[:N] or always: restart it when it ends, with exponential backoff (docs/operate.md)')
    .option('--health <check>', 'tcp:PORT, http:URL, pipe:NAME or cmd:PROGRAM: probe it; unhealthy with a restart policy is restarted')
    .option('--interval <s>', 'seconds between health probes (default 10)')
    .option('--retries <n>', 'failed probes in a row that make it unhealthy (default 3)')
    .option('--json', 'machine-readable output')
    .action(
      async (
        service: string,
        opts: {
          vm: string;
          share: string[];
          set: string[];
          start?: boolean;
          restrictedToken?: boolean;
          direct?: boolean;
          relayed?: boolean;
          dryRun?: boolean;
          force?: boolean;
          restart?: string;
          health?: string;
          interval?: string;
          retries?: string;
          json?: boolean;
        },
      ) => {
        await withContext(program, async (ctx) => {
          if (opts.direct && opts.relayed) throw new UsageError('--direct and --relayed: give one mode at most (none: direct where it applies)');
          const mode = opts.direct ? 'direct' : opts.relayed ? 'relayed' : 'auto';
          const vm = requireVm(ctx, opts.vm);
          const policy = checkPolicy(ctx.db, vm, opts);
          if (opts.dryRun) {
            const plan = await ctx.dups.plan(service, vm, opts.share, { set: opts.set, restrictedToken: !!opts.restrictedToken, mode, force: !!opts.force });
            if (opts.json) return printJson({ plan, dryRun: true });
            process.stdout.write(`plan of dup ${plan.root} --vm ${vm} (dry run: nothing was changed)\n`);
            for (const s of plan.services) process.stdout.write(`duplicate  ${s.scmName}  ${modeText(plan, s)}  (${s.reason})\n`);
            for (const s of plan.shared) process.stdout.write(`shared     ${s.name}  (${s.reason})\n`);
            for (const s of plan.notSnapshotted ?? []) process.stdout.write(`not snapshotted  ${s.folder}  (${s.reason})\n`);
            plan.steps.forEach((s, i) => {
              const d = describeStep(s);
              process.stdout.write(`${String(i + 1).padStart(3)}. ${s.kind.padEnd(12)} ${d.does}\n     undo: ${d.undo}\n`);
            });
            return;
          }
          const plan = await ctx.dups.dup(service, vm, {
            share: opts.share,
            set: opts.set,
            start: !!opts.start && !policy,
            restrictedToken: !!opts.restrictedToken,
            mode,
            force: !!opts.force,
          });
          if (policy) {
            // the policy in place before the first start; one that cannot be written takes the duplicate back
            const root = plan.services.find((s) => s.service === plan.root) ?? plan.services.at(-1)!;
            try {
              await applyPolicy(ctx.backend, ctx.db, { vm, service: root.service, scmName: root.scmName }, policy);
            } catch (err) {
              await ctx.dups.undup(plan.root, vm).catch(() => undefined);
              throw err;
            }
            if (opts.start) await ctx.dups.start(plan.root, vm);
          }
          const status = opts.start ? await ctx.backend.call('scm.status', { name: plan.services.at(-1)!.scmName }) : undefined;
          if (opts.json) return printJson({ plan, ...(status ? { status } : {}) });
          for (const s of plan.services) process.stdout.write(`registered ${s.scmName}  ${modeText(plan, s)}  (${s.reason})\n`);
          for (const s of plan.shared) process.stdout.write(`shared     ${s.name}  (${s.reason})\n`);
          if (status) process.stdout.write(`${status.name}: ${status.state}, pid ${status.pid}\n`);
        });
      },
    );

  program
    .command('undup')
    .description('remove a duplicate: stop it, delete it from the SCM, remove its registry copy')
    .argument('<service>')
    .requiredOption('--vm <name>')
    .option('--json', 'machine-readable output')
    .action(async (service: string, opts: { vm: string; json?: boolean }) => {
      await withContext(program, async (ctx) => {
        const d = await ctx.dups.undup(service, requireVm(ctx, opts.vm));
        if (opts.json) printJson({ removed: d.scmName });
        else process.stdout.write(`removed ${d.scmName}\n`);
      });
    });

  program
    .command('start')
    .description('start a duplicate, after its dependencies (duplicated or shared)')
    .argument('<service>')
    .argument('[args...]', 'start arguments passed to the service')
    .requiredOption('--vm <name>')
    .option('--json', 'machine-readable output')
    .action(async (service: string, args: string[], opts: { vm: string; json?: boolean }) => {
      await withContext(program, async (ctx) => {
        const s = await ctx.dups.start(service, requireVm(ctx, opts.vm), args);
        if (opts.json) printJson(s);
        else process.stdout.write(`${s.name}: ${s.state}, pid ${s.pid}\n`);
      });
    });

  program
    .command('stop')
    .description('stop a duplicate, after the duplicates that depend on it')
    .argument('<service>')
    .requiredOption('--vm <name>')
    .option('--json', 'machine-readable output')
    .action(async (service: string, opts: { vm: string; json?: boolean }) => {
      await withContext(program, async (ctx) => {
        const s = await ctx.dups.stop(service, requireVm(ctx, opts.vm));
        if (opts.json) printJson(s);
        else process.stdout.write(`${s.name}: ${s.state} (Win32 exit code ${s.win32ExitCode}, service exit code ${s.serviceExitCode})\n`);
      });
    });

  program
    .command('status')
    .description('duplicates with their SCM state and pid')
    .option('--vm <name>', 'only this VM')
    .option('--json', 'machine-readable output')
    .action(async (opts: { vm?: string; json?: boolean }) => {
      await withReader(program, async (ctx) => {
        if (opts.vm) requireVm(ctx, opts.vm);
        const runtime = new Map(listRuntime(ctx.db, opts.vm).map((r) => [`${r.vm}\0${r.service}`, r]));
        const list = (await ctx.dups.status(opts.vm, { explain: true })).map((d) => {
          const r = runtime.get(`${d.vm}\0${d.service}`);
          const health = healthFromText(r?.health ?? null);
          return r
            ? {
                ...d,
                restart: r.restart,
                restarts: r.restarts,
                lastExit: r.lastExit,
                ...(health ? { health: { ...health, state: r.healthState, at: r.healthAt } } : {}),
              }
            : d;
        });
        const created = await ctx.dups.createdInVm(opts.vm);
        if (opts.json) return printJson([...list, ...created.map((c) => ({ ...c, createdInVm: true }))]);
        printTable(
          ['DUPLICATE', 'VM', 'MODE', 'STATE', 'PID', 'EXIT', 'TYPE', 'RESTARTS', 'HEALTH', 'IMAGE'],
          [
            ...list.map((d) => [
              d.scmName,
              d.vm,
              d.mode,
              d.stoppedBecause ? `STOPPED (${d.stoppedBecause})` : (d.status?.state ?? `? ${d.error ?? ''}`),
              d.status?.pid || '-',
              d.status ? `${d.status.win32ExitCode}/${d.status.serviceExitCode}` : '-',
              // the SCM's type of the duplicate (svcdup-host: own process), not the original's
              d.status ? serviceTypeName(d.status.type) : '-',
              'restart' in d ? `${d.restarts} (${d.restart}${d.lastExit !== null ? `, last exit ${d.lastExit}` : ''})` : '-',
              'health' in d && d.health ? (d.health.state ?? 'starting') : '-',
              d.plan.original.imagePath,
            ]),
            ...created.map((c) => [
              c.scmName,
              c.vm,
              '-',
              c.status.state,
              c.status.pid || '-',
              `${c.status.win32ExitCode}/${c.status.serviceExitCode}`,
              'created in VM',
              '-',
              '-',
              c.imagePath,
            ]),
          ],
        );
        // why a duplicate stopped with an error, where svcdup can tell
        for (const d of list) for (const w of d.why ?? []) process.stdout.write(`${d.scmName}: ${w}\n`);
      });
    });
}
