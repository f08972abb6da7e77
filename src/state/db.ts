// svcdup's state: one SQLite database per home ($SVCDUP_HOME/state.db).
// Schema changes are appended to MIGRATIONS, never edited: user_version says how far a database is.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

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
];

export function openDb(path: string): Db {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  // WAL: a commit is in the log before the statement returns, so a kill at any point
  // leaves every committed step for recovery; NORMAL skips the fsync per commit, which
  // only a power loss (not a kill) could take back.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 10000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
