// Direct duplicates under real Wine (docs/dup.md, "Direct duplicates"): the SCM starts a copy
// of the image that loads svcdup-hook.dll itself; no svcdup-host. The test service's image is
// copied into this test's own prefix first, so the direct copies beside it are this file's.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/backend/types.js';
import { directImage, directMarker } from '../src/plan/direct.js';
import { parsePe } from '../src/pe/pe.js';
import { nativeExe, openTestHost, type TestHost } from './helpers.js';
import { cliFor, waitState } from './cli-helpers.js';

let host: TestHost;
const SVC = 'svcdup-testsvc';
const DIR = 'C:\\svcdup-direct';
const IMAGE = `${DIR}\\svcdup-testsvc.exe`;
const { cli, cliJson } = cliFor(() => host.paths);
const SVCHOST_KEY = 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Svchost';
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
  // a ServiceDll service in its own svchost group: never direct
  await b.call('reg.set', { key: `${SVCHOST_KEY}`, name: 'svcduptest', type: 'REG_MULTI_SZ', data: ['svcdup-testdll'] });
  await b.call('scm.create', { name: 'svcdup-testdll', imagePath: 'C:\\windows\\system32\\svchost.exe -k svcduptest', type: 0x20 });
  await b.call('reg.set', {
    key: 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\svcdup-testdll\\Parameters',
    name: 'ServiceDll',
    type: 'REG_EXPAND_SZ',
    data: nativeExe(b, 'svcdup-testsvc.dll'),
  });
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
    // RpcSs is both a Wine builtin and registered as a shared-process service: the planner's refusal comes first
    expect(builtin.stderr).toMatch(/Wine builtin|shared-process service/);
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

describe('dup with no mode: direct where it applies, relayed where not', () => {
  interface Plan {
    plan: { services: { scmName: string; direct?: unknown }[]; relayedBecause?: string };
    status?: ServiceStatus;
  }

  it('the test service (an own-process x64 .exe) is direct; status, ps and the dry run say so', async () => {
    const dry = cli(['dup', SVC, '--vm', 'd1', '--dry-run']);
    expect(dry.stdout).toMatch(new RegExp(`^duplicate  ${SVC}@d1  direct  `, 'm'));
    const out = cliJson<Plan>(['dup', SVC, '--vm', 'd1', '--start']);
    expect(out.status!.state).toBe('RUNNING');
    expect(out.plan.services[0]!.direct).toBeDefined();
    expect(out.plan.relayedBecause).toBeUndefined();
    expect(folder()).toEqual(['svcdup-testsvc.exe', 'svcdup-testsvc@d1.exe']);
    expect((await pipeCall('d1')).pid).toBe(out.status!.pid);
    expect(cliJson<{ scmName: string; mode: string }[]>(['status', '--vm', 'd1']).map((d) => [d.scmName, d.mode])).toEqual([[`${SVC}@d1`, 'direct']]);
    expect(cli(['status', '--vm', 'd1']).stdout).toMatch(new RegExp(`^${SVC}@d1 +d1 +direct +RUNNING `, 'm'));
    const ps = cliJson<(VmProcess & { duplicate?: string; mode?: string })[]>(['ps', '--vm', 'd1']);
    expect(ps).toEqual([expect.objectContaining({ pid: out.status!.pid, duplicate: `${SVC}@d1`, mode: 'direct' })]);
  }, 120_000);

  it('RpcSs (a Wine builtin) and a svchost service are relayed, with the reason; --relayed forces it; both flags are refused', async () => {
    const rpcss = cliJson<Plan>(['dup', 'RpcSs', '--vm', 'd3', '--dry-run']);
    expect(rpcss.plan.services.map((x) => x.direct)).toEqual([undefined]);
    expect(rpcss.plan.relayedBecause).toMatch(/Wine builtin|shared-process/);
    const text = cli(['dup', 'RpcSs', '--vm', 'd3', '--dry-run']).stdout;
    expect(text).toMatch(/^duplicate {2}RpcSs@d3 {2}relayed: .+ {2}\(/m);
    expect(text).toMatch(/svcdup-host\.exe.* --service RpcSs/);
    const dll = cliJson<Plan>(['dup', 'svcdup-testdll', '--vm', 'd3', '--dry-run']);
    expect(dll.plan.services.map((x) => x.direct)).toEqual([undefined]);
    expect(dll.plan.relayedBecause).toMatch(/runs in svchost/);
    // --restricted-token and --set ImagePath keep the default relayed too
    expect(cliJson<Plan>(['dup', SVC, '--vm', 'd3', '--restricted-token', '--dry-run']).plan.relayedBecause).toMatch(/restricted-token/);
    expect(cliJson<Plan>(['dup', SVC, '--vm', 'd3', '--set', `ImagePath=${IMAGE}`, '--dry-run']).plan.relayedBecause).toMatch(/--set ImagePath/);
    const forced = cliJson<Plan>(['dup', SVC, '--vm', 'd3', '--relayed', '--dry-run']);
    expect(forced.plan.services[0]!.direct).toBeUndefined();
    expect(forced.plan.relayedBecause).toBeUndefined();
    const both = cli(['dup', SVC, '--vm', 'd3', '--relayed', '--direct', '--dry-run']);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/give one mode at most/);
    // a relayed duplicate of RpcSs, for real: svcdup-host is the SCM's process, the image its child in d3
    const real = cliJson<Plan>(['dup', 'RpcSs', '--vm', 'd3', '--start']);
    expect(real.status!.state).toBe('RUNNING');
    const procs = await host.backend.call('proc.list', {});
    expect(procs.find((p) => p.pid === real.status!.pid)?.image.toLowerCase()).toBe('svcdup-host.exe');
    expect(cliJson<{ scmName: string; mode: string }[]>(['status', '--vm', 'd3']).map((d) => [d.scmName, d.mode])).toEqual([['RpcSs@d3', 'relayed']]);
    const ps = cliJson<(VmProcess & { duplicate?: string; mode?: string })[]>(['ps', '--vm', 'd3']);
    expect(ps.find((p) => p.duplicate === 'RpcSs@d3')).toMatchObject({ ppid: real.status!.pid, mode: 'relayed' });
    expect(cli(['undup', 'RpcSs', '--vm', 'd3']).status).toBe(0);
  }, 120_000);
});

