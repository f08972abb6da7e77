// Direct duplicates under real Wine (docs/dup.md, "Direct duplicates"): the SCM starts a copy
// of the image that loads svcdup-hook.dll itself; no svcdup-host. The test service's image is
// copied into this test's own prefix first, so the direct copies beside it are this file's.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/backend/types.js';
import { directImage, directMarker } from '../src/plan/direct.js';
import { parsePe } from '../src/analyze/pe.js';
import { nativeExe, openTestHost, type TestHost } from './helpers.js';
import { cliFor, waitState } from './cli-helpers.js';

let host: TestHost;
const SVC = 'svcdup-testsvc';
const DIR = 'C:\\svcdup-direct';
const IMAGE = `${DIR}\\svcdup-testsvc.exe`;
const { cli, cliJson } = cliFor(() => host.paths);
const folder = () => readdirSync(host.backend.toHostPath(DIR)).sort();

interface VmProcess {
  pid: number;
  ppid: number;
  image: string;
  vm: string;
}

async function pipeCall(vm: string): Promise<{ pid: number; service: string; greeting: string }> {
  const r = cli(['run', '--vm', vm, '--', nativeExe(host.backend, 'svcdup-pipecall.exe'), SVC, 'hi']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  host = await openTestHost('direct');
  const b = host.backend;
  mkdirSync(dirname(b.toHostPath(IMAGE)), { recursive: true });
  copyFileSync(b.toHostPath(nativeExe(b, 'svcdup-testsvc.exe')), b.toHostPath(IMAGE));
  await b.call('scm.create', { name: SVC, displayName: 'svcdup test service', imagePath: `${IMAGE} --flag` });
  for (const vm of ['d1', 'd2', 'd3']) expect(cli(['vm', 'create', vm]).status).toBe(0);
}, 180_000);
afterAll(async () => {
  await host?.dispose();
});

