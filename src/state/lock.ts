// One writer at a time per SVCDUP_HOME (docs/design.md, "Many commands at once").
//
// The lock is SQLite's own: a small database beside state.db ($SVCDUP_HOME/writer.lock)
// held in an EXCLUSIVE transaction for as long as the command changes the host. SQLite
// takes it with a POSIX advisory lock (LockFileEx on Windows), which the kernel drops when
// the holder dies however it dies (SIGKILL, a crash, the machine going down), so a dead
// command never keeps the host locked; a stopped one (SIGSTOP) does keep it, as it must:
// it may resume. It is a separate file because state.db itself must commit every journal
// step as it happens (a kill must leave them on record), which a transaction held for the
// whole command would not.
//
// Who holds it is in writer.owner (pid, process start, what it runs), written once the
// lock is taken: only what a waiting command prints, never what decides anything.
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SvcdupError } from '../errors.js';

/** A process, told apart from a later one that got the same pid: its start time (and the boot it started in). */
export interface Owner {
  pid: number;
  /** `<boot id>:<start time in clock ticks>` from /proc; '' where there is no /proc */
  start: string;
}

function readProcStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces and parentheses): state is field 3, starttime field 22
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined; // a zombie has ended
    return rest[19];
  } catch {
    return undefined;
  }
}

let bootId: string | undefined;
function boot(): string {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootId = '';
    }
  }
  return bootId;
}

const hasProc = (): boolean => readProcStart(process.pid) !== undefined;

export function ownerOf(pid: number): Owner {
  const ticks = readProcStart(pid);
  return { pid, start: ticks === undefined ? '' : `${boot()}:${ticks}` };
}

export const selfOwner = (): Owner => ownerOf(process.pid);

/** Whether the process that wrote `o` still runs (a stopped one does). */
export function ownerAlive(o: Owner): boolean {
  if (!o.pid) return false;
  if (o.start && hasProc()) {
    const [b, ticks] = o.start.split(':');
    if (b !== boot()) return false; // another boot: every process of it has ended
    return readProcStart(o.pid) === ticks;
  }
  try {
    process.kill(o.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface WaitOptions {
  /** how long to wait for another writer, in ms (0: do not wait) */
  waitMs: number;
  /** what this command is, for the owner file ("dup RpcSs --vm a") */
  what: string;
  /** told once, when the lock is taken by someone else and this waits */
  onWait?: (holder: string) => void;
}

/** The lock is held by another command and the wait is over (or none was allowed). */
export class LockBusyError extends SvcdupError {
  constructor(message: string) {
    super(message, 75); // EX_TEMPFAIL: try again later
    this.name = 'LockBusyError';
  }
}

interface OwnerFile extends Owner {
  what: string;
  since: string;
}

export class WriterLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly home: string,
  ) {}

  static ownerFile = (home: string): string => join(home, 'writer.owner');

  /** Who holds the lock as its owner file says, in words ('' when unknown). */
  static holder(home: string): string {
    try {
      const o = JSON.parse(readFileSync(WriterLock.ownerFile(home), 'utf8')) as OwnerFile;
      return `pid ${o.pid}${o.what ? `: svcdup ${o.what}` : ''}, since ${o.since}`;
    } catch {
      return '';
    }
  }

  /** Take the lock, waiting up to opts.waitMs; a LockBusyError says who holds it when the wait is over. */
  static async acquire(home: string, opts: WaitOptions): Promise<WriterLock> {
    mkdirSync(home, { recursive: true });
    // timeout 0: a busy lock throws at once, and the wait below stays asynchronous (the dashboard keeps serving)
    const db = new Database(join(home, 'writer.lock'), { timeout: 0 });
    const deadline = Date.now() + opts.waitMs;
    let told = false;
    for (let pause = 20; ; pause = Math.min(pause * 2, 250)) {
      try {
        db.exec('BEGIN EXCLUSIVE');
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') {
          db.close();
          throw err;
        }
      }
      const holder = WriterLock.holder(home) || 'another svcdup command';
      if (Date.now() >= deadline) {
        db.close();
        throw new LockBusyError(
          `another svcdup command is changing this host (${holder}); ` +
            (opts.waitMs ? `gave up after ${Math.round(opts.waitMs / 1000)} s (--wait SECONDS to wait longer)` : `not waiting (--no-wait)`),
        );
      }
      if (!told) {
        told = true;
        opts.onWait?.(holder);
      }
      await new Promise((r) => setTimeout(r, pause));
    }
    const owner: OwnerFile = { ...selfOwner(), what: opts.what, since: new Date().toISOString() };
    try {
      writeFileSync(WriterLock.ownerFile(home), JSON.stringify(owner) + '\n');
    } catch {
      /* informational only */
    }
    return new WriterLock(db, home);
  }

  release(): void {
    if (!this.db.open) return;
    try {
      writeFileSync(WriterLock.ownerFile(this.home), '');
    } catch {
      /* informational only */
    }
    try {
      this.db.exec('ROLLBACK');
    } finally {
      this.db.close();
    }
  }
}
