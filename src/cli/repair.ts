// svcdup repair: make the state database agree with the host, rebuilding a damaged one (src/dup/repair.ts).
import type { Command } from 'commander';
import { createBackend } from '../backend/index.js';
import { Duplicates } from '../dup/dup.js';
import { repairHost, openOrSetAside } from '../dup/repair.js';
import { recoverReported, takeWriterLock } from './context.js';
import { printJson } from './output.js';

export function registerRepairCommand(program: Command): void {
  program
    .command('repair')
    .description(
      'make the state database agree with the host: adopt SERVICE@VM services and VM keys it lacks, forget records whose service is gone, ' +
        'remove half-made leftovers; a damaged database is kept aside and rebuilt from the SCM, the VM keys and the file areas',
    )
    .option('--dry-run', 'say what would be done and change nothing')
    .option('--json', 'machine-readable output')
    .action(async (opts: { dryRun?: boolean; json?: boolean }) => {
      const backend = createBackend({ kind: program.opts<{ backend?: string }>().backend });
      const lock = await takeWriterLock(program, backend.paths.home);
      let db: ReturnType<typeof openOrSetAside>['db'] | undefined;
      try {
        await backend.open();
        const opened = openOrSetAside(backend.paths.stateDb, !!opts.dryRun);
        db = opened.db;
        // what dead commands left half-done is rolled back first (an intact database's journal)
        if (!opened.movedAside && !opts.dryRun) await recoverReported(new Duplicates(backend, db));
        const r = await repairHost(backend, { dryRun: !!opts.dryRun, db });
        const result = { ...(opened.movedAside ? { movedAside: opened.movedAside } : {}), actions: r.actions, dryRun: r.dryRun };
        if (opts.json) return printJson(result);
        if (opened.movedAside)
          process.stdout.write(
            opts.dryRun
              ? `the state database is damaged: it would be moved to ${opened.movedAside} and rebuilt\n`
              : `the damaged state database was moved to ${opened.movedAside}; rebuilt from the host\n`,
          );
        for (const a of r.actions) process.stdout.write(`${opts.dryRun ? 'would ' : ''}${a.kind.padEnd(14)} ${a.target}  (${a.why})\n`);
        if (!r.actions.length) process.stdout.write('the state database and the host agree: nothing to repair\n');
        else if (!opts.dryRun) process.stdout.write(`${r.actions.length} repairs made\n`);
      } finally {
        db?.close();
        await backend.close();
        lock.release();
      }
    });
}
