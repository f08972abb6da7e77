// Duplicates under real Wine: svcdup dup/undup/start/stop/status and sc, against the
// project's test services and Wine's own system services.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/backend/types.js';
import { packageRoot } from '../src/config.js';
import { SVCDUP_KEY, vmKey } from '../src/plan/keys.js';
import { fileAliasRules } from '../src/vm/files.js';
import { nativeExe, openTestHost, testEnv, type TestHost } from './helpers.js';
import { cliFor, waitState, imageOf, win32Code } from './cli-helpers.js';

let host: TestHost;
const SVC = 'svcdup-testsvc';
const SERVICES = 'HKLM\\SYSTEM\\CurrentControlSet\\Services';
const SVCHOST = 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Svchost';

const { cli, cliJson } = cliFor(() => host.paths);

async function makeVm(name: string): Promise<void> {
  const r = cli(['vm', 'create', name]);
  expect(r.status, r.stderr).toBe(0);
}

/** Run a Windows program inside a VM: `svcdup run --vm VM -- ARGV`. */
async function inVm(vm: string, argv: string[]) {
  const r = spawnSync('node', [join(packageRoot, 'dist/cli.js'), 'run', '--vm', vm, '--', ...argv], {
    env: testEnv(host.paths),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

interface Reply {
  pid: number;
  service: string;
  greeting: string;
  startedAt: number;
  args: string[];
}

async function pipeCall(vm: string | undefined, pipe = SVC): Promise<Reply> {
  const argv = [nativeExe(host.backend, 'svcdup-pipecall.exe'), pipe, 'hi'];
  const r = vm ? await inVm(vm, argv) : await host.backend.exec(argv, { timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Reply;
}

async function serverPid(vm: string | undefined, pipe: string): Promise<number> {
  const argv = [nativeExe(host.backend, 'svcdup-pipecall.exe'), '--server-pid', pipe];
  const r = vm ? await inVm(vm, argv) : await host.backend.exec(argv, { timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  return Number(r.stdout.trim());
}

async function exportHostKeys() {
  return {
    services: await host.backend.call('reg.export', { key: SERVICES }),
    svchost: await host.backend.call('reg.export', { key: SVCHOST }),
  };
}

beforeAll(async () => {
  host = await openTestHost('dup');
  const b = host.backend;
  // The project's singleton service, running on the host.
  await b.call('scm.create', { name: SVC, displayName: 'svcdup test service', imagePath: nativeExe(b, 'svcdup-testsvc.exe') });
  await b.call('scm.start', { name: SVC });
  expect((await waitState(host.backend, SVC, 'RUNNING')).state).toBe('RUNNING');
  // A ServiceDll service in its own svchost group.
  await b.call('reg.set', { key: SVCHOST, name: 'svcduptest', type: 'REG_MULTI_SZ', data: ['svcdup-testdll'] });
  await b.call('scm.create', { name: 'svcdup-testdll', imagePath: 'C:\\windows\\system32\\svchost.exe -k svcduptest', type: 0x20 });
  await b.call('reg.set', {
    key: `${SERVICES}\\svcdup-testdll\\Parameters`,
    name: 'ServiceDll',
    type: 'REG_EXPAND_SZ',
    data: nativeExe(b, 'svcdup-testsvc.dll'),
  });
  // A dependency chain chainA -> svcdup-testsvc-a -> svcdup-testsvc-b.
  const multi = nativeExe(b, 'svcdup-testsvc-multi.exe');
  await b.call('scm.create', { name: 'svcdup-testsvc-b', imagePath: multi, type: 0x20 });
  await b.call('scm.create', { name: 'svcdup-testsvc-a', imagePath: multi, type: 0x20, dependOnService: ['svcdup-testsvc-b'] });
  await b.call('scm.create', { name: 'chainA', imagePath: `${nativeExe(b, 'svcdup-testsvc.exe')} --name chainA`, dependOnService: ['svcdup-testsvc-a'] });
  for (const vm of ['v1', 'v2', 'v3']) await makeVm(vm);
  await b.close();
});

afterAll(async () => host?.dispose());

describe('a singleton service on the host and in 3 VMs', () => {
  let before: Awaited<ReturnType<typeof exportHostKeys>>;
  const dups: Record<string, ServiceStatus> = {};

  it('dup --start runs a duplicate in each VM beside the host instance', async () => {
    before = await exportHostKeys();
    const hostReply = await pipeCall(undefined);
    for (const vm of ['v1', 'v2', 'v3']) {
      const out = cliJson<{ status: ServiceStatus }>(['dup', SVC, '--vm', vm, '--relayed', '--set', `Parameters\\Greeting=hello ${vm}`, '--start']);
      expect(out.status).toMatchObject({ name: `${SVC}@${vm}`, state: 'RUNNING' });
      dups[vm] = out.status;
    }
    const pids = new Set<number>([hostReply.pid]);
    for (const vm of ['v1', 'v2', 'v3']) {
      const reply = await pipeCall(vm);
      // each VM's client reaches its own instance: the image svcdup-host started
      expect(reply.pid).toBe((await imageOf(host.backend, dups[vm]!))?.pid);
      expect(reply.greeting).toBe(`hello ${vm}`);
      pids.add(reply.pid);
    }
    expect(pids.size).toBe(4);
    // svcdup's own process per duplicate runs on one thread under Wine (native/host/scmpipe.c),
    // and the image has no console, as a service the SCM starts has none: no conhost.exe
    const procs = await host.backend.call('proc.list', {});
    for (const vm of ['v1', 'v2', 'v3']) {
      const relay = procs.find((p) => p.pid === dups[vm]!.pid);
      expect(relay).toMatchObject({ image: 'svcdup-host.exe', threads: 1 });
      const image = (await imageOf(host.backend, dups[vm]!))!;
      expect(procs.filter((p) => [relay!.pid, image.pid].includes(p.ppid) && /conhost/i.test(p.image))).toEqual([]);
    }
    const again = await pipeCall(undefined);
    expect(again.pid).toBe(hostReply.pid);
    expect(again.greeting).toBe('');
  });

  it('status lists the duplicates with state and pid', () => {
    const list = cliJson<{ scmName: string; mode: string; status: ServiceStatus }[]>(['status']);
    expect(list.map((d) => [d.scmName, d.mode, d.status.state])).toEqual([
      [`${SVC}@v1`, 'relayed', 'RUNNING'],
      [`${SVC}@v2`, 'relayed', 'RUNNING'],
      [`${SVC}@v3`, 'relayed', 'RUNNING'],
    ]);
    expect(cli(['status']).stdout).toMatch(new RegExp(`^${SVC}@v1 +v1 +relayed +RUNNING `, 'm'));
  });

  it('each stops and starts independently, through sc and through svcdup', async () => {
    const stop = cli(['host', 'exec', '--', 'sc', 'stop', `${SVC}@v2`]);
    expect(stop.status, stop.stderr).toBe(0);
    expect((await waitState(host.backend, `${SVC}@v2`, 'STOPPED')).state).toBe('STOPPED');
    expect((await pipeCall('v1')).pid).toBe((await imageOf(host.backend, dups.v1!))?.pid);
    expect((await pipeCall('v3')).pid).toBe((await imageOf(host.backend, dups.v3!))?.pid);
    // the real image went with it
    const procs = await host.backend.call('proc.list', {});
    expect(procs.some((p) => p.ppid === dups.v2!.pid)).toBe(false);

    const started = cliJson<ServiceStatus>(['start', SVC, '--vm', 'v2']);
    expect(started.state).toBe('RUNNING');
    expect((await pipeCall('v2')).pid).toBe((await imageOf(host.backend, started))?.pid);

    expect(cliJson<ServiceStatus>(['stop', SVC, '--vm', 'v3']).state).toBe('STOPPED');
    const sc = cli(['host', 'exec', '--', 'sc', 'start', `${SVC}@v3`]);
    expect(sc.status, sc.stderr).toBe(0);
    const v3 = await waitState(host.backend, `${SVC}@v3`, 'RUNNING');
    expect((await pipeCall('v3')).pid).toBe((await imageOf(host.backend, v3))?.pid);

    // and through net stop / net start
    expect(cli(['host', 'exec', '--', 'net', 'stop', `${SVC}@v1`]).status).toBe(0);
    expect((await waitState(host.backend, `${SVC}@v1`, 'STOPPED')).state).toBe('STOPPED');
    expect(cli(['host', 'exec', '--', 'net', 'start', `${SVC}@v1`]).status).toBe(0);
    const v1 = await waitState(host.backend, `${SVC}@v1`, 'RUNNING');
    expect((await pipeCall('v1')).pid).toBe((await imageOf(host.backend, v1))?.pid);
  });

  it('relays start arguments and custom controls, and propagates exit codes', async () => {
    cliJson(['stop', SVC, '--vm', 'v1']);
    cliJson(['start', SVC, '--vm', 'v1', 'alpha', 'beta gamma']);
    expect((await pipeCall('v1')).args).toEqual(['alpha', 'beta gamma']);
    const paused = await host.backend.call('scm.control', { name: `${SVC}@v1`, code: 2 });
    expect((await waitState(host.backend, `${SVC}@v1`, 'PAUSED')).state, JSON.stringify(paused)).toBe('PAUSED');
    await host.backend.call('scm.control', { name: `${SVC}@v1`, code: 3 });
    expect((await waitState(host.backend, `${SVC}@v1`, 'RUNNING')).state).toBe('RUNNING');
    await host.backend.call('scm.control', { name: `${SVC}@v1`, code: 200 });
    const reply = JSON.parse((await inVm('v1', [nativeExe(host.backend, 'svcdup-pipecall.exe'), SVC])).stdout) as { lastControl: number };
    expect(reply.lastControl).toBe(200);

    // the service stops itself with a service-specific exit code
    cliJson(['stop', SVC, '--vm', 'v1']);
    await host.backend.call('scm.start', { name: `${SVC}@v1`, args: ['--exit-code', '42'] });
    expect(await waitState(host.backend, `${SVC}@v1`, 'STOPPED')).toMatchObject({ state: 'STOPPED', win32ExitCode: 1066, serviceExitCode: 42 });
    // the real image dies without a word: the duplicate reports STOPPED with its exit code
    await host.backend.call('scm.start', { name: `${SVC}@v1`, args: ['--crash'] });
    expect(await waitState(host.backend, `${SVC}@v1`, 'STOPPED')).toMatchObject({ state: 'STOPPED', win32ExitCode: 1066, serviceExitCode: 3 });
  });

  it('undup removes every duplicate; the host registry is as it was', async () => {
    for (const vm of ['v1', 'v2', 'v3']) expect(cli(['undup', SVC, '--vm', vm]).status).toBe(0);
    expect(cliJson<unknown[]>(['status'])).toEqual([]);
    expect(await win32Code(host.backend.call('scm.status', { name: `${SVC}@v2` }))).toBe(1060);
    expect(await win32Code(host.backend.call('reg.query', { key: `${vmKey('v2')}\\Services` }))).toBe(2);
    expect(await exportHostKeys()).toEqual(before);
    expect((await pipeCall(undefined)).pid).toBeGreaterThan(0);
  });
});

describe('a ServiceDll service in its own svchost group', () => {
  it('is duplicated: svchost -k runs in the VM with its own instance of the DLL', async () => {
    await host.backend.call('scm.start', { name: 'svcdup-testdll' });
    expect((await waitState(host.backend, 'svcdup-testdll', 'RUNNING')).state).toBe('RUNNING');
    const onHost = await pipeCall(undefined, 'svcdup-testsvcdll');
    // no mode asked for: relayed, as direct does not apply to a svchost service
    const out = cliJson<{ status: ServiceStatus; plan: { services: { direct?: unknown }[]; relayedBecause?: string } }>([
      'dup',
      'svcdup-testdll',
      '--vm',
      'v1',
      '--start',
    ]);
    expect(out.status.state).toBe('RUNNING');
    expect(out.plan.services[0]!.direct).toBeUndefined();
    expect(out.plan.relayedBecause).toMatch(/runs in svchost/);
    const image = await imageOf(host.backend, out.status);
    expect(image?.image.toLowerCase()).toBe('svchost.exe');
    const inside = await pipeCall('v1', 'svcdup-testsvcdll');
    expect(inside.pid).toBe(image?.pid);
    expect(inside.service).toBe('svcdup-testdll');
    expect(inside.pid).not.toBe(onHost.pid);
    expect(cli(['undup', 'svcdup-testdll', '--vm', 'v1']).status).toBe(0);
  });
});

describe('dependencies', () => {
  const startedAt = async (pids: number[]): Promise<number[]> => {
    const procs = await host.backend.call('proc.list', {});
    return pids.map((pid) => procs.find((p) => p.pid === pid)?.startedAt ?? NaN);
  };

  it('chainA -> a -> b with a shared: svcdup starts b, then a on the host, then chainA in the VM', async () => {
    const out = cliJson<{ plan: { services: { scmName: string; dependOnService: string[] }[]; shared: { name: string }[] }; status: ServiceStatus }>([
      'dup',
      'chainA',
      '--vm',
      'v2',
      '--relayed',
      '--share',
      'svcdup-testsvc-a',
      '--start',
    ]);
    expect(out.plan.services.map((s) => s.scmName)).toEqual(['chainA@v2']);
    expect(out.plan.shared.map((s) => s.name)).toEqual(['svcdup-testsvc-a']);
    expect((await host.backend.call('scm.config', { name: 'chainA@v2' })).dependOnService).toEqual(['svcdup-testsvc-a']);
    const sa = await host.backend.call('scm.status', { name: 'svcdup-testsvc-a' });
    const sb = await host.backend.call('scm.status', { name: 'svcdup-testsvc-b' });
    expect([sb.state, sa.state]).toEqual(['RUNNING', 'RUNNING']);
    const chain = await pipeCall('v2');
    expect(chain.service).toBe('chainA');
    expect(chain.pid).toBe((await imageOf(host.backend, out.status))?.pid);
    const [tb, ta, tchain] = await startedAt([sb.pid, sa.pid, chain.pid]);
    expect(tb).toBeLessThanOrEqual(ta!);
    expect(ta).toBeLessThanOrEqual(tchain!);
    expect(cli(['undup', 'chainA', '--vm', 'v2']).status).toBe(0);
    for (const n of ['svcdup-testsvc-a', 'svcdup-testsvc-b']) {
      await host.backend.call('scm.control', { name: n, code: 1 });
      await waitState(host.backend, n, 'STOPPED');
    }
  });

  it('without --share the closure is duplicated, dependencies started first, and undup keeps the order', async () => {
    const out = cliJson<{ plan: { services: { scmName: string; dependOnService: string[] }[] }; status: ServiceStatus }>([
      'dup',
      'chainA',
      '--vm',
      'v3',
      '--relayed',
      '--start',
    ]);
    expect(out.plan.services.map((s) => [s.scmName, s.dependOnService])).toEqual([
      ['svcdup-testsvc-b@v3', []],
      ['svcdup-testsvc-a@v3', ['svcdup-testsvc-b@v3']],
      ['chainA@v3', ['svcdup-testsvc-a@v3']],
    ]);
    const images: number[] = [];
    for (const name of ['svcdup-testsvc-b@v3', 'svcdup-testsvc-a@v3', 'chainA@v3']) {
      const st = await host.backend.call('scm.status', { name });
      expect(st.state).toBe('RUNNING');
      images.push((await imageOf(host.backend, st))!.pid);
    }
    const [tb, ta, tchain] = await startedAt(images);
    expect(tb).toBeLessThanOrEqual(ta!);
    expect(ta).toBeLessThanOrEqual(tchain!);
    // the host's own instances stay as they were
    expect((await host.backend.call('scm.status', { name: 'svcdup-testsvc-a' })).state).toBe('STOPPED');
    const refused = cli(['undup', 'svcdup-testsvc-a', '--vm', 'v3']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/needed by chainA@v3/);
    for (const n of ['chainA', 'svcdup-testsvc-a', 'svcdup-testsvc-b']) expect(cli(['undup', n, '--vm', 'v3']).status).toBe(0);
  });
});

// about twenty CLI runs each (a kill and a recovery per step): a budget for a loaded machine, not a timing
describe('journal: svcdup killed at every step', () => {
  const name = `${SVC}@v1`;
  const copyKey = `${vmKey('v1')}\\Services\\${SVC}`;

  /** A duplicate is either complete (SCM, registry copy, record) or absent from all three. */
  async function state(): Promise<'complete' | 'none' | string> {
    // the next command that changes the host rolls the killed one back (status only reads)
    const repair = cli(['repair']);
    expect(repair.status, repair.stderr).toBe(0);
    const status = cli(['status', '--json']);
    expect(status.status, status.stderr).toBe(0);
    const listed = (JSON.parse(status.stdout) as { scmName: string }[]).some((d) => d.scmName === name);
    const scm = (await win32Code(host.backend.call('scm.config', { name }))) === 0;
    const copy = (await win32Code(host.backend.call('reg.query', { key: copyKey }))) === 0;
    if (listed && scm && copy) return 'complete';
    if (!listed && !scm && !copy) return 'none';
    return `half: listed ${listed}, scm ${scm}, copy ${copy}`;
  }

  it('an interrupted dup is rolled back by the next command, whichever step it died in', async () => {
    const before = await exportHostKeys();
    // Kill at step 0, 1, ... until a run gets past the last step and completes.
    let seq = 0;
    for (; ; seq++) {
      let completed = false;
      for (const phase of ['before', 'after']) {
        const r = cli(['dup', SVC, '--vm', 'v1', '--relayed', '--set', 'Parameters\\Greeting=x'], { SVCDUP_FAILPOINT: `dup:${seq}:${phase}` });
        if (r.status === 0) {
          completed = true;
          break;
        }
        expect(r.signal, `dup:${seq}:${phase} ${r.stderr}`).toBe('SIGKILL');
        expect(await state(), `after a kill at dup:${seq}:${phase}`).toBe('none');
      }
      if (completed) break;
    }
    // copy, --set value, SCM registration, record (and the VM's policy, the first time)
    expect(seq).toBeGreaterThanOrEqual(4);
    expect(await state()).toBe('complete');
    expect(cli(['undup', SVC, '--vm', 'v1']).status).toBe(0);
    expect(await exportHostKeys()).toEqual(before);
  }, 600_000);

  it('an interrupted undup leaves the duplicate complete and working', async () => {
    cliJson(['dup', SVC, '--vm', 'v1', '--relayed', '--set', 'Parameters\\Greeting=kept']);
    let seq = 0;
    for (; ; seq++) {
      const r = cli(['undup', SVC, '--vm', 'v1'], { SVCDUP_FAILPOINT: `undup:${seq}:before` });
      if (r.status === 0) break;
      expect(r.signal, `undup:${seq}:before ${r.stderr}`).toBe('SIGKILL');
      expect(await state(), `after a kill at undup:${seq}:before`).toBe('complete');
      const after = cli(['undup', SVC, '--vm', 'v1'], { SVCDUP_FAILPOINT: `undup:${seq}:after` });
      expect(after.signal, `undup:${seq}:after ${after.stderr}`).toBe('SIGKILL');
      expect(await state(), `after a kill at undup:${seq}:after`).toBe('complete');
    }
    // SCM deletion, registry copy, record
    expect(seq).toBe(3);
    expect(await state()).toBe('none');
    cliJson(['dup', SVC, '--vm', 'v1', '--relayed', '--set', 'Parameters\\Greeting=kept']);
    expect(cliJson<ServiceStatus>(['start', SVC, '--vm', 'v1']).state).toBe('RUNNING');
    expect((await pipeCall('v1')).greeting).toBe('kept');
    expect(cli(['undup', SVC, '--vm', 'v1']).status).toBe(0);
    expect(await state()).toBe('none');
  }, 600_000);
});

describe("Wine's system services", () => {
  let before: Awaited<ReturnType<typeof exportHostKeys>>;

  it('RpcSs, Schedule and BITS are duplicated into 2 VMs, each with its own process', async () => {
    before = await exportHostKeys();
    const hostRpcss = await host.backend.call('scm.status', { name: 'RpcSs' });
    for (const vm of ['v2', 'v3']) {
      for (const svc of ['RpcSs', 'Schedule', 'BITS']) {
        // no mode asked for: relayed (a Wine builtin, a svchost service)
        const out = cliJson<{ status: ServiceStatus; plan: { relayedBecause?: string } }>([
          'dup',
          svc,
          '--vm',
          vm,
          '--start',
          ...(svc === 'RpcSs' ? [] : ['--share', 'RpcSs']),
        ]);
        expect(out.status, `${svc}@${vm}`).toMatchObject({ name: `${svc}@${vm}`, state: 'RUNNING' });
        expect(out.plan.relayedBecause, `${svc}@${vm}`).toMatch(/Wine builtin|svchost|shared-process/);
      }
    }
    const images = new Set<number>();
    for (const vm of ['v2', 'v3']) {
      for (const svc of ['RpcSs', 'Schedule', 'BITS']) {
        const st = await host.backend.call('scm.status', { name: `${svc}@${vm}` });
        expect(st.state, `${svc}@${vm}`).toBe('RUNNING');
        const img = await imageOf(host.backend, st);
        expect(img?.image.toLowerCase(), `${svc}@${vm}`).toBe(svc === 'RpcSs' ? 'rpcss.exe' : 'svchost.exe');
        images.add(img!.pid);
      }
    }
    expect(images.size).toBe(6);
    expect(images.has(hostRpcss.pid)).toBe(false);
  });

  it("VM clients reach their own VM's RpcSs; host clients still reach the host's", async () => {
    const hostRpcss = await host.backend.call('scm.status', { name: 'RpcSs' });
    for (const pipe of ['epmapper', 'lrpc\\epmapper', 'lrpc\\irot', 'lrpc\\irpcss']) {
      expect(await serverPid(undefined, pipe), pipe).toBe(hostRpcss.pid);
      for (const vm of ['v2', 'v3']) {
        const own = await imageOf(host.backend, await host.backend.call('scm.status', { name: `RpcSs@${vm}` }));
        expect(await serverPid(vm, pipe), `${pipe} in ${vm}`).toBe(own!.pid);
      }
    }
  });

  it('undup of them all leaves the host registry as it was', async () => {
    for (const vm of ['v2', 'v3']) {
      for (const svc of ['BITS', 'Schedule', 'RpcSs']) {
        const r = cli(['undup', svc, '--vm', vm]);
        expect(r.status, `undup ${svc}@${vm}: ${r.stderr}`).toBe(0);
      }
    }
    expect(cliJson<unknown[]>(['status'])).toEqual([]);
    expect(await exportHostKeys()).toEqual(before);
    expect((await host.backend.call('scm.status', { name: 'RpcSs' })).state).toBe('RUNNING');
  });
});

describe('the relay pipe', () => {
  it("turns away a VM process that takes it before the duplicate's own image does", async () => {
    const b = host.backend;
    // a slow starter: its image connects to the relay 3 s after it is launched
    await b.call('scm.create', { name: 'slowsvc', imagePath: `${nativeExe(b, 'svcdup-testsvc.exe')} --name slowsvc --dispatch-delay 3000` });
    cliJson(['dup', 'slowsvc', '--vm', 'v2', '--relayed']);
    await b.call('scm.start', { name: 'slowsvc@v2' });
    const pending = await b.call('scm.status', { name: 'slowsvc@v2' });
    expect(pending.state).toBe('START_PENDING');
    // a process of another VM goes for svcdup-host's relay pipe first
    const impostor = await inVm('v3', [nativeExe(b, 'svcdup-pipecall.exe'), `svcdup.relay.${pending.pid}`, 'stop']);
    expect(impostor.code, impostor.stdout).toBe(2);
    const running = await waitState(b, 'slowsvc@v2', 'RUNNING');
    expect(running.state).toBe('RUNNING');
    const reply = await pipeCall('v2');
    expect(reply).toMatchObject({ service: 'slowsvc', pid: (await imageOf(b, running))?.pid });
    expect(cli(['undup', 'slowsvc', '--vm', 'v2']).status).toBe(0);
    await b.call('scm.delete', { name: 'slowsvc' });
  });

  it('svcdup-host run by hand, not by the SCM, says so and leaves the running duplicate alone', async () => {
    const b = host.backend;
    const running = cliJson<{ status: ServiceStatus }>(['dup', SVC, '--vm', 'v1', '--relayed', '--start']).status;
    const r = await b.exec([nativeExe(b, 'svcdup-host.exe'), '--vm', 'v1', '--service', SVC], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`not started by the SCM; start the duplicate with: sc start ${SVC}@v1`);
    const after = await b.call('scm.status', { name: `${SVC}@v1` });
    expect(after).toMatchObject({ state: 'RUNNING', pid: running.pid });
    expect((await pipeCall('v1')).pid).toBe((await imageOf(b, after))?.pid);
    expect(cli(['undup', SVC, '--vm', 'v1']).status).toBe(0);
  });
});

describe('the plan', () => {
  const hostState = async () => ({
    ...(await exportHostKeys()),
    svcdup: await host.backend.call('reg.export', { key: SVCDUP_KEY }),
    scm: (await host.backend.call('scm.list', {})).map((x) => x.name).sort(),
  });

  it('dup --dry-run prints every step and its undo, and changes neither the registry nor the SCM', async () => {
    const before = await hostState();
    // One fresh-clone run saw this first call fail with "svcdup-agent exited (code 1)" right after the relay
    // impostor test (a transient agent exit, not reproduced: see docs/agent-protocol.md); a second try tells it apart.
    if (/svcdup-agent exited/.test(cli(['status']).stderr)) cli(['status']);
    const out = cliJson<{ dryRun: boolean; plan: { services: { scmName: string }[]; steps: { kind: string; args: { name?: string } }[] } }>([
      'dup',
      'chainA',
      '--vm',
      'v1',
      '--relayed',
      '--set',
      'Parameters\\Greeting=dry',
      '--dry-run',
    ]);
    expect(out.dryRun).toBe(true);
    expect(out.plan.services.map((x) => x.scmName)).toEqual(['svcdup-testsvc-b@v1', 'svcdup-testsvc-a@v1', 'chainA@v1']);
    expect(out.plan.steps.filter((x) => x.kind === 'scm.create').map((x) => x.args.name)).toEqual(['svcdup-testsvc-b@v1', 'svcdup-testsvc-a@v1', 'chainA@v1']);
    expect(out.plan.steps.map((x) => x.kind)).toContain('reg.setValue');
    const text = cli(['dup', 'chainA', '--vm', 'v1', '--relayed', '--dry-run']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/dry run: nothing was changed/);
    expect(text.stdout).toMatch(
      /scm\.create +create service chainA@v1: .*svcdup-host\.exe.* \(depends on svcdup-testsvc-a@v1\)\n +undo: stop and delete chainA@v1/,
    );
    expect(await hostState()).toEqual(before);
    expect(cliJson<unknown[]>(['status'])).toEqual([]);
  });

  it('a failure on the root removes the dependencies registered with it: the closure is one operation', async () => {
    // a host service holding the display name the root's duplicate would get: the SCM refuses the root only
    const plan = cliJson<{ plan: { services: { service: string; displayName: string }[] } }>(['dup', 'chainA', '--vm', 'v1', '--relayed', '--dry-run']).plan;
    const root = plan.services.find((x) => x.service === 'chainA')!;
    await host.backend.call('scm.create', { name: 'svcdup-clash', displayName: root.displayName, imagePath: nativeExe(host.backend, 'svcdup-testsvc.exe') });
    const before = await hostState();
    const r = cli(['dup', 'chainA', '--vm', 'v1', '--relayed']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/1078/);
    expect(await hostState()).toEqual(before);
    expect(cliJson<unknown[]>(['status'])).toEqual([]);
    await host.backend.call('scm.delete', { name: 'svcdup-clash' });
  });

  it('refuses a service name with @ in one line, registering nothing', async () => {
    const before = await hostState();
    const r = cli(['dup', `${SVC}@v2`, '--vm', 'v1']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^svcdup: service name "svcdup-testsvc@v2" cannot be duplicated: it contains '@', which svcdup reserves for SERVICE@VM$/);
    expect(cli(['dup', SVC, '--vm', 'v1', '--share', 'a@b']).status).toBe(2);
    expect(await hostState()).toEqual(before);
  });

  it('vm create refuses a policy too large for the hook, naming the limit; one that just fits runs', async () => {
    const dir = join(host.paths.home, 'policies');
    mkdirSync(dir, { recursive: true });
    // "closed pipes P\n" lines; with --ip the rules also hold "net address 127.77.9.9\n" (23 characters),
    // and the alias lines that spell the prefix's C: drive for the hook's file layer
    const policy = (chars: number) => {
      const pats: string[] = [];
      let left = chars - 23 - fileAliasRules(host.backend).length;
      for (let i = 0; left > 0; i++) {
        let len = Math.min(256, left - 14);
        // never leave a remainder too short for a pattern line of its own (it depends on the home's path length)
        const rest = left - 14 - len;
        if (rest > 0 && rest < 24) len -= 32;
        const head = `p${i}-`;
        pats.push(head + 'x'.repeat(len - head.length));
        left -= 14 + len;
      }
      const file = join(dir, `${chars}.json`);
      writeFileSync(file, JSON.stringify({ closed: { pipes: pats } }));
      return file;
    };
    const big = cli(['vm', 'create', 'big', '--ip', '127.77.9.9', '--policy', policy(32731)]);
    expect(big.status).toBe(2);
    expect(big.stderr.trim().split('\n')).toHaveLength(1);
    expect(big.stderr).toMatch(/32731 characters of rules; the hook's config section \(CFG_SECTION_SIZE, 64 KiB\) holds at most 32730/);
    expect(cliJson<{ name: string }[]>(['vm', 'ls']).map((v) => v.name)).not.toContain('big');
    const fits = cli(['vm', 'create', 'big', '--ip', '127.77.9.9', '--policy', policy(32730)]);
    expect(fits.status, fits.stderr).toBe(0);
    expect((await inVm('big', ['cmd', '/c', 'exit 3'])).code).toBe(3);
    // a duplicate gets the whole policy too (svcdup-host read at most 4095 characters of it,
    // and started the image under the defaults, without the VM's address, when it was longer)
    const b = host.backend;
    await b.call('scm.create', { name: 'bigtcp', imagePath: `${nativeExe(b, 'svcdup-testsvc.exe')} --name bigtcp --tcp 47913 --bind 127.0.0.1` });
    expect(cliJson<{ status: ServiceStatus }>(['dup', 'bigtcp', '--vm', 'big', '--relayed', '--start']).status.state).toBe('RUNNING');
    const big2 = cliJson<{ name: string; endpoints: { proto: string; local: string }[] }[]>(['vm', 'ls']).find((v) => v.name === 'big');
    expect(big2?.endpoints).toContainEqual(expect.objectContaining({ proto: 'tcp', local: '127.77.9.9:47913' }));
    expect(cli(['vm', 'rm', 'big']).status).toBe(0);
    await b.call('scm.delete', { name: 'bigtcp' });
  });
});

describe('vm rm', () => {
  it('removes the VM with its duplicates and processes; svcdup leaves nothing in the host registry', async () => {
    const before = await exportHostKeys();
    cliJson(['dup', SVC, '--vm', 'v1', '--relayed', '--start']);
    cliJson(['dup', 'svcdup-testdll', '--vm', 'v1', '--start']);
    // the images run in the VM; their svcdup-host processes are the host SCM's
    const running = cliJson<{ vm: string; pid: number; image: string }[]>(['ps', '--vm', 'v1']);
    // Wine's desktop process (explorer.exe /desktop), started on demand by a VM process, is the VM's too now
    // that membership is the VM's job object, which children join
    expect(
      running
        .map((p) => p.image.toLowerCase())
        .filter((i) => i !== 'explorer.exe')
        .sort(),
    ).toEqual(['svcdup-testsvc.exe', 'svchost.exe']);
    for (const vm of ['v1', 'v2', 'v3']) {
      const r = cli(['vm', 'rm', vm]);
      expect(r.status, r.stderr).toBe(0);
    }
    expect(cliJson<unknown[]>(['status'])).toEqual([]);
    expect(cliJson<unknown[]>(['vm', 'ls'])).toEqual([]);
    expect(cliJson<unknown[]>(['ps'])).toEqual([]);
    const procs = await host.backend.call('proc.list', {});
    for (const p of running) expect(procs.some((q) => q.pid === p.pid)).toBe(false);
    expect(await win32Code(host.backend.call('reg.query', { key: 'HKLM\\SOFTWARE\\svcdup' }))).toBe(2);
    expect(await exportHostKeys()).toEqual(before);
  });
});
