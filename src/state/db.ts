// svcdup's state: one SQLite database per home ($SVCDUP_HOME/state.db).
// Schema changes are appended to MIGRATIONS, never edited: user_version says how far a database is.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SvcdupError } from '../errors.js';

export type Db = Database.Database;

const MIGRATIONS: string[] = [
  // 1: the operation journal (src/state/journal.ts)
  `CREATE TABLE journal (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     op TEXT NOT NULL,
     target TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('running', 'done', 'rolled-back', 'failed')),
     started_at TEXT NOT NULL,
     ended_at TEXT,
     error TEXT
   );
   CREATE TABLE journal_step (
     journal_id INTEGER NOT NULL REFERENCES journal(id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     kind TEXT NOT NULL,
     args TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'undone')),
     PRIMARY KEY (journal_id, seq)
   );`,
  // 2: VMs and duplicates
  `CREATE TABLE vm (
     name TEXT PRIMARY KEY,
     created_at TEXT NOT NULL,
     policy TEXT NOT NULL DEFAULT '',
     address TEXT,
     port_map TEXT NOT NULL DEFAULT '{}'
   );
   CREATE TABLE duplicate (
     vm TEXT NOT NULL REFERENCES vm(name),
     service TEXT NOT NULL,
     scm_name TEXT NOT NULL UNIQUE,
     created_at TEXT NOT NULL,
     plan TEXT NOT NULL,
     PRIMARY KEY (vm, service)
   );`,
  // 3: who runs each operation (src/state/lock.ts Owner): recovery rolls back only a dead owner's
  `ALTER TABLE journal ADD COLUMN owner_pid INTEGER;
   ALTER TABLE journal ADD COLUMN owner_start TEXT;`,
  // 4: what happened to VMs and duplicates, in order (src/state/events.ts)
  `CREATE TABLE event (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at TEXT NOT NULL,
     kind TEXT NOT NULL,
     vm TEXT,
     service TEXT,
     detail TEXT NOT NULL DEFAULT '{}'
   );
   CREATE INDEX event_at ON event(at);`,
  // 5: running duplicates the way containers are run (issue 22): a VM's resource limits; per duplicate its
  // restart policy and health check (as given), and what the watcher saw (restarts, last exit, health)
  `ALTER TABLE vm ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
   CREATE TABLE dup_runtime (
     vm TEXT NOT NULL,
     service TEXT NOT NULL,
     restart TEXT NOT NULL DEFAULT 'no',
     health TEXT,
     restarts INTEGER NOT NULL DEFAULT 0,
     last_exit INTEGER,
     health_state TEXT,
     health_at TEXT,
     PRIMARY KEY (vm, service)
   );`,
];

/** The state database cannot be read: every command but `svcdup repair` stops with this one line. */
export class DamagedDbError extends SvcdupError {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`the state database ${path} is damaged (${detail}): run svcdup repair to rebuild it from the host (the damaged file is kept aside)`, 4);
    this.name = 'DamagedDbError';
  }
}

/** SQLite's codes for a file that is not (or no longer) a database. */
const DAMAGED = /^SQLITE_(CORRUPT|NOTADB)/;

export function openDb(path: string): Db {
  mkdirSync(dirname(path), { recursive: true });
  let db: Db | undefined;
  try {
    db = new Database(path);
    // WAL: a commit is in the log before the statement returns, so a kill at any point
    // leaves every committed step for recovery, and readers (status, the dashboard) never
    // wait for a writer. NORMAL: a commit is not synced to the disk by itself (a kill loses
    // nothing; a power loss may lose the last commits, never the database's consistency).
    // The commits that must survive a power loss, the journal's records of steps before
    // they are applied, are synced each (Journal's `durable`: FULL for that commit, which
    // syncs every commit before it too); the rest (steps marked done, events, counters) is
    // not worth an fsync (about 4 ms each here) on every command's path.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 10000');
    // quick_check: the structure of every page, in a few ms for a database this size
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new DamagedDbError(path, String(check).split('\n')[0]!);
    migrate(db);
    return db;
  } catch (err) {
    db?.close();
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && DAMAGED.test(code)) throw new DamagedDbError(path, (err as Error).message);
    throw err;
  }
}

function migrate(db: Db): void {
  if ((db.pragma('user_version', { simple: true }) as number) >= MIGRATIONS.length) return;
  // IMMEDIATE, and the version read again inside: commands opening a new home at once
  // (readers too) would otherwise each apply the same migration
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    for (let v = current; v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();
}
