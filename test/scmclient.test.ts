// The client side of the SCM inside a VM (docs/design.md issues 10 and 12, docs/scmclient.md):
// a VM process names its duplicates by their plain names, sees no other VM's services,
// may only query host services that are neither duplicated nor shared, and creates
// services of its own VM. Real Wine processes, driven through native/build's
// svcdup-scmclient.exe run in VMs with svcdup-run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecResult, ServiceStatus } from '../src/backend/types.js';
import { vmServiceKey } from '../src/dup/dup.js';
import { nativeDir, openTestHost, type TestHost } from './helpers.js';
import { cliFor, waitState, imageOf, win32Code } from './cli-helpers.js';

// SVCDUP_NATIVE_DIR points the test at another build of the native parts (a hook under development).
const SVC = 'svcdup-testsvc';
const HOSTONLY = 'svcdup-testsvc-a'; // a host service no VM duplicates
const CREATED = 'svcdup-testsvc-b'; // created from inside v1
const ERROR_ACCESS_DENIED = 5;
const ERROR_SERVICE_DOES_NOT_EXIST = 1060;
const SERVICE_RUNNING = 4;
const SERVICE_STOPPED = 1;

let host: TestHost;

const exe = (name: string) => host.backend.toWindowsPath(join(nativeDir, name));

const { cli, cliJson } = cliFor(() => host.paths);

/** A VM as `svcdup vm create` leaves it: its record and its registry key. */
async function makeVm(name: string): Promise<void> {
  const r = cli(['vm', 'create', name]);
  expect(r.status, r.stderr).toBe(0);
}

interface Reply {
  ok: boolean;
  error?: number;
  call?: string;
  pid?: number;
  state?: number;
  name?: string;
  display?: string;
  binary?: string;
  dependencies?: string[];
  services?: { name: string; display: string; state: number; pid?: number }[];
  pages?: number;
}

/** Run svcdup-scmclient(.exe|-dyn.exe) in a VM (with extra policy lines), or on the host when vm is undefined. */
async function scm(vm: string | undefined, args: string[], opts: { policy?: string; dyn?: boolean } = {}): Promise<Reply> {
  const argv = [exe(opts.dyn ? 'svcdup-scmclient-dyn.exe' : 'svcdup-scmclient.exe'), ...args];
  let r: ExecResult;
  if (vm) {
    const file = join(host.paths.home, `policy-${vm}-${Date.now()}.txt`);
    writeFileSync(file, opts.policy ?? '');
    r = await host.backend.exec([exe('svcdup-run.exe'), '--vm', vm, '--policy', host.backend.toWindowsPath(file), '--', ...argv], { timeoutMs: 60_000 });
  } else {
    r = await host.backend.exec(argv, { timeoutMs: 60_000 });
  }
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let out: Reply;
  try {
    out = JSON.parse(line) as Reply;
  } catch {
    throw new Error(`svcdup-scmclient ${args.join(' ')} in ${vm ?? 'host'}: exit ${r.code}, stdout ${r.stdout}, stderr ${r.stderr}`);
  }
  expect(r.code, `${args.join(' ')} in ${vm ?? 'host'}: ${r.stdout}`).toBe(out.ok ? 0 : 1);
  return out;
}

async function pipeCall(vm: string, pipe = SVC) {
  const file = join(host.paths.home, `policy-pipe-${vm}.txt`);
  writeFileSync(file, '');
  const r = await host.backend.exec(
    [exe('svcdup-run.exe'), '--vm', vm, '--policy', host.backend.toWindowsPath(file), '--', exe('svcdup-pipecall.exe'), pipe, 'hi'],
    { timeoutMs: 30_000 },
  );
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { pid: number; service: string; greeting: string };
}

