// Many svcdup commands at once, as real processes (`node dist/cli.js`, several spawned
// together) against one Wine host, with a `status` loop and the dashboard polling all the
// while: 4 and 8 `vm create` at once, 8 `dup --start` into 8 VMs, two `dup` of one service
// into one VM, `dup` beside `vm rm` of that VM, two `up -f` of different files, a command
// stopped (SIGSTOP) in the middle of its operation, then killed. After each: the database,
// the SCM, the VM keys and the file areas agree, nothing reported done is lost; at the end
// the host's Services and SOFTWARE keys are as they were.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegTree, ServiceStatus } from '../src/backend/types.js';
import { packageRoot } from '../src/config.js';
import { VMS_KEY } from '../src/plan/keys.js';
import { openDb } from '../src/state/db.js';
import { nativeExe, openTestHost, testEnv, type TestHost } from './helpers.js';
import { cliFor, waitState } from './cli-helpers.js';

let host: TestHost;
const { cli, cliJson } = cliFor(() => host.paths);
const SVC = 'svcdup-testsvc';
const SERVICES = 'HKLM\\SYSTEM\\CurrentControlSet\\Services';
const dir = mkdtempSync(join(tmpdir(), 'svcdup-conc-'));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `svcdup ARGS` as a child process of its own, not waited for: several run at once. */
function start(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<Run> } {
  const t0 = Date.now();
  const child = spawn('node', [join(packageRoot, 'dist/cli.js'), ...args], { env: { ...testEnv(host.paths), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Run>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
  return { child, done };
}
const runAll = (cmds: string[][]): Promise<Run[]> => Promise.all(cmds.map((c) => start(c).done));
const noTrace = (r: Run): void => {
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
};

/** Readers polling all the while: `status` in a loop and the dashboard's state; their failures are collected. */
const pollFailures: string[] = [];
let polls = 0;
let polling = true;
let ui: ChildProcess | undefined;
let statusLoop: Promise<void> | undefined;

async function loopStatus(): Promise<void> {
  while (polling) {
    const r = await start(['status', '--json']).done;
    polls++;
    if (r.code !== 0 || /internal error|\n\s+at /.test(r.stderr)) pollFailures.push(`status: exit ${r.code}: ${r.stderr.trim()}`);
    else if (/rolled back/.test(r.stderr)) pollFailures.push(`status recovered something: ${r.stderr.trim()}`);
  }
}

async function startUi(): Promise<void> {
  ui = spawn('node', [join(packageRoot, 'dist/cli.js'), 'ui', '--json', '--port', '0'], { env: testEnv(host.paths), stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    ui!.stdout!.once('data', (c: Buffer) => resolve((JSON.parse(c.toString()) as { url: string }).url));
    ui!.once('exit', (code) => reject(new Error(`svcdup ui exited with ${code}`)));
  });
  const stateUrl = url.replace('/?token=', '/api/state?token=');
  void (async () => {
    while (polling) {
      // a connection of its own each time (no keep-alive to race with the server's idle timeout)
      const r = await new Promise<{ status?: number; error?: string }>((resolve) => {
        const req = get(stateUrl, { agent: false, timeout: 30_000 }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode }));
        });
        req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
        req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: `${err.code ?? ''} ${err.message}` }));
      });
      polls++;
      if (r.error && polling) pollFailures.push(`dashboard: ${r.error}`);
      else if (r.status !== undefined && r.status !== 200) pollFailures.push(`dashboard: HTTP ${r.status}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
}

/** The Services key and HKLM\SOFTWARE (its subkeys but Microsoft and Wow6432Node, whose Perflib cannot be exported under Wine; the Svchost groups of it). */
async function exportKeys(): Promise<{ services: RegTree; software: Record<string, RegTree> }> {
  const software: Record<string, RegTree> = {};
  for (const k of (await host.backend.call('reg.query', { key: 'HKLM\\SOFTWARE' })).subkeys)
    if (!['microsoft', 'wow6432node'].includes(k.toLowerCase())) software[k] = await host.backend.call('reg.export', { key: `HKLM\\SOFTWARE\\${k}` });
  software.svchost = await host.backend.call('reg.export', { key: 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Svchost' });
  return { services: await host.backend.call('reg.export', { key: SERVICES }), software };
}

/**
 * The database, the SCM, the VM keys and the areas agree: every VM record has its key and
 * every key its record; every duplicate record has its SCM service and copy key and every
 * SERVICE@VM service a record; no operation is left running; `repair --dry-run` finds nothing.
 */
async function agree(): Promise<{ vms: string[]; dups: string[] }> {
  const vms = cliJson<{ name: string; address?: string }[]>(['vm', 'ls']).map((v) => v.name);
  const dups = cliJson<{ scmName: string; createdInVm?: boolean }[]>(['status'])
    .filter((d) => !d.createdInVm)
    .map((d) => d.scmName.toLowerCase())
    .sort();
  let keys: string[] = [];
  try {
    keys = (await host.backend.call('reg.query', { key: VMS_KEY })).subkeys.sort();
  } catch {
    /* no VM key at all */
  }
  expect(keys).toEqual([...vms].sort());
  const copies: string[] = [];
  for (const vm of keys) {
    try {
      for (const s of (await host.backend.call('reg.query', { key: `${VMS_KEY}\\${vm}\\Services` })).subkeys) copies.push(`${s}@${vm}`.toLowerCase());
    } catch {
      /* no copies */
    }
  }
  const scm = (await host.backend.call('scm.list', {}))
    .map((s) => s.name.toLowerCase())
    .filter((n) => n.includes('@'))
    .sort();
  expect(scm).toEqual(dups);
  expect(copies.sort()).toEqual(dups);
  // every area belongs to a VM
  const areas = host.backend.toHostPath('C:\\ProgramData\\svcdup\\VMs');
  if (existsSync(areas)) for (const a of readdirSync(areas)) expect(vms).toContain(a);
  const db = openDb(host.paths.stateDb);
  try {
    expect(db.prepare(`SELECT op, target FROM journal WHERE status != 'done' AND status != 'rolled-back'`).all()).toEqual([]);
  } finally {
    db.close();
  }
  expect(cliJson<{ actions: unknown[] }>(['repair', '--dry-run']).actions).toEqual([]);
  return { vms, dups };
}

let before: Awaited<ReturnType<typeof exportKeys>>;

beforeAll(async () => {
  host = await openTestHost('conc');
  await host.backend.call('scm.create', { name: SVC, displayName: 'svcdup test service', imagePath: nativeExe(host.backend, 'svcdup-testsvc.exe') });
  before = await exportKeys();
  statusLoop = loopStatus();
  await startUi();
}, 240_000);

afterAll(async () => {
  polling = false;
  await statusLoop;
  if (ui && ui.exitCode === null) {
    ui.kill('SIGTERM');
    await new Promise((r) => ui!.once('exit', r));
  }
  await host?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('commands at once', () => {
  it('4 vm create at once, then 4 more: all created, each with its own address', async () => {
    for (const batch of [
      ['c1', 'c2', 'c3', 'c4'],
      ['c5', 'c6', 'c7', 'c8'],
    ]) {
      const rs = await runAll(batch.map((n) => ['vm', 'create', n, '--json']));
      for (const r of rs) {
        noTrace(r);
        expect(r.code, r.stderr).toBe(0);
      }
    }
    const vms = cliJson<{ name: string; address: string }[]>(['vm', 'ls']);
    expect(vms.map((v) => v.name)).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8']);
    expect(new Set(vms.map((v) => v.address)).size).toBe(8);
    await agree();
  }, 600_000);

  it('8 dup --start into 8 VMs at once: all registered and RUNNING, nothing lost', async () => {
    const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8'];
    const rs = await runAll(names.map((vm) => ['dup', SVC, '--vm', vm, '--start']));
    for (const r of rs) {
      noTrace(r);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/RUNNING/);
    }
    const st = cliJson<{ scmName: string; status: ServiceStatus }[]>(['status']);
    expect(st.map((d) => d.scmName).sort()).toEqual(names.map((v) => `${SVC}@${v}`));
    for (const d of st) expect(d.status.state).toBe('RUNNING');
    await agree();
  }, 600_000);

  it('two dup of one service into one VM at once: exactly one wins, the loser changes nothing', async () => {
    expect(cli(['vm', 'create', 'd1']).status).toBe(0);
    const rs = await runAll([
      ['dup', SVC, '--vm', 'd1'],
      ['dup', SVC, '--vm', 'd1'],
    ]);
    rs.forEach(noTrace);
    expect(rs.map((r) => r.code).sort()).toEqual([0, 2]);
    const loser = rs.find((r) => r.code !== 0)!;
    expect(loser.stderr).toMatch(/already duplicated into d1/);
    const { dups } = await agree();
    expect(dups).toContain(`${SVC}@d1`);
    expect(cli(['vm', 'rm', 'd1']).status).toBe(0);
  }, 300_000);

  it('dup beside vm rm of the same VM: whichever goes first, nothing is left half-made', async () => {
    for (const order of [0, 1]) {
      expect(cli(['vm', 'create', 'r1']).status).toBe(0);
      const cmds = [
        ['dup', SVC, '--vm', 'r1'],
        ['vm', 'rm', 'r1'],
      ];
      const rs = await runAll(order ? cmds.reverse() : cmds);
      rs.forEach(noTrace);
      const rm = rs.find((r) => /removed VM r1|no VM named r1/.test(r.stdout + r.stderr));
      expect(rm, rs.map((r) => r.stderr).join('\n')).toBeDefined();
      const { vms } = await agree();
      if (vms.includes('r1')) expect(cli(['vm', 'rm', 'r1']).status).toBe(0);
    }
    await agree();
  }, 300_000);

  it('two up -f of different fleet files at once: both converge; two down at once remove both', async () => {
    const f1 = join(dir, 'f1.yaml');
    const f2 = join(dir, 'f2.yaml');
    writeFileSync(f1, `vms:\n  u1:\n    services:\n      ${SVC}: {}\n`);
    writeFileSync(f2, `vms:\n  u2:\n    services:\n      ${SVC}: {}\n`);
    const ups = await runAll([
      ['up', '-f', f1],
      ['up', '-f', f2],
    ]);
    for (const r of ups) {
      noTrace(r);
      expect(r.code, r.stderr).toBe(0);
    }
    expect((await waitState(host.backend, `${SVC}@u1`, 'RUNNING')).state).toBe('RUNNING');
    expect((await waitState(host.backend, `${SVC}@u2`, 'RUNNING')).state).toBe('RUNNING');
    await agree();
    const downs = await runAll([
      ['down', '-f', f1],
      ['down', '-f', f2],
    ]);
    for (const r of downs) expect(r.code, r.stderr).toBe(0);
    const { vms } = await agree();
    expect(vms).not.toContain('u1');
    expect(vms).not.toContain('u2');
  }, 600_000);

  it('a command stopped mid-operation is not rolled back while it lives; killed, the next writer rolls it back', async () => {
    expect(cli(['vm', 'create', 's1']).status).toBe(0);
    // stopped right after its step 3 (the SCM registration is made by then)
    const stalled = start(['dup', SVC, '--vm', 's1'], { SVCDUP_FAILPOINT: 'dup:3:after:stop' });
    for (let i = 0; i < 600 && (await host.backend.call('scm.list', {})).every((s) => s.name !== `${SVC}@s1`); i++)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    const inScm = async () => (await host.backend.call('scm.list', {})).some((s) => s.name === `${SVC}@s1`);
    expect(await inScm()).toBe(true);
    // readers go on; writers wait (bounded) or refuse, and undo nothing of it
    const st = cli(['status', '--json']);
    expect(st.status, st.stderr).toBe(0);
    const refused = cli(['--no-wait', 'vm', 'create', 's2']);
    expect(refused.status).toBe(75);
    expect(refused.stderr).toMatch(new RegExp(`another svcdup command is changing this host \\(pid ${stalled.child.pid}: svcdup dup ${SVC} --vm s1`));
    const waited = cli(['--wait', '2', 'vm', 'create', 's2']);
    expect(waited.status).toBe(75);
    expect(waited.stderr).toMatch(/waiting for another svcdup command to finish[\s\S]*gave up after 2 s/);
    expect(await inScm()).toBe(true);
    stalled.child.kill('SIGKILL');
    expect((await stalled.done).signal).toBe('SIGKILL');
    const next = cli(['vm', 'create', 's2']);
    expect(next.status, next.stderr).toBe(0);
    expect(next.stderr).toMatch(new RegExp(`rolled back an interrupted dup of ${SVC}@s1`));
    expect(await inScm()).toBe(false);
    await agree();
    for (const vm of ['s1', 's2']) expect(cli(['vm', 'rm', vm]).status).toBe(0);
  }, 300_000);

  it('after removing everything the host has the Services and SOFTWARE keys it had before; the readers never failed', async () => {
    const rs = await runAll(['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8'].map((vm) => ['vm', 'rm', vm]));
    for (const r of rs) expect(r.code, r.stderr).toBe(0);
    expect((await agree()).vms).toEqual([]);
    expect(await exportKeys()).toEqual(before);
    expect(pollFailures).toEqual([]);
    expect(polls).toBeGreaterThan(10);
  }, 300_000);
});
