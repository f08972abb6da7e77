// What commands share: an opened backend and the state database. A command that changes the
// host (withContext) first takes the writer lock (src/state/lock.ts), waiting for another
// writer as --wait/--no-wait say, then rolls back what a dead svcdup left half-done; one that
// only reads (withReader) takes no lock and recovers nothing, so it never waits and never
// undoes a live command's work (docs/design.md, "Many commands at once").
import type { Command } from 'commander';
import { createBackend, type ManagedBackend } from '../backend/index.js';
import { Duplicates } from '../dup/dup.js';
import { UsageError } from '../errors.js';
import { openDb, type Db } from '../state/db.js';
import { WriterLock } from '../state/lock.js';
import { checkDrift } from '../dup/repair.js';
import { anyWatched } from '../state/runtime.js';
import { ensureWatcher } from '../watch/daemon.js';

export interface Context {
  backend: ManagedBackend;
  db: Db;
  dups: Duplicates;
}

/** How long a writer waits for another by default. */
export const DEFAULT_WAIT_S = 120;

/** --wait SECONDS / --no-wait (program options) as milliseconds. */
export function waitMs(program: Command): number {
  const w = program.opts<{ wait?: string | boolean }>().wait;
  if (w === false) return 0;
  if (w === undefined || w === true) return DEFAULT_WAIT_S * 1000;
  const n = Number(w);
  if (!/^\d+(\.\d+)?$/.test(w) || !Number.isFinite(n)) throw new UsageError(`--wait must be a number of seconds, not "${w}"`);
  return n * 1000;
}

/** The writer lock of this home, taken as the program's --wait says; the waiting is said on stderr. */
export async function takeWriterLock(program: Command, home: string): Promise<WriterLock> {
  const ms = waitMs(program);
  return WriterLock.acquire(home, {
    waitMs: ms,
    what: process.argv.slice(2).join(' '),
    onWait: (holder) => process.stderr.write(`svcdup: waiting for another svcdup command to finish (${holder}); up to ${ms / 1000} s\n`),
  });
}

/** Roll back what dead svcdup commands left half-done, saying so. Only under the writer lock. */
export async function recoverReported(dups: Duplicates): Promise<void> {
  const rec = await dups.recover();
  for (const e of rec.rolledBack) process.stderr.write(`svcdup: rolled back an interrupted ${e.op} of ${e.target}\n`);
  for (const e of rec.failed) process.stderr.write(`svcdup: could not roll back ${e.op} of ${e.target}: ${e.error}\n`);
}

/** A command that changes the host: under the writer lock, after recovery. */
export async function withContext<T>(program: Command, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const backend = createBackend({ kind: program.opts<{ backend?: string }>().backend });
  const db = openDb(backend.paths.stateDb);
  let lock: WriterLock | undefined;
  try {
    lock = await takeWriterLock(program, backend.paths.home);
    await backend.open();
    const dups = new Duplicates(backend, db);
    await recoverReported(dups);
    await checkDrift(backend, db);
    const result = await fn({ backend, db, dups });
    // restart policies and health checks need the watcher: one that ended with its Wine starts again here
    if (anyWatched(db)) await ensureWatcher(backend.paths.home, backend.kind);
    return result;
  } finally {
    db.close();
    await backend.close();
    lock?.release();
  }
}

/** A command that only reads: no lock, no recovery (an operation in progress shows as it is). */
export async function withReader<T>(program: Command, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const backend = createBackend({ kind: program.opts<{ backend?: string }>().backend });
  const db = openDb(backend.paths.stateDb);
  try {
    await backend.open();
    return await fn({ backend, db, dups: new Duplicates(backend, db) });
  } finally {
    db.close();
    await backend.close();
  }
}
