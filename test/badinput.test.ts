// Bad input to every command, under real Wine: reserved device names, network and broadcast
// addresses, repeated flags, YAML alias bombs, oversized and non-regular fleet files, bad
// bodies to the dashboard's API. Each must be refused with a clear line (no stack trace), within
// 60 s, and leave nothing behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config.js';
import { VMS_KEY } from '../src/plan/keys.js';
import { openTestHost, testEnv, type TestHost } from './helpers.js';
import { cliFor, win32Code } from './cli-helpers.js';

let host: TestHost;
const { cliJson } = cliFor(() => host.paths);
const dir = mkdtempSync(join(tmpdir(), 'svcdup-bad-'));
const f = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const bomb = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
vms: {}
`;

function corpus(): string[][] {
  const files = {
    bomb: f('bomb.yaml', bomb),
    big: f('big.yaml', `vms:\n${'  # padding\n'.repeat(200_000)}`),
    con: f('con.yaml', 'vms:\n  con:\n    services:\n      RpcSs: {}\n'),
    nulsvc: f('nulsvc.yaml', 'vms:\n  ok:\n    services:\n      nul.txt: {}\n'),
    netaddr: f('net.yaml', 'vms:\n  ok:\n    ip: 127.77.0.0\n'),
  };
  const devices = ['con', 'nul', 'aux', 'prn', 'com1', 'com9', 'lpt1', 'lpt9', 'CON', 'Nul'];
  return [
    ...devices.map((n) => ['vm', 'create', n]),
    ...devices.map((n) => ['dup', n, '--vm', 'x1']),
    ['dup', 'COM3.log', '--vm', 'x1'],
    ['dup', 'RpcSs', '--vm', 'con'],
    ...['127.77.0.0', '127.77.3.0', '127.77.0.255', '127.255.255.255', '127.0.0.0', '10.0.0.1', 'abc'].map((ip) => ['vm', 'create', 'x2', '--ip', ip]),
    ['vm', 'create', 'x3', '--port-map', '80:8081', '--port-map', '81:8082'],
    ['vm', 'create', 'x4', '--ip', '127.77.9.9', '--ip', '127.77.9.8'],
    ['dup', 'RpcSs', '--vm', 'x1', '--vm', 'x2'],
    ['--wait', 'soon', 'vm', 'create', 'x5'],
    ['--wait', '1', '--wait', '2', 'vm', 'create', 'x5'],
    ['status', '--vm', 'CON'],
    ['undup', 'RpcSs', '--vm', 'nul'],
    ['start', 'RpcSs', '--vm', 'aux'],
    ['stop', 'RpcSs', '--vm', 'prn'],
    ['vm', 'rm', 'com1'],
    ['vm', 'diff', 'lpt1'],
    ['run', '--vm', 'con', '--', 'cmd', '/c', 'exit'],
    ['trace', '--vm', 'nul', '--seconds', '1'],
    ['ps', '--vm', 'aux'],
    ...[files.bomb, files.big, files.con, files.nulsvc, files.netaddr, '/dev/zero', dir].flatMap((p) => [
      ['up', '-f', p],
      ['down', '-f', p],
      ['ps', '-f', p],
    ]),
    ['up', '-f', files.con, '-f', files.con],
    ['repair', '--dry-run', '--dry-run'],
  ];
}

let ui: ChildProcess | undefined;
let uiUrl = '';

beforeAll(async () => {
  host = await openTestHost('bad');
  ui = spawn('node', [join(packageRoot, 'dist/cli.js'), 'ui', '--json'], { env: testEnv(host.paths), stdio: ['ignore', 'pipe', 'inherit'] });
  uiUrl = await new Promise<string>((resolve, reject) => {
    ui!.stdout!.once('data', (c: Buffer) => resolve((JSON.parse(c.toString()) as { url: string }).url));
    ui!.once('exit', (code) => reject(new Error(`svcdup ui exited with ${code}`)));
  });
}, 240_000);

afterAll(async () => {
  if (ui && ui.exitCode === null) {
    ui.kill('SIGTERM');
    await new Promise((r) => ui!.once('exit', r));
  }
  await host?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('bad input', () => {
  it('every command over the corpus: a clear refusal, no stack trace, no hang, nothing left behind', async () => {
    const problems: string[] = [];
    for (const args of corpus()) {
      const t0 = Date.now();
      const r = spawnSync('node', [join(packageRoot, 'dist/cli.js'), ...args], { env: testEnv(host.paths), encoding: 'utf8', timeout: 60_000 });
      const what = `svcdup ${args.join(' ')}`;
      if (r.error || r.signal) problems.push(`${what}: did not end within 60 s (${r.error?.message ?? r.signal})`);
      else if (r.status === 0) problems.push(`${what}: accepted`);
      else if (/internal error|\n\s+at /.test(r.stderr)) problems.push(`${what}: stack trace: ${r.stderr}`);
      else if (!/^(svcdup: |error: )/.test(r.stderr)) problems.push(`${what}: no clear line: ${JSON.stringify(r.stderr)}`);
      else if (r.stderr.trim().split('\n').length > 3) problems.push(`${what}: ${r.stderr.trim().split('\n').length} lines of error`);
      if (Date.now() - t0 > 60_000) problems.push(`${what}: took ${Date.now() - t0} ms`);
    }
    expect(problems).toEqual([]);
    // nothing half-made: no VM, no duplicate, no key, no SERVICE@VM service
    expect(cliJson<unknown[]>(['vm', 'ls'])).toEqual([]);
    expect(cliJson<unknown[]>(['status'])).toEqual([]);
    expect(await win32Code(host.backend.call('reg.query', { key: VMS_KEY }))).toBe(2);
    expect((await host.backend.call('scm.list', {})).filter((s) => s.name.includes('@'))).toEqual([]);
  }, 900_000);

  it("the dashboard's API answers bad bodies with 400", async () => {
    const u = new URL(uiUrl);
    const token = u.searchParams.get('token')!;
    const post = (body: string, type = 'application/json') =>
      fetch(`${u.origin}/api/action`, { method: 'POST', headers: { 'Content-Type': type, 'X-Svcdup-Token': token }, body });
    for (const [body, type] of [
      ['not json', 'application/json'],
      ['{"action": "start"', 'application/json'],
      ['[1,2]', 'application/json'],
      ['null', 'application/json'],
      ['"start"', 'application/json'],
      ['{"action": "start", "vm": 5, "service": "x"}', 'application/json'],
      ['{"action": "undup", "vm": "x", "service": "y", "confirm": "yes"}', 'application/json'],
      ['{"action": "start", "vm": "con", "service": "RpcSs"}', 'application/json'],
      ['{"action": "explode", "vm": "x"}', 'application/json'],
      ['action=start', 'application/x-www-form-urlencoded'],
      [`{"vm": "${'x'.repeat(70_000)}"}`, 'application/json'],
    ] as const) {
      const r = await post(body, type);
      expect(r.status, `${body.slice(0, 60)} -> ${r.status}`).toBe(400);
    }
    expect((await fetch(`${u.origin}/api/diff?vm=nul&token=${token}`)).status).toBe(400);
  }, 120_000);
});
