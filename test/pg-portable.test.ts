// Issue 24 with a real server, PostgreSQL 15 for Windows (test/pg-helpers.ts):
// - 24.0: its data directory is named only in its configuration file (the ImagePath's -D names
//   a configuration-only folder whose postgresql.conf says data_directory): dup snapshots it,
//   so a row the host writes after the dup is not seen by the duplicate;
// - export of VM a on host 1, import into a second home (host 2, its own Wine prefix, the same
//   PostgreSQL registered there): the duplicate answers there with a's rows; both hosts' own
//   data directories are byte-identical to before;
// - checkpoint and restore bring rows back.
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/backend/types.js';
import { cliFor, waitState } from './cli-helpers.js';
import { openTestHost, testRoot, treeHash, type TestHost } from './helpers.js';
import { PG_BIN, pgClients, pgPresent, startPg } from './pg-helpers.js';

const SVC = 'pgconf';
const PORT = 5546;
const DATA = 'C:\\pgdata2';
const CONF = 'C:\\pgconf';
const LONG = 300_000;
const IP1 = '127.77.212.2';
const IP2 = '127.77.212.3';

let h1: TestHost;
let h2: TestHost;
const c1 = cliFor(() => h1.paths);
const c2 = cliFor(() => h2.paths);
const { sql, rows, ready, disconnect, disconnectAll } = pgClients(PORT);
const archive = join(testRoot, `pg-portable-${process.pid}.tgz`);

/** Register the server as pg_ctl does it, with the configuration folder as -D. */
async function register(h: TestHost): Promise<void> {
  const bin = h.backend.toWindowsPath(PG_BIN);
  const reg = await h.backend.exec([`${bin}\\pg_ctl.exe`, 'register', '-N', SVC, '-D', CONF, '-o', `-p ${PORT} -h 127.0.0.1`]);
  expect(reg.code, reg.stdout + reg.stderr).toBe(0);
}
/**
 * `svcdup start` of the duplicate (once more only on Wine's delete-pending race, pg-helpers.ts
 * `startPg`); a failure names what it wrote (PostgreSQL says there why it stopped).
 */
function start(c: ReturnType<typeof cliFor>): ServiceStatus {
  const once = () => c.cli(['start', SVC, '--vm', 'a', '--json']);
  const { result, log } = startPg(once, once, () => c.cli(['logs', SVC, '--vm', 'a', '--tail', '30']).stdout);
  expect(result.status, `svcdup start ${SVC} --vm a: ${result.stderr}${log}`).toBe(0);
  return JSON.parse(result.stdout) as ServiceStatus;
}
const hashes = (h: TestHost) => ({ data: treeHash(h.backend.toHostPath(DATA)), conf: treeHash(h.backend.toHostPath(CONF)) });