beforeAll(async () => {
  host = await openTestHost('scmclient');
  const b = host.backend;
  await b.call('scm.create', { name: SVC, displayName: 'svcdup test service', imagePath: exe('svcdup-testsvc.exe') });
  await b.call('scm.create', { name: HOSTONLY, displayName: 'svcdup host-only service', imagePath: exe('svcdup-testsvc-multi.exe'), type: 0x20 });
  for (const n of [SVC, HOSTONLY]) {
    await b.call('scm.start', { name: n });
    expect((await waitState(host.backend, n, 'RUNNING')).state).toBe('RUNNING');
  }
  await makeVm('v1');
  await makeVm('v2');
  for (const vm of ['v1', 'v2']) {
    const out = cliJson<{ status: ServiceStatus }>(['dup', SVC, '--vm', vm, '--relayed', '--start']);
    expect(out.status).toMatchObject({ name: `${SVC}@${vm}`, state: 'RUNNING' });
  }
});

afterAll(async () => host?.dispose());

describe('OpenService in a VM', () => {
  it("the plain name is the VM's own duplicate, in each VM; outside VMs it is the host's", async () => {
    const pid = async (name: string) => (await host.backend.call('scm.status', { name })).pid;
    const [p0, p1, p2] = [await pid(SVC), await pid(`${SVC}@v1`), await pid(`${SVC}@v2`)];
    expect(new Set([p0, p1, p2]).size).toBe(3);
    expect(await scm('v1', ['status', SVC])).toMatchObject({ ok: true, state: SERVICE_RUNNING, pid: p1 });
    expect(await scm('v2', ['status', SVC])).toMatchObject({ ok: true, state: SERVICE_RUNNING, pid: p2 });
    expect(await scm(undefined, ['status', SVC])).toMatchObject({ ok: true, pid: p0 });
    // sechost loaded after the hook: caught by the load notification
    expect(await scm('v1', ['status', SVC], { dyn: true })).toMatchObject({ ok: true, pid: p1 });
    // the host spelling of the own duplicate works too
    expect(await scm('v1', ['status', `${SVC}@v1`])).toMatchObject({ ok: true, pid: p1 });
  });

  it('starts and stops the duplicate through the plain name, leaving the others alone', async () => {
    expect(await scm('v1', ['stop', SVC])).toMatchObject({ ok: true });
    expect((await waitState(host.backend, `${SVC}@v1`, 'STOPPED')).state).toBe('STOPPED');
    expect((await host.backend.call('scm.status', { name: `${SVC}@v2` })).state).toBe('RUNNING');
    expect((await host.backend.call('scm.status', { name: SVC })).state).toBe('RUNNING');
    expect(await scm('v1', ['status', SVC])).toMatchObject({ ok: true, state: SERVICE_STOPPED });

    expect(await scm('v1', ['start', SVC], { dyn: true })).toMatchObject({ ok: true });
    const st = await waitState(host.backend, `${SVC}@v1`, 'RUNNING');
    expect(st.state).toBe('RUNNING');
    expect(await scm('v1', ['status', SVC])).toMatchObject({ ok: true, state: SERVICE_RUNNING, pid: st.pid });
    // and it is the VM's image that answers the VM's clients
    expect((await pipeCall('v1')).pid).toBe((await imageOf(host.backend, st))?.pid);
  });

  it("cannot control a host service or another VM's duplicate", async () => {
    const hostonly = await host.backend.call('scm.status', { name: HOSTONLY });
    // query rights are fine
    expect(await scm('v1', ['status', HOSTONLY])).toMatchObject({ ok: true, pid: hostonly.pid });
    expect(await scm('v1', ['open', HOSTONLY, '0x80000000'])).toMatchObject({ ok: true }); // GENERIC_READ
    expect(await scm('v1', ['open', HOSTONLY, '0x02000000'])).toMatchObject({ ok: true }); // MAXIMUM_ALLOWED: read rights
    expect(await scm('v1', ['stop', HOSTONLY])).toMatchObject({ ok: false, call: 'OpenServiceW', error: ERROR_ACCESS_DENIED });
    // SERVICE_CHANGE_CONFIG START STOP PAUSE_CONTINUE USER_DEFINED_CONTROL DELETE WRITE_DAC WRITE_OWNER GENERIC_WRITE/EXECUTE/ALL, ALL_ACCESS
    for (const right of ['0x2', '0x10', '0x20', '0x40', '0x100', '0x10000', '0x40000', '0x80000', '0x40000000', '0x20000000', '0x10000000', '0xf01ff']) {
      expect(await scm('v1', ['open', HOSTONLY, right]), `right ${right}`).toMatchObject({ ok: false, error: ERROR_ACCESS_DENIED });
    }
    expect(await scm('v1', ['openA', HOSTONLY, '0x20'])).toMatchObject({ ok: false, call: 'OpenServiceA', error: ERROR_ACCESS_DENIED });
    expect((await host.backend.call('scm.status', { name: HOSTONLY })).state).toBe('RUNNING');
    // the same request is granted outside the VM: the refusal is the VM's
    expect(await scm(undefined, ['open', HOSTONLY, '0x20'])).toMatchObject({ ok: true });

    // another VM's duplicate: not even visible
    for (const cmd of ['stop', 'status']) {
      expect(await scm('v1', [cmd, `${SVC}@v2`])).toMatchObject({ ok: false, error: ERROR_ACCESS_DENIED });
    }
    expect(await scm('v1', ['openA', `${SVC}@v2`, '0x4'])).toMatchObject({ ok: false, error: ERROR_ACCESS_DENIED });
    expect((await host.backend.call('scm.status', { name: `${SVC}@v2` })).state).toBe('RUNNING');
    // svcdup owns what it duplicated: a VM may not delete it, not even with MAXIMUM_ALLOWED
    expect(await scm('v1', ['delete', SVC])).toMatchObject({ ok: false, call: 'OpenServiceW', error: ERROR_ACCESS_DENIED });
    expect(await scm('v1', ['delete', SVC, '0x02000000'])).toMatchObject({ ok: false, call: 'DeleteService', error: ERROR_ACCESS_DENIED });
    expect((await host.backend.call('scm.status', { name: `${SVC}@v1` })).state).toBe('RUNNING');
  });

  it('a service shared by policy ("open services NAME") may be controlled; a closed one not even queried', async () => {
    const policy = `open services ${HOSTONLY}\nclosed services RpcSs\n`;
    expect(await scm('v1', ['open', HOSTONLY, '0x30'], { policy })).toMatchObject({ ok: true });
    expect(await scm('v1', ['status', 'RpcSs'], { policy })).toMatchObject({ ok: false, error: ERROR_ACCESS_DENIED });
    const names = (await scm('v1', ['enum', 'exw'], { policy })).services!.map((s) => s.name);
    expect(names).toContain(HOSTONLY);
    expect(names).not.toContain('RpcSs');
  });
});

