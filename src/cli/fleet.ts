// up, down and `ps -f`: a fleet of VMs and duplicates declared in svcdup.yaml (docs/fleet.md).
import type { Command } from 'commander';
import { readFleet } from '../fleet/file.js';
import { fleetDown, fleetPs, fleetUp, type FleetEvent } from '../fleet/fleet.js';
import { describeChange } from '../fleet/plan.js';
import { withContext, withReader } from './context.js';
import { repairHost } from '../dup/repair.js';
import { printJson, printTable } from './output.js';

export const DEFAULT_FLEET_FILE = 'svcdup.yaml';

const jsonLine = (v: unknown): void => void process.stdout.write(JSON.stringify(v) + '\n');

/** A line per step: `[3/12] dup RpcSs@web1 (declared) ... done`; failures name the error. */
function progress(json: boolean): (e: FleetEvent) => void {
  return (e) => {
    if (json) return jsonLine({ event: 'step', ...e });
    if (e.status === 'begin') return;
    const tail = e.status === 'failed' ? `FAILED: ${e.error}` : e.state ? `${e.state}${e.pid ? `, pid ${e.pid}` : ''}` : 'done';
    process.stdout.write(`[${e.step}/${e.of}] ${e.text}: ${tail}\n`);
  };
}

export function registerFleetCommands(program: Command): void {
  program
    .command('up')
    .description('make the host match a fleet file: create what is missing, change what differs, start in dependency order')
    .option('-f, --file <file>', 'the fleet file', DEFAULT_FLEET_FILE)
    .option('--dry-run', 'print the changes without making them')
    .option('--json', 'JSON lines: one per step, then a summary')
    .action(async (opts: { file: string; dryRun?: boolean; json?: boolean }) => {
      const fleet = readFleet(opts.file);
      await withContext(program, async (ctx) => {
        // the database made to agree with the host first: records of vanished services, unrecorded SERVICE@VM services (src/dup/repair.ts)
        const fixed = await repairHost(ctx.backend, { dryRun: !!opts.dryRun, db: ctx.db });
        for (const a of fixed.actions)
          if (opts.json) jsonLine({ event: 'repair', ...a });
          else process.stdout.write(`${opts.dryRun ? 'would repair' : 'repaired'}: ${a.kind} ${a.target} (${a.why})\n`);
        const r = await fleetUp(ctx, fleet, { dryRun: !!opts.dryRun, onEvent: progress(!!opts.json) });
        const dups = fleet.vms.reduce((n, v) => n + v.services.length, 0);
        if (opts.json)
          return jsonLine({ event: 'summary', file: r.file, dryRun: r.dryRun, changes: r.changes, applied: r.applied, upToDate: r.changes.length === 0 });
        if (r.changes.length === 0)
          return void process.stdout.write(`up to date: ${fleet.vms.length} VMs and ${dups} duplicates match ${opts.file}; nothing changed\n`);
        if (r.dryRun) {
          for (const c of r.changes) process.stdout.write(`would ${describeChange(c)}\n`);
          return void process.stdout.write(`${r.changes.length} changes (dry run: nothing changed)\n`);
        }
        process.stdout.write(`${r.applied} changes applied: ${fleet.vms.length} VMs and ${dups} duplicates match ${opts.file}\n`);
      });
    });

  program
    .command('down')
    .description('remove exactly the VMs a fleet file declares, with their duplicates')
    .option('-f, --file <file>', 'the fleet file', DEFAULT_FLEET_FILE)
    .option('--json', 'JSON lines: one per step, then a summary')
    .action(async (opts: { file: string; json?: boolean }) => {
      const fleet = readFleet(opts.file);
      await withContext(program, async (ctx) => {
        const r = await fleetDown(ctx, fleet, progress(!!opts.json));
        if (opts.json) return jsonLine({ event: 'summary', ...r });
        if (!r.removed.length) process.stdout.write(`nothing to remove: no VM of ${opts.file} exists\n`);
        else process.stdout.write(`removed ${r.removed.length} VMs and ${r.removed.reduce((n, v) => n + v.undup.length, 0)} duplicates\n`);
      });
    });
}

/** `svcdup ps -f FILE`: declared against actual (called by the ps command when -f is given). */
export async function fleetPsCommand(program: Command, file: string, json: boolean): Promise<void> {
  const fleet = readFleet(file);
  await withReader(program, async (ctx) => {
    const r = await fleetPs(ctx, fleet);
    if (json) return printJson(r);
    printTable(
      ['VM', 'SERVICE', 'DECLARED', 'MODE', 'STATE', 'PID', 'UP WOULD'],
      r.rows.map((x) => [x.vm, x.service, x.declared ? 'yes' : 'no', x.mode, x.state, x.pid || '-', x.pending || '-']),
    );
  });
}