describe.skipIf(!pgPresent)('PostgreSQL whose data directory only its configuration file names', () => {
  beforeAll(async () => {
    h1 = await openTestHost('pgport1');
    const b = h1.backend;
    const bin = b.toWindowsPath(PG_BIN);
    const init = await b.exec([`${bin}\\initdb.exe`, '-D', DATA, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale'], { timeoutMs: 300_000 });
    expect(init.code, init.stdout + init.stderr).toBe(0);
    // the configuration-only folder: postgresql.conf names the data directory and the other files
    mkdirSync(b.toHostPath(CONF), { recursive: true });
    writeFileSync(
      b.toHostPath(`${CONF}\\postgresql.conf`),
      [
        "data_directory = 'C:/pgdata2'",
        "hba_file = 'C:/pgconf/pg_hba.conf'",
        "ident_file = 'C:/pgconf/pg_ident.conf'",
        'autovacuum = off',
        'max_logical_replication_workers = 0',
        '',
      ].join('\n'),
    );
    writeFileSync(b.toHostPath(`${CONF}\\pg_hba.conf`), 'host all all 127.0.0.0/8 trust\n');
    writeFileSync(b.toHostPath(`${CONF}\\pg_ident.conf`), '');
    rmSync(b.toHostPath(`${DATA}\\postgresql.conf`));
    await register(h1);
    await b.call('scm.start', { name: SVC });
    expect((await waitState(b, SVC, 'RUNNING', 90_000)).state).toBe('RUNNING');
    await ready('127.0.0.1');
    await sql('127.0.0.1', "create table t (v text); insert into t values ('host'); checkpoint");
    await b.close();
    expect(c1.cli(['vm', 'create', 'a', '--ip', IP1]).status).toBe(0);
  }, 600_000);

  afterAll(async () => {
    await disconnectAll();
    rmSync(archive, { force: true });
    if (h1) c1.cli(['vm', 'rm', 'a']);
    if (h2) c2.cli(['vm', 'rm', 'a']);
    await Promise.all([h1?.dispose(), h2?.dispose()]);
  });

  it(
    'dup snapshots the data directory named in postgresql.conf: a host write after the dup is not seen by the duplicate',
    async () => {
      const dry = c1.cli(['dup', SVC, '--vm', 'a', '--dry-run', '--relayed']);
      expect(dry.status, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/files\.snapshot +snapshot folder C:\\pgdata2 \(/);
      expect(dry.stdout).toMatch(/files\.snapshot +snapshot folder C:\\pgconf \(/);
      // analyze says the same (one list)
      const an = c1.cliJson<{ state?: { snapshot: string[] } }>(['analyze', SVC]);
      expect(an.state?.snapshot.map((s) => s.toLowerCase())).toEqual(expect.arrayContaining(['c:\\pgdata2', 'c:\\pgconf']));
      // relayed: both test homes share the package's bin folder, where a direct copy pg_ctl@a.exe would be
      // one file for both hosts (vm import refuses a taken copy: on two real hosts each has its own)
      expect(c1.cli(['dup', SVC, '--vm', 'a', '--relayed']).status).toBe(0);
      // the host writes after the dup, and makes it durable in its files
      await sql('127.0.0.1', "insert into t values ('host-after-dup'); checkpoint");
      const st = start(c1);
      expect(st.state).toBe('RUNNING');
      await ready(IP1);
      expect(await rows(IP1)).toEqual(['host']);
      await sql(IP1, "insert into t values ('in-a'); checkpoint");
      expect(await rows(IP1)).toEqual(['host', 'in-a']);
      expect(await rows('127.0.0.1')).toEqual(['host', 'host-after-dup']);
    },
    LONG,
  );

  let before1: ReturnType<typeof hashes>;
  let before2: ReturnType<typeof hashes>;
  it(
    "exported on host 1 and imported on host 2, the duplicate answers there with a's rows; both hosts' data directories are unchanged",
    async () => {
      // the host server stopped: from here its folders must not change
      await disconnect('127.0.0.1');
      await h1.backend.call('scm.control', { name: SVC, code: 1 });
      expect((await waitState(h1.backend, SVC, 'STOPPED', 60_000)).state).toBe('STOPPED');
      before1 = hashes(h1);
      await disconnect(IP1);
      const e = c1.cliJson<{ restarted: string[]; files: number }>(['vm', 'export', 'a', '-o', archive, '--stop']);
      expect(e.restarted).toContain(SVC);
      // host 2: its own prefix, the same server installed (its folders copied as an installer would make them), registered
      h2 = await openTestHost('pgport2');
      for (const d of [DATA, CONF]) cpSync(h1.backend.toHostPath(d), h2.backend.toHostPath(d), { recursive: true });
      await register(h2);
      before2 = hashes(h2);
      await h1.backend.close();
      const r = c2.cliJson<{ vm: string; address: string; duplicates: string[] }>(['vm', 'import', archive, '--ip', IP2]);
      expect(r).toMatchObject({ vm: 'a', address: IP2 });
      expect(r.duplicates).toContain(`${SVC}@a`);
      const st = start(c2);
      expect(st.state).toBe('RUNNING');
      await ready(IP2);
      expect(await rows(IP2)).toEqual(['host', 'in-a']);
      // host 1's duplicate was started again after the export, with its rows
      await ready(IP1);
      expect(await rows(IP1)).toEqual(['host', 'in-a']);
      expect(hashes(h1)).toEqual(before1);
      expect(hashes(h2)).toEqual(before2);
      await h2.backend.close();
    },
    LONG,
  );

  it(
    'checkpoint and restore bring the rows back: those written after the checkpoint are gone',
    async () => {
      await disconnect(IP2);
      const ck = c2.cliJson<{ name: string; restarted: string[] }>(['vm', 'checkpoint', 'a', 'before-migration']);
      expect(ck.restarted).toContain(SVC);
      await ready(IP2);
      await sql(IP2, "insert into t values ('bad-migration'); checkpoint");
      expect(await rows(IP2)).toEqual(['bad-migration', 'host', 'in-a']);
      await disconnect(IP2);
      const r = c2.cliJson<{ restarted: string[] }>(['vm', 'restore', 'a', 'before-migration']);
      expect(r.restarted).toContain(SVC);
      await ready(IP2);
      expect(await rows(IP2)).toEqual(['host', 'in-a']);
      await disconnect(IP2);
      expect(hashes(h2)).toEqual(before2);
    },
    LONG,
  );
});

if (!pgPresent)
  describe('PostgreSQL portability (skipped)', () => {
    it.skip(`the package is not fetched (${PG_BIN} is missing): run scripts/fetch-thirdparty.sh`, () => {});
  });