describe('dup --direct', () => {
  it('--dry-run shows the copy it would write, and writes nothing', () => {
    const before = folder();
    const r = cli(['dup', SVC, '--vm', 'd1', '--direct', '--dry-run']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`files.directImage write ${DIR}\\svcdup-testsvc@d1.exe`);
    expect(r.stdout).toContain(`create service ${SVC}@d1: ${DIR}\\svcdup-testsvc@d1.exe --flag`);
    expect(folder()).toEqual(before);
  });

  it('the SCM starts the copy itself: it runs in its VM, answers there, and no svcdup-host runs', async () => {
    const before = folder();
    const st = cliJson<{ status: ServiceStatus }>(['dup', SVC, '--vm', 'd1', '--direct', '--start']).status;
    expect(st.state).toBe('RUNNING');
    expect(folder()).toEqual([...before, 'svcdup-testsvc@d1.exe'].sort());
    // the copy: the hook first among its imports, marked for d1
    const copy = readFileSync(host.backend.toHostPath(`${DIR}\\svcdup-testsvc@d1.exe`));
    expect(parsePe(copy).imports[0]!.dll).toMatch(/svcdup-hook\.dll$/i);
    expect(directMarker(copy)).toEqual({ vm: 'd1', scmName: `${SVC}@d1` });
    // the SCM's process is the image, in d1, a child of the SCM
    const ps = cliJson<VmProcess[]>(['ps', '--vm', 'd1']);
    expect(ps.map((p) => p.pid)).toEqual([st.pid]);
    expect(ps[0]!.image.toLowerCase()).toBe('svcdup-testsvc@d1.exe');
    const procs = await host.backend.call('proc.list', {});
    expect(procs.filter((p) => p.image.toLowerCase() === 'svcdup-host.exe')).toEqual([]);
    // the VM's client reaches its own instance, under the name the image gave its pipe
    const reply = await pipeCall('d1');
    expect(reply.pid).toBe(st.pid);
    // another VM's client does not
    const other = cli(['run', '--vm', 'd2', '--', nativeExe(host.backend, 'svcdup-pipecall.exe'), SVC, 'hi']);
    expect(other.status).toBe(2); // ERROR_FILE_NOT_FOUND: no such pipe in d2
  }, 120_000);

  it('sc stop and sc start manage it like any service; each start is a new process in the VM', async () => {
    const name = `${SVC}@d1`;
    const first = (await host.backend.call('scm.status', { name })).pid;
    expect((await host.backend.exec(['sc', 'stop', name])).code).toBe(0);
    expect((await waitState(host.backend, name, 'STOPPED')).state).toBe('STOPPED');
    expect(cliJson<VmProcess[]>(['ps', '--vm', 'd1'])).toEqual([]);
    expect((await host.backend.exec(['sc', 'start', name])).code).toBe(0);
    const st = await waitState(host.backend, name, 'RUNNING');
    expect(st.state).toBe('RUNNING');
    expect(st.pid).not.toBe(first);
    expect((await pipeCall('d1')).pid).toBe(st.pid);
  }, 120_000);

  it('a second VM gets its own copy; a Wine builtin and a relay-only option are refused', async () => {
    expect(cliJson<{ status: ServiceStatus }>(['dup', SVC, '--vm', 'd2', '--direct', '--start']).status.state).toBe('RUNNING');
    expect((await pipeCall('d2')).pid).not.toBe((await pipeCall('d1')).pid);
    const builtin = cli(['dup', 'RpcSs', '--vm', 'd1', '--direct', '--dry-run']);
    expect(builtin.status).toBe(2);
    expect(builtin.stderr).toMatch(/Wine builtin/);
    const token = cli(['dup', SVC, '--vm', 'd3', '--direct', '--restricted-token', '--dry-run']);
    expect(token.stderr).toMatch(/--direct and --restricted-token/);
  }, 120_000);

  it('undup and vm rm remove the copies: the folder and the services of the SCM are as before', async () => {
    expect(cli(['undup', SVC, '--vm', 'd1']).status).toBe(0);
    expect(existsSync(host.backend.toHostPath(`${DIR}\\svcdup-testsvc@d1.exe`))).toBe(false);
    expect(cli(['vm', 'rm', 'd2']).status).toBe(0);
    expect(folder()).toEqual(['svcdup-testsvc.exe']);
    const names = (await host.backend.call('scm.list', {})).map((s) => s.name.toLowerCase());
    expect(names.filter((n) => n.includes('@'))).toEqual([]);
  }, 180_000);

  it('a kill at any step of dup --direct leaves the copy whole and registered, or absent', async () => {
    const copy = host.backend.toHostPath(`${DIR}\\svcdup-testsvc@d1.exe`);
    for (let seq = 0; ; seq++) {
      const r = cli(['dup', SVC, '--vm', 'd1', '--direct'], { SVCDUP_FAILPOINT: `dup:${seq}:after` });
      if (r.status === 0) break;
      expect(r.signal, `dup:${seq}:after ${r.stderr}`).toBe('SIGKILL');
      // the next command rolls the interrupted one back
      expect(cli(['repair', '--json']).status).toBe(0);
      expect(existsSync(copy), `after a kill at dup:${seq}:after`).toBe(false);
      expect(seq).toBeLessThan(10);
    }
    expect(existsSync(copy)).toBe(true);
    expect(cli(['undup', SVC, '--vm', 'd1']).status).toBe(0);
    expect(folder()).toEqual(['svcdup-testsvc.exe']);
  }, 300_000);

  it('a copy runs in its VM whoever starts it: by hand on the host it is in d1; started from a d3 process it stays in d3', async () => {
    const b = host.backend;
    const ft = `${DIR}\\svcdup-ft@d1.exe`;
    const tool = nativeExe(b, 'svcdup-ft.exe');
    await b.writeNewFile(ft, directImage(await b.readFile(tool), nativeExe(b, 'svcdup-hook.dll'), { vm: 'd1', scmName: 'svcdup-ft@d1' }));
    try {
      // started by a host process: its write lands in d1's files, not the host's
      expect((await b.exec([ft, 'write', `${DIR}\\by-hand.txt`, 'by hand'])).stdout.trim()).toBe('ok');
      expect(existsSync(b.toHostPath(`${DIR}\\by-hand.txt`))).toBe(false);
      expect(cli(['run', '--vm', 'd1', '--', tool, 'read', `${DIR}\\by-hand.txt`]).stdout.trim()).toBe('text=by hand');
      // started by a d3 process: the parent's VM, not the marker's
      expect(cli(['run', '--vm', 'd3', '--', ft, 'write', `${DIR}\\from-d3.txt`, 'd3']).stdout.trim()).toBe('ok');
      expect(cli(['run', '--vm', 'd3', '--', tool, 'read', `${DIR}\\from-d3.txt`]).stdout.trim()).toBe('text=d3');
      expect(cli(['run', '--vm', 'd1', '--', tool, 'read', `${DIR}\\from-d3.txt`]).status).toBe(2);
      expect(existsSync(b.toHostPath(`${DIR}\\from-d3.txt`))).toBe(false);
    } finally {
      await b.removeFile(ft);
    }
    expect(folder()).toEqual(['svcdup-testsvc.exe']);
  }, 120_000);
});
