// What the PostgreSQL tests share (test/pg.test.ts, test/pg-portable.test.ts): where the
// server's binaries are (scripts/fetch-thirdparty.sh), and SQL clients kept one per instance.
import type { SpawnSyncReturns } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { ManagedBackend } from '../src/backend/index.js';
import { packageRoot } from '../src/config.js';

export const PG_BIN = join(packageRoot, '.cache', 'thirdparty', 'pg15', 'package', 'native', 'bin');
export const pgPresent = existsSync(join(PG_BIN, 'pg_ctl.exe'));

/**
 * One connection per instance, kept: every new connection is a new server process
 * (postgres --forkchild), a Wine process start, the slowest thing here.
 */
export function pgClients(port: number) {
  const clients = new Map<string, pg.Client>();
  /** Close the kept connection to an instance (before it is stopped). */
  async function disconnect(address: string): Promise<void> {
    const c = clients.get(address);
    clients.delete(address);
    await c?.end().catch(() => undefined);
  }
  async function sql<T extends Record<string, unknown>>(address: string, text: string): Promise<T[]> {
    let c = clients.get(address);
    if (!c) {
      const fresh = new pg.Client({ host: address, port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 20_000 });
      // a server stopped under a kept connection ends it: forget it, the next query reconnects
      fresh.on('error', () => clients.get(address) === fresh && clients.delete(address));
      await fresh.connect();
      clients.set(address, fresh);
      c = fresh;
    }
    try {
      return (await c.query<T>(text)).rows;
    } catch (err) {
      await disconnect(address);
      throw err;
    }
  }
  const rows = async (address: string): Promise<string[]> => (await sql<{ v: string }>(address, 'select v from t order by v')).map((r) => r.v);
  /** Connect until the server accepts (a started service may still be recovering its copy). */
  async function ready(address: string, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      try {
        await sql(address, 'select 1');
        return;
      } catch (err) {
        if (Date.now() > end) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
  const disconnectAll = async (): Promise<void> => {
    for (const a of [...clients.keys()]) await disconnect(a);
  };
  return { sql, rows, ready, disconnect, disconnectAll };
}

/**
 * A data directory made by initdb in `backend`'s prefix (test/cluster.test.ts): clients from
 * any loopback address trusted (the tests connect to VM addresses), fewer server processes
 * per start (no autovacuum or logical replication launcher: each is a Wine process start).
 */
export async function initPgData(backend: ManagedBackend, data: string): Promise<void> {
  const bin = backend.toWindowsPath(PG_BIN);
  const init = await backend.exec([`${bin}\\initdb.exe`, '-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale'], { timeoutMs: 300_000 });
  if (init.code !== 0) throw new Error(`initdb -D ${data}: ${init.stdout}${init.stderr}`);
  appendFileSync(backend.toHostPath(`${data}\\pg_hba.conf`), 'host all all 127.0.0.0/8 trust\n');
  appendFileSync(backend.toHostPath(`${data}\\postgresql.conf`), 'autovacuum = off\nmax_logical_replication_workers = 0\n');
}

/** The server registered as service `name` by its own pg_ctl, on loopback (a VM's copy answers at its VM's address). */
export async function registerPg(backend: ManagedBackend, name: string, data: string, port: number): Promise<void> {
  const bin = backend.toWindowsPath(PG_BIN);
  const reg = await backend.exec([`${bin}\\pg_ctl.exe`, 'register', '-N', name, '-D', data, '-o', `-p ${port} -h 127.0.0.1`]);
  if (reg.code !== 0) throw new Error(`pg_ctl register -N ${name}: ${reg.stdout}${reg.stderr}`);
}

/**
 * A PostgreSQL duplicate's start (`dup --start` or `start`, run by `attempt`), once more with
 * `svcdup start` (`again`) when, and only when, the first one failed on Wine's delete-pending
 * behaviour (docs/state.md, "No torn views"): the snapshot of a running server carries a stale
 * postmaster.pid; the postmaster deletes it while pg_ctl's readiness poll holds it open, Wine
 * (unlike Windows) lets the pending file be opened again, and the postmaster's second delete
 * finds it gone: `FATAL: could not remove old lock file`. Plain Wine does the same (a probe of
 * those steps); any other failure, or a second one, is the result. `logs` is the duplicate's log.
 */
export function startPg(
  attempt: () => SpawnSyncReturns<string>,
  again: () => SpawnSyncReturns<string>,
  logs: () => string,
): { result: SpawnSyncReturns<string>; log: string } {
  const first = attempt();
  if (first.status === 0) return { result: first, log: '' };
  const log = logs();
  if (!/could not remove old lock file "postmaster\.pid": No such file or directory/.test(log)) return { result: first, log };
  const second = again();
  return { result: second, log: second.status === 0 ? '' : logs() };
}
