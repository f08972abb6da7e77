// Odd inputs to every command, as a user or a script may type them: each ends in a clear
// line (or works), never in "internal error" or a stack trace. And the snapshot choice of
// dup: a service whose ImagePath names a file in Z:\<prefix>\drive_c (the C: drive under
// another spelling) or svcdup's own folders gets no snapshot of them, with the reason.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeExe, openTestHost, type TestHost } from './helpers.js';
import { cliFor } from './cli-helpers.js';

let host: TestHost;
const { cli } = cliFor(() => host.paths);
const VM = 'corpus';
let files: string;

/** No command may end in an internal error or show a stack trace. */
function clean(args: string[]) {
  const r = cli(args, { SVCDUP_DEBUG: '' });
  const out = `${r.stdout}\n${r.stderr}`;
  expect(out, `svcdup ${args.join(' ')}`).not.toMatch(/internal error/i);
  expect(out, `svcdup ${args.join(' ')}`).not.toMatch(/^\s+at .+(\(|:\d+:\d+)/m);
  expect(r.status, `svcdup ${args.join(' ')}: ${r.stderr}`).not.toBe(70);
  expect(r.status, `svcdup ${args.join(' ')} was killed`).not.toBeNull();
  return r;
}

beforeAll(async () => {
  host = await openTestHost('corpus');
  const b = host.backend;
  const driveC = b.toWindowsPath(join(host.paths.prefix, 'drive_c'));
  const data = b.toHostPath('C:\\corpusdata');
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, 'state.txt'), 'x');
  const exe = `"${nativeExe(b, 'svcdup-testsvc.exe')}"`;
  // the drive itself through its other spelling, and svcdup's home
  await b.call('scm.create', { name: 'CorpusDrive', imagePath: `${exe} ${driveC}\\boot.ini`, type: 0x10 });
  await b.call('scm.create', { name: 'CorpusHome', imagePath: `${exe} --db=${b.toWindowsPath(host.paths.stateDb)}`, type: 0x10 });
  // one folder in two spellings
  await b.call('scm.create', { name: 'CorpusAlias', imagePath: `${exe} C:\\corpusdata ${driveC}\\corpusdata\\state.txt`, type: 0x10 });
  files = join(host.paths.home, 'corpus');
  mkdirSync(files, { recursive: true });
  writeFileSync(join(files, 'bad.yaml'), 'vms: [1, 2\n');
  writeFileSync(join(files, 'binary.yaml'), Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80]));
  writeFileSync(join(files, 'policy.json'), '{"version": 1, "open": {"pipes": "not a list"}}');
  writeFileSync(join(files, 'text.exe'), 'MZ but not a PE image');
  await b.close();
  expect(cli(['vm', 'create', VM]).status).toBe(0);
});

afterAll(async () => {
  cli(['vm', 'rm', VM]);
  await host?.dispose();
});

describe('dup and its snapshots', () => {
  it("a drive's root under another spelling, and svcdup's home, are not snapshotted, with the reason; the duplicate is made", () => {
    const r = clean(['dup', 'CorpusDrive', '--vm', VM, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const plan = (JSON.parse(r.stdout) as { plan: { notSnapshotted?: { folder: string; reason: string }[]; steps: { kind: string }[] } }).plan;
    expect(plan.notSnapshotted).toEqual([{ folder: 'C:', reason: expect.stringMatching(/drive's root/) }]);
    expect(plan.steps.filter((s) => s.kind === 'files.snapshot')).toEqual([]);
    expect(clean(['undup', 'CorpusDrive', '--vm', VM]).status).toBe(0);
    const home = clean(['dup', 'CorpusHome', '--vm', VM, '--dry-run']);
    expect(home.status, home.stderr).toBe(0);
    expect(home.stdout).toMatch(/^not snapshotted {2}\S+ {2}\((holds|inside) svcdup's home/m);
    expect(home.stdout).not.toMatch(/files\.snapshot/);
  });

  it('one folder spelled two ways is snapshotted once, under its drive letter', () => {
    const r = clean(['dup', 'CorpusAlias', '--vm', VM, '--dry-run', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const steps = (JSON.parse(r.stdout) as { plan: { steps: { kind: string; args: { folder?: string } }[] } }).plan.steps;
    expect(steps.filter((s) => s.kind === 'files.snapshot').map((s) => s.args.folder)).toEqual(['C:\\corpusdata']);
  });
});

describe('odd inputs to every command', () => {
  it('each ends in one clear line or works: no internal error, no stack trace', () => {
    const corpus: string[][] = [
      ['vm', 'create', ''],
      ['vm', 'create', 'a'.repeat(300)],
      ['vm', 'create', '../x'],
      ['vm', 'create', 'ok1', '--ip', '300.1.1.1'],
      ['vm', 'create', 'ok1', '--port-map', 'x:y'],
      ['vm', 'create', 'ok1', '--policy', join(files, 'policy.json')],
      ['vm', 'create', 'ok1', '--policy', join(files, 'missing.json')],
      ['vm', 'create', 'ok1', '--from', 'nosuchvm'],
      ['vm', 'rm', 'nosuchvm'],
      ['vm', 'diff', 'nosuchvm'],
      ['vm', 'diff', VM, '--json'],
      ['dup', 'NoSuchService', '--vm', VM],
      ['dup', 'RpcSs', '--vm', 'nosuchvm'],
      ['dup', 'a@b', '--vm', VM],
      ['dup', 'RpcSs', '--vm', VM, '--set', 'garbage'],
      ['dup', 'RpcSs', '--vm', VM, '--set', '..\\..\\x=1'],
      ['dup', 'RpcSs', '--vm', VM, '--share', 'NoSuchService', '--dry-run'],
      ['dup', 'RpcSs', '--vm', VM, '--direct', '--dry-run'],
      ['undup', 'NoSuchService', '--vm', VM],
      ['start', 'NoSuchService', '--vm', VM],
      ['status', '--vm', 'nosuchvm'],
      ['run', '--vm', 'nosuchvm', '--', 'cmd'],
      ['run', '--vm', VM, '--', 'C:\\no\\such.exe'],
      ['run', '--vm', VM],
      ['trace', '--vm', 'nosuchvm', '--seconds', '1'],
      ['analyze', join(files, 'missing.exe')],
      ['analyze', join(files, 'text.exe')],
      ['analyze', join(files, 'bad.yaml')],
      ['analyze', 'NoSuchService'],
      ['up', '-f', join(files, 'missing.yaml')],
      ['up', '-f', join(files, 'bad.yaml')],
      ['up', '-f', join(files, 'binary.yaml')],
      ['ps', '-f', join(files, 'binary.yaml')],
      ['host', 'exec'],
      ['nosuchcommand'],
      ['--backend', 'bogus', 'status'],
    ];
    for (const args of corpus) {
      const r = clean(args);
      // a refusal is one line, and the command says it failed
      if (r.status !== 0) expect(r.stderr.trim().length, `svcdup ${args.join(' ')}`).toBeGreaterThan(0);
    }
  }, 600_000);
});
