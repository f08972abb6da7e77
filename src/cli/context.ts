// What commands that change the host share: an opened backend, the state database,
// and recovery of whatever an interrupted svcdup left half-done, before anything else.
import type { Command } from 'commander';
import { createBackend, type ManagedBackend } from '../backend/index.js';
import { Duplicates } from '../dup/dup.js';
import { openDb, type Db } from '../state/db.js';

export interface Context {
  backend: ManagedBackend;
  db: Db;
  dups: Duplicates;
}

export async function withContext<T>(program: Command, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const backend = createBackend({ kind: program.opts<{ backend?: string }>().backend });
  const db = openDb(backend.paths.stateDb);
  try {
    await backend.open();
    const dups = new Duplicates(backend, db);
    const rec = await dups.recover();
    for (const e of rec.rolledBack) process.stderr.write(`svcdup: rolled back an interrupted ${e.op} of ${e.target}\n`);
    for (const e of rec.failed) process.stderr.write(`svcdup: could not roll back ${e.op} of ${e.target}: ${e.error}\n`);
    return await fn({ backend, db, dups });
  } finally {
    db.close();
    await backend.close();
  }
}
