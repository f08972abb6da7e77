// Fleets under real Wine: `svcdup up` of a 3-VM file (Wine's RpcSs and the project's test
// services), `up` again, an edited file, a typo, a host restart, `down`; the host's registry
// and services as they were afterwards.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/backend/types.js';
import { nativeExe, openTestHost, type TestHost } from './helpers.js';
import { cliFor, imageOf, storedRules } from './cli-helpers.js';

let host: TestHost;
const { cli, cliJson } = cliFor(() => host.paths);
const dir = mkdtempSync(join(tmpdir(), 'svcdup-fleet-'));
const file = join(dir, 'svcdup.yaml');
const SERVICES = 'HKLM\\SYSTEM\\CurrentControlSet\\Services';

const V1 = `vms:
  f1:
    services:
      RpcSs: {}
      svcdup-testsvc: { mode: relayed, set: { 'Parameters\\Greeting': hello f1 } }
  f2:
    services:
      svcdup-testsvc-a: {}
  f3:
    ports: ["7001:7101"]
    services:
      svcdup-testsvc: { set: { 'Parameters\\Greeting': hello f3 } }
`;
// f3 removed, RpcSs added to f2
const V2 = V1.replace(/ {2}f3:[\s\S]*$/, '').replace('      svcdup-testsvc-a: {}\n', '      svcdup-testsvc-a: {}\n      RpcSs: {}\n');

interface Line {
  event: string;
  step?: number;
  of?: number;
  status?: string;
  text?: string;
  upToDate?: boolean;
  changes?: unknown[];
}
const jsonLines = (out: string): Line[] =>
  out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);