describe('a direct image that dies without reporting STOPPED (svcdup-watch)', () => {
  /** STOPPED as the SCM reports it, and how long after `since` it was first seen. */
  async function stoppedAfter(name: string, since: number): Promise<{ status: ServiceStatus; ms: number }> {
    for (;;) {
      const status = await host.backend.call('scm.status', { name });
      if (status.state === 'STOPPED') return { status, ms: performance.now() - since };
      if (performance.now() - since > 10_000) throw new Error(`${name} still ${status.state} 10 s after its process ended`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('killed with TerminateProcess from the host: STOPPED with its exit code within a second, and it starts again', async () => {
    const name = `${SVC}@d1`;
    const running = await host.backend.call('scm.status', { name });
    expect(running.state).toBe('RUNNING');
    // one watcher for the host, outside every VM
    const procs = await host.backend.call('proc.list', {});
    expect(procs.filter((p) => p.image.toLowerCase() === 'svcdup-watch.exe')).toHaveLength(1);
    expect(cliJson<VmProcess[]>(['ps', '--vm', 'd1']).map((p) => p.image.toLowerCase())).not.toContain('svcdup-watch.exe');
    const t = performance.now();
    await host.backend.call('proc.kill', { pid: running.pid, exitCode: 77 });
    const { status, ms } = await stoppedAfter(name, t);
    expect(status).toMatchObject({ win32ExitCode: 1066, serviceExitCode: 77 });
    expect(ms).toBeLessThan(1000);
    // a new process in d1, answering there
    const again = cliJson<ServiceStatus>(['start', SVC, '--vm', 'd1']);
    expect(again.state).toBe('RUNNING');
    expect(again.pid).not.toBe(running.pid);
    expect((await pipeCall('d1')).pid).toBe(again.pid);
  }, 120_000);

  it('one that crashes by an exception (the test service --fault: RUNNING, then a write to address 0) is STOPPED with 0xC0000005', async () => {
    const name = `${SVC}@d1`;
    expect(cliJson<ServiceStatus>(['stop', SVC, '--vm', 'd1']).win32ExitCode).toBe(0);
    await host.backend.call('scm.start', { name, args: ['--fault'] });
    const running = await waitState(host.backend, name, 'RUNNING');
    expect(running.state).toBe('RUNNING');
    // Wine runs its debugger on an unhandled exception first (AeDebug: winedbg --auto, which
    // prints a backtrace and ends the process; seconds on a loaded machine): the watcher's part
    // is measured from the moment the process is gone
    const t0 = performance.now();
    let goneAt: number | undefined;
    let status: ServiceStatus;
    for (;;) {
      const [procs, s] = await Promise.all([host.backend.call('proc.list', {}), host.backend.call('scm.status', { name })]);
      goneAt ??= procs.some((p) => p.pid === running.pid) ? undefined : performance.now();
      if (s.state === 'STOPPED') {
        status = s;
        break;
      }
      if (performance.now() - t0 > 30_000) throw new Error(`${name} still ${s.state} 30 s after RUNNING`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // an unhandled access violation ends the process with the exception code as its exit code
    expect(status).toMatchObject({ win32ExitCode: 1066, serviceExitCode: 0xc0000005 });
    expect(goneAt).toBeDefined();
    expect(performance.now() - goneAt!).toBeLessThan(1000);
    const again = cliJson<ServiceStatus>(['start', SVC, '--vm', 'd1']);
    expect(again.state).toBe('RUNNING');
    expect((await pipeCall('d1')).pid).toBe(again.pid);
  }, 120_000);

  it('one that exits on its own (the test service --crash: RUNNING, then ExitProcess(3)) is STOPPED with exit code 3', async () => {
    const name = `${SVC}@d1`;
    expect(cliJson<ServiceStatus>(['stop', SVC, '--vm', 'd1']).win32ExitCode).toBe(0);
    await host.backend.call('scm.start', { name, args: ['--crash'] });
    expect((await waitState(host.backend, name, 'RUNNING')).state).toBe('RUNNING');
    const t = performance.now();
    const { status, ms } = await stoppedAfter(name, t);
    expect(status).toMatchObject({ win32ExitCode: 1066, serviceExitCode: 3 });
    expect(ms).toBeLessThan(500 + 1000); // the service exits 500 ms after RUNNING
    const again = cliJson<ServiceStatus>(['start', SVC, '--vm', 'd1']);
    expect(again.state).toBe('RUNNING');
    expect((await pipeCall('d1')).pid).toBe(again.pid);
    expect(cli(['undup', SVC, '--vm', 'd1']).status).toBe(0);
    expect(folder()).toEqual(['svcdup-testsvc.exe']);
  }, 120_000);
});
