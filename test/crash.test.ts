// Hosts that crash, under real Wine: a truncated and a garbled state database (one clear line,
// `svcdup repair` rebuilds it from the host, up and down work after), a killed svcdup-host and a
// killed direct image (status says STOPPED, and why), the prefix's wineserver killed with -9 in
// the middle of `up` (the command ends within 30 s naming the cause, `up` then converges, no
// Wine process of the prefix outlives `host stop`).
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/backend/types.js';
import { findWine } from '../src/backend/wine.js';
import { packageRoot } from '../src/config.js';
import { openDb } from '../src/state/db.js';
import { nativeDir, openTestHost, testEnv, type TestHost } from './helpers.js';
import { cliFor, waitState } from './cli-helpers.js';

let host: TestHost;
const { cli, cliJson } = cliFor(() => host.paths);
const SVC = 'svcdup-testsvc';
const DIR = 'C:\\svcdup-crash';
const dir = mkdtempSync(join(tmpdir(), 'svcdup-crash-'));
const file = join(dir, 'svcdup.yaml');
const big = join(dir, 'big.yaml');

interface StatusRow {
  scmName: string;
  status: ServiceStatus;
  stoppedBecause?: string;
}

const oneLine = (stderr: string): void => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/internal error|\n\s+at /);
};

/** Every process whose environment names this prefix (the test host's Wine processes). */
function prefixPids(): number[] {
  const want = `WINEPREFIX=${host.paths.prefix}`;
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(want) && readlinkSync(`/proc/${pid}/exe`).includes('wine');
      } catch {
        return false;
      }
    })
    .map(Number);
}

beforeAll(async () => {
  host = await openTestHost('crash');
  const folder = host.backend.toHostPath(DIR);
  mkdirSync(folder, { recursive: true });
  copyFileSync(join(nativeDir, 'svcdup-testsvc.exe'), join(folder, 'svcdup-testsvc.exe'));
  await host.backend.call('scm.create', { name: SVC, displayName: 'svcdup test service', imagePath: `${DIR}\\svcdup-testsvc.exe` });
  // a wineserver killed with -9 loses the registry changes it has not saved yet (Wine saves
  // periodically and at exit): the host's own service is made durable first, as on a real host
  await host.backend.shutdown();
  await host.backend.open();
  writeFileSync(file, `vms:\n  k1:\n    services:\n      ${SVC}: {}\n  k2:\n    services:\n      ${SVC}: { direct: true }\n`);
  writeFileSync(big, `vms:\n${['b1', 'b2', 'b3', 'b4'].map((v) => `  ${v}:\n    services:\n      ${SVC}: {}\n`).join('')}`);
}, 240_000);