describe('sc.exe in a VM (a client nobody here wrote)', () => {
  const sc = async (vm: string, args: string[]) => {
    const file = join(host.paths.home, `policy-sc-${vm}.txt`);
    writeFileSync(file, '');
    return host.backend.exec([exe('svcdup-run.exe'), '--vm', vm, '--policy', host.backend.toWindowsPath(file), '--', 'sc', ...args], { timeoutMs: 60_000 });
  };

  it("stops and starts the VM's duplicate by its plain name, and cannot stop a host service", async () => {
    expect((await sc('v2', ['stop', SVC])).code).toBe(0);
    expect((await waitState(host.backend, `${SVC}@v2`, 'STOPPED')).state).toBe('STOPPED');
    expect((await host.backend.call('scm.status', { name: SVC })).state).toBe('RUNNING');
    expect((await host.backend.call('scm.status', { name: `${SVC}@v1` })).state).toBe('RUNNING');
    expect((await sc('v2', ['start', SVC])).code).toBe(0);
    expect((await waitState(host.backend, `${SVC}@v2`, 'RUNNING')).state).toBe('RUNNING');
    expect((await sc('v2', ['stop', HOSTONLY])).code).not.toBe(0);
    expect((await host.backend.call('scm.status', { name: HOSTONLY })).state).toBe('RUNNING');
  });
});

