// The stateful test service on the host and duplicated into 3 VMs at once (issue 10):
// each sees only its own changes, a restart keeps them, and after undup + vm rm the
// host's tree is byte-identical to before. Registry assertions need the registry
// copy-on-write (helper "regcow"): they run when SVCDUP_REGCOW=1.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COW_POLICY, nativeExe, openTestHost, type TestHost } from './helpers.js';
import { cliFor, waitState } from './cli-helpers.js';

let host: TestHost;
const SVC = 'svcdup-statesvc';
const VMS = ['v1', 'v2', 'v3'];
const { cli } = cliFor(() => host.paths);
const DIR = 'C:\\svcdup-statesvc';

interface Report {
  dir: { name: string; dir: boolean; size: number; text?: string }[];
  hklm: { starts?: number };
  hkcu: { starts?: number };
}

function treeHash(root: string): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = statSync(p);
      h.update(`${rel}/${n}:${st.isDirectory() ? 'd' : st.size}\n`);
      if (st.isDirectory()) walk(p, `${rel}/${n}`);
      else h.update(readFileSync(p));
    }
  };
  if (existsSync(root)) walk(root, '');
  return h.digest('hex');
}

async function report(vm?: string): Promise<Report> {
  const argv = [nativeExe(host.backend, 'svcdup-statesvc.exe'), '--report'];
  const r = vm ? cli(['run', '--vm', vm, '--', ...argv]) : await host.backend.exec(argv);
  const out = 'status' in r ? r.stdout : r.stdout;
  return JSON.parse(out) as Report;
}
const text = (r: Report, name: string) => r.dir.find((e) => e.name === name)?.text?.replace(/\r\n/g, '\n');
const names = (r: Report) => r.dir.map((e) => e.name).sort();

async function startStop(scm: string, restart: boolean) {
  await host.backend.call('scm.start', { name: scm });
  expect((await waitState(host.backend, scm, 'RUNNING')).state).toBe('RUNNING');
  if (!restart) return;
  await host.backend.call('scm.control', { name: scm, code: 1 });
  expect((await waitState(host.backend, scm, 'STOPPED')).state).toBe('STOPPED');
  await host.backend.call('scm.start', { name: scm });
  expect((await waitState(host.backend, scm, 'RUNNING')).state).toBe('RUNNING');
}

let hostTreeBefore = '';
let hostKeysBefore: unknown;

beforeAll(async () => {
  host = await openTestHost('state');
  const b = host.backend;
  expect((await b.exec([nativeExe(b, 'svcdup-statesvc.exe'), '--seed'])).code).toBe(0);
  await b.call('scm.create', { name: SVC, imagePath: nativeExe(b, 'svcdup-statesvc.exe') });
  // file copy-on-write is every VM's default (docs/state.md): no policy needed
  for (const vm of VMS) expect(cli(['vm', 'create', vm]).status).toBe(0);
}, 180_000);
afterAll(async () => {
  await host?.dispose();
});

describe('statesvc on the host and in 3 VMs', () => {
  it('each VM sees only its own changes, and keeps them across a restart', async () => {
    for (const vm of VMS) {
      const r = cli(['dup', SVC, '--vm', vm]);
      expect(r.status, r.stderr).toBe(0);
    }
    // the VMs go first (they find the seeded files), twice each; then the host once
    for (const vm of VMS) await startStop(`${SVC}@${vm}`, true);
    hostKeysBefore = await host.backend.call('reg.export', { key: 'HKLM\\SOFTWARE\\svcdup-statesvc' }).catch(() => null);
    await startStop(SVC, false);
    const h = await report();
    expect(text(h, 'journal.txt')).toMatch(/^seeded\nstart svcdup-statesvc pid=\d+\n$/);
    expect(names(h)).toEqual(['created', 'created\\marker.txt', 'journal.txt', 'renamed.txt', 'state.txt']);
    for (const vm of VMS) {
      const r = await report(vm);
      // seeded by the host, then this VM's two starts: nobody else's lines
      expect(text(r, 'journal.txt'), vm).toMatch(/^seeded\n(start svcdup-statesvc pid=\d+\n){2}$/);
      expect(names(r), vm).toEqual(['created', 'created\\marker.txt', 'journal.txt', 'renamed.txt', 'state.txt']);
      expect(text(r, 'renamed.txt')).toBe('rename me\n');
    }
    const diff = cli(['vm', 'diff', 'v1', '--json']);
    expect(diff.status, diff.stderr).toBe(0);
    // against the host as it is now: the host's own start made created\, marker.txt and
    // renamed.txt with the same bytes, so only what differs is listed
    expect(JSON.parse(diff.stdout).files).toEqual([
      { kind: 'D', path: `${DIR}\\delete-me.txt` },
      { kind: 'C', path: `${DIR}\\journal.txt` },
      { kind: 'D', path: `${DIR}\\rename-me.txt` },
      { kind: 'C', path: `${DIR}\\state.txt` },
    ]);
    await host.backend.call('scm.control', { name: SVC, code: 1 });
    await waitState(host.backend, SVC, 'STOPPED');
    hostTreeBefore = treeHash(host.backend.toHostPath(DIR));
  }, 400_000);

  it('vm create --from clones the state; after undup and vm rm the host tree is byte-identical', async () => {
    expect(cli(['vm', 'create', 'v4', '--from', 'v1', '--policy', COW_POLICY]).status).toBe(0);
    expect(text(await report('v4'), 'journal.txt')).toBe(text(await report('v1'), 'journal.txt'));
    for (const vm of VMS) {
      await host.backend.call('scm.control', { name: `${SVC}@${vm}`, code: 1 }).catch(() => undefined);
      expect(cli(['undup', SVC, '--vm', vm]).status).toBe(0);
    }
    for (const vm of [...VMS, 'v4']) {
      const r = cli(['vm', 'rm', vm]);
      expect(r.status, r.stderr).toBe(0);
      expect(existsSync(host.backend.toHostPath(`C:\\ProgramData\\svcdup\\VMs`) + `/${vm}`)).toBe(false);
    }
    expect(treeHash(host.backend.toHostPath(DIR))).toBe(hostTreeBefore);
  }, 400_000);

  it.skipIf(!process.env.SVCDUP_REGCOW)('registry (needs regcow): each VM counts its own starts, the host keys are unchanged after vm rm', async () => {
    for (const vm of VMS) expect((await report(vm)).hklm.starts).toBe(2);
    expect(await host.backend.call('reg.export', { key: 'HKLM\\SOFTWARE\\svcdup-statesvc' })).toEqual(hostKeysBefore);
  });
});