afterAll(async () => {
  await host?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('a damaged state database', () => {
  for (const damage of ['truncated', 'garbled', 'emptied'] as const) {
    it(`${damage}: every command says so in one line naming svcdup repair; repair rebuilds it from the host; up and down work`, () => {
      const up = cli(['up', '-f', file]);
      expect(up.status, up.stderr).toBe(0);
      // everything in the main file, then the damage
      const db = openDb(host.paths.stateDb);
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      const size = statSync(host.paths.stateDb).size;
      if (damage === 'truncated') truncateSync(host.paths.stateDb, Math.floor(size / 2));
      else if (damage === 'emptied') truncateSync(host.paths.stateDb, 0);
      else {
        const fd = openSync(host.paths.stateDb, 'r+');
        writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 0);
        closeSync(fd);
      }
      // an emptied database is a valid one that knows nothing: readers show nothing, writers refuse
      // (they would collide with what the host has)
      const refused =
        damage === 'emptied'
          ? [
              ['up', '-f', file],
              ['vm', 'create', 'x1'],
            ]
          : [['status'], ['vm', 'ls'], ['up', '-f', file], ['vm', 'create', 'x1']];
      for (const args of refused) {
        const r = cli(args);
        expect(r.status, `svcdup ${args.join(' ')}: ${r.stderr}`).toBe(4);
        oneLine(r.stderr);
        expect(r.stderr).toMatch(
          damage === 'emptied' ? /no record of the VMs this host has \(k1, k2\): run svcdup repair/ : /state database .* is damaged .*run svcdup repair/,
        );
      }
      const doctor = cli(['doctor']);
      expect(doctor.status).toBe(1);
      expect(doctor.stdout).toMatch(damage === 'emptied' ? /FAIL state\/host +.*svcdup repair/ : /FAIL state +.*damaged.*svcdup repair/);
      const dry = cliJson<{ movedAside?: string; actions: { kind: string; target: string }[] }>(['repair', '--dry-run']);
      expect(dry.movedAside !== undefined).toBe(damage !== 'emptied');
      const r = cliJson<{ movedAside: string; actions: { kind: string; target: string }[] }>(['repair']);
      expect(readdirSync(host.paths.home).some((n) => n.startsWith('state.db.damaged-'))).toBe(damage !== 'emptied');
      expect(r.actions.map((a) => `${a.kind} ${a.target}`).sort()).toEqual([
        'dup.adopt svcdup-testsvc@k1',
        'dup.adopt svcdup-testsvc@k2',
        'vm.adopt k1',
        'vm.adopt k2',
      ]);
      expect(cliJson<{ actions: unknown[] }>(['repair', '--dry-run']).actions).toEqual([]);
      expect(cliJson<StatusRow[]>(['status']).map((d) => d.scmName)).toEqual([`${SVC}@k1`, `${SVC}@k2`]);
      const again = cli(['up', '-f', file]);
      expect(again.status, again.stderr).toBe(0);
      const down = cli(['down', '-f', file]);
      expect(down.status, down.stderr).toBe(0);
      expect(cliJson<unknown[]>(['status'])).toEqual([]);
      for (const n of readdirSync(host.paths.home)) if (n.startsWith('state.db.damaged-')) rmSync(join(host.paths.home, n));
    }, 300_000);
  }
});

describe('processes that die', () => {
  it('a killed svcdup-host and a killed direct image show as STOPPED, with the reason', async () => {
    expect(cli(['up', '-f', file]).status).toBe(0);
    const st = cliJson<StatusRow[]>(['status']);
    for (const d of st) expect(d.status.state).toBe('RUNNING');
    for (const d of st) await host.backend.call('proc.kill', { pid: d.status.pid });
    let after: StatusRow[] = [];
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = cliJson<StatusRow[]>(['status']);
      if (after.every((d) => d.status.state === 'STOPPED')) break;
    }
    expect(after.map((d) => d.status.state)).toEqual(['STOPPED', 'STOPPED']);
    // svcdup-watch has the SCM say STOPPED itself (1066, the exit code proc.kill gave) for the direct
    // image, and for a relayed one's svcdup-host once it runs (it takes every running NAME@VM); what it
    // has not reported yet, status sees gone, with the reason
    const said = (d: StatusRow, gone: RegExp): void => {
      if (d.stoppedBecause === undefined) expect(d.status.win32ExitCode, JSON.stringify(d)).toBe(1066);
      else expect(d.stoppedBecause).toMatch(gone);
    };
    said(after[0]!, /its svcdup-host \(pid \d+\) is gone/);
    said(after[1]!, /its image \(pid \d+\) is gone/);
    if (after[0]!.stoppedBecause) expect(cli(['status']).stdout).toMatch(/STOPPED \(its svcdup-host/);
    // stop says what is so (not Win32 error 232); up starts both again
    const stop = cli(['stop', SVC, '--vm', 'k1']);
    expect(stop.status, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/STOPPED/);
    const up = cli(['up', '-f', file]);
    expect(up.status, up.stderr).toBe(0);
    const live = new Set((await host.backend.call('proc.list', {})).map((p) => p.pid));
    for (const d of cliJson<StatusRow[]>(['status'])) {
      expect(d.status.state, JSON.stringify(d)).toBe('RUNNING');
      expect(live.has(d.status.pid)).toBe(true);
    }
  }, 300_000);
});

describe("the prefix's wineserver killed", () => {
  it('in the middle of up: the command ends within 30 s naming the cause; up then converges; host stop leaves no Wine process', async () => {
    const wine = findWine();
    const t0 = Date.now();
    const child = spawn('node', [join(packageRoot, 'dist/cli.js'), 'up', '-f', big], { env: testEnv(host.paths), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const done = new Promise<{ code: number | null; at: number }>((resolve) => child.on('close', (code) => resolve({ code, at: Date.now() })));
    // once the first duplicate of it is registered: the rest of the up is under way
    for (let i = 0; i < 600; i++) {
      if ((await host.backend.call('scm.list', {})).some((s) => s.name.endsWith('@b1'))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await host.backend.close();
    const killedAt = Date.now();
    spawnSync(wine.server, ['-k9'], { env: { ...process.env, WINEPREFIX: host.paths.prefix }, stdio: 'ignore' });
    const r = await done;
    expect(r.at - killedAt, stderr).toBeLessThan(30_000);
    expect(r.code).not.toBe(0);
    expect(stderr).toMatch(/the Wine prefix's wineserver died/);
    expect(stderr).not.toMatch(/internal error|\n\s+at /);
    void t0;
    // the next up starts Wine again, rolls back or reconciles what was lost, and converges
    const again = cli(['up', '-f', big]);
    expect(again.status, again.stderr).toBe(0);
    const st = cliJson<StatusRow[]>(['status']);
    for (const v of ['b1', 'b2', 'b3', 'b4']) expect(st.find((d) => d.scmName === `${SVC}@${v}`)?.status.state, JSON.stringify(st)).toBe('RUNNING');
    expect(cliJson<{ actions: unknown[] }>(['repair', '--dry-run']).actions).toEqual([]);
    // host stop ends every process of the prefix, also after a crash left some the new server does not know
    expect(prefixPids().length).toBeGreaterThan(0);
    expect(cli(['host', 'stop']).status).toBe(0);
    expect(prefixPids()).toEqual([]);
    await host.backend.open();
    expect((await waitState(host.backend, `${SVC}@b1`, 'RUNNING')).state).toBeDefined();
    expect(cli(['down', '-f', big]).status).toBe(0);
    expect(cli(['down', '-f', file]).status).toBe(0);
  }, 400_000);
});