describe('EnumServicesStatus in a VM', () => {
  it("lists the VM's duplicates by plain name, no other VM's, and the host's services", async () => {
    const onHost = (await scm(undefined, ['enum', 'exw'])).services!.map((s) => s.name);
    expect(onHost).toEqual(expect.arrayContaining([SVC, `${SVC}@v1`, `${SVC}@v2`, HOSTONLY]));
    const p1 = (await host.backend.call('scm.status', { name: `${SVC}@v1` })).pid;
    for (const how of ['exw', 'exa', 'w', 'a']) {
      const out = await scm('v1', ['enum', how]);
      const names = out.services!.map((s) => s.name);
      expect(
        names.filter((n) => n.toLowerCase() === SVC),
        how,
      ).toHaveLength(1);
      expect(
        names.filter((n) => n.includes('@')),
        how,
      ).toEqual([]);
      expect(names, how).toEqual(expect.arrayContaining([HOSTONLY, 'RpcSs']));
      // every host service but the one the duplicate stands for
      expect(names.length, how).toBe(onHost.length - 2);
      const mine = out.services!.find((s) => s.name === SVC)!;
      expect(mine.display, how).toBe('svcdup test service');
      if (how === 'exw' || how === 'exa') expect(mine.pid, how).toBe(p1);
      // the hook answers in pages by resume handle (Wine's own SCM makes the client grow its buffer)
      if (how === 'exw') expect(out.pages, how).toBeGreaterThan(1);
    }
    const dyn = await scm('v2', ['enum', 'exw'], { dyn: true });
    expect(dyn.services!.find((s) => s.name === SVC)?.pid).toBe((await host.backend.call('scm.status', { name: `${SVC}@v2` })).pid);
  });
});

describe('service names in a VM', () => {
  it("GetServiceDisplayName/KeyName and QueryServiceConfig speak the VM's names", async () => {
    for (const c of ['display', 'displayA']) expect(await scm('v1', [c, SVC])).toMatchObject({ ok: true, name: 'svcdup test service' });
    expect(await scm(undefined, ['display', `${SVC}@v1`])).toMatchObject({ ok: true, name: 'svcdup test service (v1)' });
    expect(await scm('v1', ['display', `${SVC}@v2`])).toMatchObject({ ok: false, error: ERROR_SERVICE_DOES_NOT_EXIST });
    for (const c of ['keyname', 'keynameA']) {
      expect(await scm('v1', [c, 'svcdup test service'])).toMatchObject({ ok: true, name: SVC });
      expect(await scm('v1', [c, 'svcdup test service (v1)'])).toMatchObject({ ok: true, name: SVC });
      expect(await scm('v1', [c, 'svcdup test service (v2)'])).toMatchObject({ ok: false, error: ERROR_SERVICE_DOES_NOT_EXIST });
    }
    for (const c of ['config', 'configA']) {
      const cfg = await scm('v1', [c, SVC]);
      expect(cfg).toMatchObject({ ok: true, display: 'svcdup test service' });
      expect(cfg.binary).toMatch(/svcdup-host\.exe.*--vm v1 --service svcdup-testsvc/);
    }
  });
});