function up(json = false) {
  const r = cli(['up', '-f', file, ...(json ? ['--json'] : [])]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** `svcdup status --json`: each duplicate's SCM status by name. */
const statuses = (): Record<string, ServiceStatus> =>
  Object.fromEntries(cliJson<{ scmName: string; status: ServiceStatus }[]>(['status']).map((d) => [d.scmName, d.status]));
const field = <K extends 'state' | 'pid'>(all: Record<string, ServiceStatus>, k: K): Record<string, ServiceStatus[K]> =>
  Object.fromEntries(Object.entries(all).map(([n, s]) => [n, s[k]]));
const states = () => field(statuses(), 'state');
const pids = () => field(statuses(), 'pid');

/** The test service's reply to a client inside the VM: its greeting and pid. */
function greet(vm: string): { pid: number; greeting: string } {
  const r = cli(['run', '--vm', vm, '--', nativeExe(host.backend, 'svcdup-pipecall.exe'), 'svcdup-testsvc', 'hi']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { pid: number; greeting: string };
}

let before: { services: unknown; list: string[] };

beforeAll(async () => {
  host = await openTestHost('fleet');
  const b = host.backend;
  // The project's singleton test service, AUTO like a service that must survive restarts.
  await b.call('scm.create', { name: 'svcdup-testsvc', imagePath: nativeExe(b, 'svcdup-testsvc.exe'), start: 'AUTO' });
  // A dependency chain: svcdup-testsvc-a needs svcdup-testsvc-b (one shared image).
  const multi = nativeExe(b, 'svcdup-testsvc-multi.exe');
  await b.call('scm.create', { name: 'svcdup-testsvc-b', imagePath: multi, type: 0x20 });
  await b.call('scm.create', { name: 'svcdup-testsvc-a', imagePath: multi, type: 0x20, dependOnService: ['svcdup-testsvc-b'] });
  before = { services: await b.call('reg.export', { key: SERVICES }), list: (await b.call('scm.list', {})).map((s) => s.name).sort() };
  await b.close();
  writeFileSync(file, V1);
});

afterAll(async () => {
  await host?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('svcdup up / ps / down', () => {
  it('up creates 3 VMs and their duplicates, a line per step, and starts them in dependency order', async () => {
    const out = up();
    const steps = out.split('\n').filter((l) => /^\[\d+\/\d+\] /.test(l));
    expect(steps.length).toBeGreaterThanOrEqual(10);
    expect(out).toMatch(/\[\d+\/\d+\] create VM f3 ports 7001:7101: done/);
    expect(steps.findIndex((l) => l.includes('start svcdup-testsvc-a@f2'))).toBeGreaterThan(0);
    const all = statuses();
    // the dependency was duplicated with it and started first: its process is the older
    const procs = new Map((await host.backend.call('proc.list', {})).map((p) => [p.pid, p]));
    const startedAt = (scm: string) => procs.get(all[scm]!.pid)?.startedAt ?? Number.NaN;
    expect(startedAt('svcdup-testsvc-b@f2')).toBeLessThan(startedAt('svcdup-testsvc-a@f2'));
    // each VM's rules, as up made them, are the same in its Policy value and its rules file
    for (const vm of ['f1', 'f2', 'f3']) expect(await storedRules(host.backend, host.paths, vm)).toContain('alias files C: ');
    expect(field(all, 'state')).toEqual({
      'RpcSs@f1': 'RUNNING',
      'svcdup-testsvc@f1': 'RUNNING',
      'svcdup-testsvc-a@f2': 'RUNNING',
      'svcdup-testsvc-b@f2': 'RUNNING',
      'svcdup-testsvc@f3': 'RUNNING',
    });
    // each VM's client reaches its own instance, with the file's greeting
    const f1 = greet('f1');
    expect(f1.greeting).toBe('hello f1');
    expect(f1.pid).toBe((await imageOf(host.backend, all['svcdup-testsvc@f1']!))?.pid);
    expect(greet('f3').greeting).toBe('hello f3');
    const vms = cliJson<{ name: string; portMap: Record<string, number> }[]>(['vm', 'ls']);
    expect(vms.map((v) => v.name)).toEqual(['f1', 'f2', 'f3']);
    expect(vms[2]!.portMap).toEqual({ 'tcp/7001': 7101 });
  });

  it('duplicates keep the start type of their original; status shows the SCM type of the duplicate', async () => {
    await host.backend.open();
    expect((await host.backend.call('scm.config', { name: 'svcdup-testsvc@f1' })).start).toBe('AUTO');
    expect((await host.backend.call('scm.config', { name: 'RpcSs@f1' })).start).toBe((await host.backend.call('scm.config', { name: 'RpcSs' })).start);
    await host.backend.close();
    const r = cli(['status', '--vm', 'f1']);
    // RpcSs is a share-process service on the host; its duplicate is svcdup-host, own process
    expect(r.stdout).toMatch(/^RpcSs@f1 +f1 +relayed +RUNNING +\d+ +0\/0 +own-process /m);
    // no mode in the file: direct where it applies (f3's test service), relayed where not (RpcSs); f1's says relayed
    const modes = Object.fromEntries(cliJson<{ scmName: string; mode: string }[]>(['status']).map((d) => [d.scmName, d.mode]));
    expect(modes).toMatchObject({ 'RpcSs@f1': 'relayed', 'svcdup-testsvc@f1': 'relayed', 'svcdup-testsvc@f3': 'direct' });
  });

  it('up again changes nothing and says so', () => {
    const p = pids();
    expect(up()).toMatch(/^up to date: 3 VMs and 4 duplicates match .*; nothing changed$/m);
    const lines = jsonLines(up(true));
    expect(lines).toEqual([expect.objectContaining({ event: 'summary', upToDate: true, changes: [] })]);
    expect(pids()).toEqual(p);
    const ps = cliJson<{ rows: { vm: string; service: string; declared: boolean; state: string; pending: string }[] }>(['ps', '-f', file]);
    expect(ps.rows.filter((r) => r.declared).every((r) => r.state === 'RUNNING' && r.pending === '')).toBe(true);
    // the dependency is there, not declared, and kept
    expect(ps.rows.find((r) => r.service === 'svcdup-testsvc-b')).toMatchObject({ declared: false, state: 'RUNNING', pending: '' });
  });

  it('a file with a typo is refused with its line and column, and nothing changes', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, V1.replace('  f2:\n    services:', '  f2:\n    servces:'));
    const r = cli(['up', '-f', bad]);
    expect(r.status).toBe(2); // a usage error
    expect(r.stderr.trim()).toBe(`svcdup: ${bad}:7:5: unknown key "servces" in vms.f2 (expected ip, ports, policy, memory, cpus, processes, services)`);
    expect(Object.keys(states())).toHaveLength(5);
  });

  it('after a host restart, AUTO duplicates are running again and up brings back the rest', () => {
    const stop = cli(['host', 'stop']);
    expect(stop.status, stop.stderr).toBe(0);
    // the fresh command boots the prefix: Wine's SCM starts AUTO services, these duplicates among them
    const after = states();
    expect(after['svcdup-testsvc@f1']).toBe('RUNNING');
    expect(after['svcdup-testsvc@f3']).toBe('RUNNING');
    expect(after['RpcSs@f1']).toBe('STOPPED');
    expect(greet('f1').greeting).toBe('hello f1');
    const lines = jsonLines(up(true));
    const done = lines.filter((l) => l.event === 'step' && l.status === 'done').map((l) => l.text);
    expect(done).toEqual(['start RpcSs@f1 (STOPPED)', 'start svcdup-testsvc-a@f2 (STOPPED)']);
    expect(Object.values(states()).every((s) => s === 'RUNNING')).toBe(true);
  });

  it('an edited file (a VM removed, a service added) is applied by up, the rest left running', () => {
    const p = pids();
    writeFileSync(file, V2);
    const dry = cli(['up', '-f', file, '--dry-run']);
    expect(dry.stdout).toContain('would remove VM f3 (no longer in the file)');
    expect(dry.stdout).toContain('would dup RpcSs@f2 (declared)');
    expect(Object.keys(states())).toContain('svcdup-testsvc@f3');
    up();
    expect(cliJson<{ name: string }[]>(['vm', 'ls']).map((v) => v.name)).toEqual(['f1', 'f2']);
    const now = pids();
    expect(Object.keys(now).sort()).toEqual(['RpcSs@f1', 'RpcSs@f2', 'svcdup-testsvc-a@f2', 'svcdup-testsvc-b@f2', 'svcdup-testsvc@f1']);
    expect(now['RpcSs@f2']).toBeGreaterThan(0);
    for (const k of ['RpcSs@f1', 'svcdup-testsvc@f1', 'svcdup-testsvc-a@f2']) expect(now[k]).toBe(p[k]);
    expect(up()).toMatch(/up to date/);
  });

  it('down removes exactly what the file declares; the host is as it was', async () => {
    const other = cli(['vm', 'create', 'other']);
    expect(other.status, other.stderr).toBe(0);
    const lines = jsonLines(cli(['down', '-f', file, '--json']).stdout);
    expect(lines.at(-1)).toMatchObject({ event: 'summary', removed: [{ vm: 'f1' }, { vm: 'f2' }] });
    expect(cliJson<{ name: string }[]>(['vm', 'ls']).map((v) => v.name)).toEqual(['other']);
    expect(cli(['vm', 'rm', 'other']).status).toBe(0);
    await host.backend.open();
    expect((await host.backend.call('scm.list', {})).map((s) => s.name).sort()).toEqual(before.list);
    expect(await host.backend.call('reg.export', { key: SERVICES })).toEqual(before.services);
    await expect(host.backend.call('reg.query', { key: 'HKLM\\SOFTWARE\\svcdup' })).rejects.toThrow(/2:|not find|cannot find/i);
    await host.backend.close();
    expect(cli(['down', '-f', file]).stdout).toMatch(/nothing to remove/);
  });
});