describe('CreateService in a VM', () => {
  it('creates a service of that VM: NAME@vm in the host SCM, run in the VM from the copy key', async () => {
    // the VM's copy of svcdup-testsvc would share the test pipe: stop it (from inside)
    expect(await scm('v1', ['stop', SVC])).toMatchObject({ ok: true });
    await waitState(host.backend, `${SVC}@v1`, 'STOPPED');

    const image = exe('svcdup-testsvc-multi.exe');
    // depending on svcdup-testsvc: in the host SCM, that is v1's duplicate
    expect(await scm('v1', ['create', CREATED, image, 'made in v1', SVC])).toMatchObject({ ok: true });
    const cfg = await host.backend.call('scm.config', { name: `${CREATED}@v1` });
    expect(cfg.displayName).toBe('made in v1 (v1)');
    expect(cfg.dependOnService).toEqual([`${SVC}@v1`]);
    expect(await host.backend.call('reg.get', { key: vmServiceKey('v1', CREATED), name: 'DependOnService' })).toMatchObject({ data: [SVC] });
    expect(cfg.imagePath).toMatch(/svcdup-host\.exe" --vm v1 --service "svcdup-testsvc-b"$/);
    expect(await host.backend.call('reg.get', { key: vmServiceKey('v1', CREATED), name: 'ImagePath' })).toMatchObject({ data: image });
    expect(await win32Code(host.backend.call('scm.status', { name: CREATED }))).toBe(ERROR_SERVICE_DOES_NOT_EXIST);
    // the VM's service reads its config from the VM's copy
    await host.backend.call('reg.set', { key: `${vmServiceKey('v1', CREATED)}\\Parameters`, name: 'Greeting', type: 'REG_SZ', data: 'made here' });

    expect(await scm('v1', ['start', CREATED])).toMatchObject({ ok: true });
    const st = await waitState(host.backend, `${CREATED}@v1`, 'RUNNING');
    expect(st.state).toBe('RUNNING');
    const reply = await pipeCall('v1');
    expect(reply).toMatchObject({ service: CREATED, greeting: 'made here', pid: (await imageOf(host.backend, st))?.pid });
    expect((await scm('v1', ['enum', 'exw'])).services!.map((s) => s.name)).toContain(CREATED);
    // (Wine's SCM reports no dependencies in QueryServiceConfig at all: not checked here)
    expect(await scm('v1', ['config', CREATED])).toMatchObject({ ok: true, display: 'made in v1' });
    // not v2's, and no host service by that name
    expect(await scm('v2', ['status', CREATED])).toMatchObject({ ok: false, error: ERROR_SERVICE_DOES_NOT_EXIST });
    expect(await scm('v1', ['create', CREATED, image])).toMatchObject({ ok: false, error: 1073 }); // ERROR_SERVICE_EXISTS

    expect(await scm('v1', ['stop', CREATED])).toMatchObject({ ok: true });
    await waitState(host.backend, `${CREATED}@v1`, 'STOPPED');

    // ChangeServiceConfig: the new image path is the VM copy's; the host SCM keeps svcdup-host
    expect(await scm('v1', ['chpath', CREATED, `${image} --exit-code 7`])).toMatchObject({ ok: true });
    expect((await host.backend.call('scm.config', { name: `${CREATED}@v1` })).imagePath).toBe(cfg.imagePath);
    expect(await host.backend.call('reg.get', { key: vmServiceKey('v1', CREATED), name: 'ImagePath' })).toMatchObject({ data: `${image} --exit-code 7` });
    expect(await scm('v1', ['start', CREATED])).toMatchObject({ ok: true });
    expect(await waitState(host.backend, `${CREATED}@v1`, 'STOPPED')).toMatchObject({ state: 'STOPPED', serviceExitCode: 7 });
    // failure actions the host SCM would run on the host
    expect(await scm('v1', ['chfail', CREATED])).toMatchObject({ ok: false, call: 'ChangeServiceConfig2W', error: ERROR_ACCESS_DENIED });

    expect(await scm('v1', ['delete', CREATED])).toMatchObject({ ok: true });
    expect(await win32Code(host.backend.call('scm.status', { name: `${CREATED}@v1` }))).toBe(ERROR_SERVICE_DOES_NOT_EXIST);
    expect(await win32Code(host.backend.call('reg.query', { key: vmServiceKey('v1', CREATED) }))).toBe(2);

    // the ANSI entry and a refused kind
    expect(await scm('v1', ['createA', 'svcdup-ansi', image])).toMatchObject({ ok: true });
    expect((await host.backend.call('scm.config', { name: 'svcdup-ansi@v1' })).displayName).toBe('svcdup-ansi (v1)');
    // svcdup status lists it as created in the VM, and undup removes it
    const listed = cliJson<{ scmName: string; createdInVm?: boolean; imagePath?: string }[]>(['status', '--vm', 'v1']);
    expect(listed.find((d) => d.scmName === 'svcdup-ansi@v1')).toMatchObject({ createdInVm: true, imagePath: image });
    expect(cli(['undup', 'svcdup-ansi', '--vm', 'v1']).status).toBe(0);
    expect(await win32Code(host.backend.call('scm.status', { name: 'svcdup-ansi@v1' }))).toBe(ERROR_SERVICE_DOES_NOT_EXIST);
    expect(await win32Code(host.backend.call('reg.query', { key: vmServiceKey('v1', 'svcdup-ansi') }))).toBe(2);
    expect(await scm('v1', ['create', 'x@v2', image])).toMatchObject({ ok: false, error: 123 }); // ERROR_INVALID_NAME
  });
});
