// COM local-server activation under real Wine, on the host and from a VM that has its own
// duplicate of Wine's RpcSs (docs/com.md). svcdup-comclient activates the test class with
// CoCreateInstance(CLSCTX_LOCAL_SERVER); the client's combase asks RpcSs (irpcss) for the
// class, starts the LocalServer32 image itself when none is registered, and the server
// registers its class factory with that same RpcSs. The object's IStream::Read returns
// the server's pid, so every assertion is on a pid that a real activation reached.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessInfo } from '../src/backend/types.js';
import { packageRoot } from '../src/config.js';
import { nativeExe, openTestHost, testEnv, type TestHost } from './helpers.js';
import { cliFor, win32Code } from './cli-helpers.js';

let host: TestHost;
const CLSID = '{5C0D5D0B-C0DE-4E57-9A11-53564344A001}'; // native/tests/comtest/comtest.h
const CLASSES = 'HKLM\\Software\\Classes\\CLSID';
const CLSID_KEY = `${CLASSES}\\${CLSID}`;
const SERVICES = 'HKLM\\SYSTEM\\CurrentControlSet\\Services';

interface Activation {
  serverPid: number;
  clientPid: number;
}
interface VmProcess {
  vm: string;
  pid: number;
  ppid: number;
  image: string;
}

const { cli, cliJson } = cliFor(() => host.paths);

/**
 * `svcdup run --vm VM -- ARGV`, or `svcdup host exec -- ARGV` when vm is undefined;
 * asynchronous so that host and VM clients can overlap. Done when the CLI exits, not
 * when its pipes close: the local server that the client's combase starts inherits the
 * client's Unix stdout and stderr under Wine and keeps them open while it lingers.
 */
function svcdupRun(vm: string | undefined, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = vm ? ['run', '--vm', vm, '--', ...argv] : ['host', 'exec', '--', ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn('node', [join(packageRoot, 'dist/cli.js'), ...args], { env: testEnv(host.paths) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // what the client wrote before it exited is already in the pipe: read it (one line)
      const end = Date.now() + 2_000;
      const done = () => {
        if (!/\n/.test(stdout + stderr) && Date.now() < end) return void setTimeout(done, 20);
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ code: code ?? -1, stdout, stderr });
      };
      done();
    });
  });
}

/** One activation by svcdup-comclient, on the host (vm undefined) or in a VM. */
async function activate(vm: string | undefined, hold = 0): Promise<Activation> {
  const r = await svcdupRun(vm, [nativeExe(host.backend, 'svcdup-comclient.exe'), ...(hold ? ['--hold', String(hold)] : [])]);
  expect(r.code, `comclient ${vm ?? 'on the host'}: ${r.stderr}`).toBe(0);
  const a = JSON.parse(r.stdout) as Activation;
  expect(a.serverPid).toBeGreaterThan(0);
  expect(a.serverPid).not.toBe(a.clientPid);
  return a;
}

const processes = (): Promise<ProcessInfo[]> => host.backend.call('proc.list', {});
const inVms = (vm?: string) => cliJson<VmProcess[]>(['ps', ...(vm ? ['--vm', vm] : [])]);

let before: { services: unknown; classes: string[] };

beforeAll(async () => {
  host = await openTestHost('com');
  const b = host.backend;
  before = {
    services: await b.call('reg.export', { key: SERVICES }),
    classes: (await b.call('reg.query', { key: CLASSES })).subkeys,
  };
  // The class, registered on the host like any EXE server; combase appends " -Embedding".
  // The server outlives its last object by 60 s, so later activations meet it again.
  await b.call('reg.set', { key: CLSID_KEY, name: '', type: 'REG_SZ', data: 'svcdup COM local-server test' });
  await b.call('reg.set', {
    key: `${CLSID_KEY}\\LocalServer32`,
    name: '',
    type: 'REG_SZ',
    data: `"${nativeExe(b, 'svcdup-comserver.exe')}" --linger 60 --max 300`,
  });
  // VM v1 with its own RpcSs: its epmapper, irot and irpcss are private to it.
  expect(cli(['vm', 'create', 'v1']).status).toBe(0);
  const dup = cliJson<{ status: { state: string } }>(['dup', 'RpcSs', '--vm', 'v1', '--start']);
  expect(dup.status.state).toBe('RUNNING');
  await b.close();
});

afterAll(async () => {
  // normally done by the last test already; the prefix goes with the home anyway
  await win32Code(host?.backend.call('reg.deleteKey', { key: CLSID_KEY }));
  await host?.dispose();
});

describe('COM local server activation', () => {
  let hostServer: Activation;
  let vmServer: Activation;

  it('on the host, the client reaches a server in a host process', async () => {
    hostServer = await activate(undefined);
    const proc = (await processes()).find((p) => p.pid === hostServer.serverPid);
    expect(proc?.image.toLowerCase()).toBe('svcdup-comserver.exe');
    // combase started it from the client
    expect(proc?.ppid).toBe(hostServer.clientPid);
    expect(inVms().some((p) => p.pid === hostServer.serverPid)).toBe(false);
    // a second host client meets the same server (REGCLS_MULTIPLEUSE, registered with the host's RpcSs)
    expect((await activate(undefined)).serverPid).toBe(hostServer.serverPid);
  });

  it('in a VM with its own RpcSs, the client reaches a server started in the VM', async () => {
    vmServer = await activate('v1');
    expect(vmServer.serverPid).not.toBe(hostServer.serverPid);
    const listed = inVms('v1').find((p) => p.pid === vmServer.serverPid);
    expect(listed, JSON.stringify(inVms())).toMatchObject({ vm: 'v1', ppid: vmServer.clientPid });
    expect(listed?.image.toLowerCase()).toBe('svcdup-comserver.exe');
    // registered with the VM's RpcSs: the next VM client meets it again
    expect((await activate('v1')).serverPid).toBe(vmServer.serverPid);
  });

  it('at the same time, host clients still reach the host server and VM clients the VM one', async () => {
    // both hold their object for 2 s, so the two activations and both servers overlap
    const [onHost, inVm1] = await Promise.all([activate(undefined, 2), activate('v1', 2)]);
    expect(onHost.serverPid).toBe(hostServer.serverPid);
    expect(inVm1.serverPid).toBe(vmServer.serverPid);
    const pids = (await processes()).map((p) => p.pid);
    expect(pids).toContain(hostServer.serverPid);
    expect(pids).toContain(vmServer.serverPid);
    expect(inVms('v1').map((p) => p.pid)).toContain(vmServer.serverPid);
  });

  it("a VM that shares the host's RpcSs gets the host's registration, reachable only where the policy opens apartments", async () => {
    // v2: no RpcSs of its own, default policy. The host's RpcSs hands out the host server's
    // class factory, whose apartment endpoint (ncalrpc \pipe\OLE_<pid><tid>, on Wine the pipe
    // lrpc\pipe\OLE_...) the hook renames for the VM client: RPC_S_SERVER_UNAVAILABLE.
    expect(cli(['vm', 'create', 'v2']).status).toBe(0);
    const refused = await svcdupRun('v2', [nativeExe(host.backend, 'svcdup-comclient.exe')]);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stderr)).toEqual({ error: 'CoCreateInstance', hr: '0x800706ba' });
    // v3: the same, with the COM apartments shared by policy: the host server serves it
    const policy = join(host.paths.home, 'com-shared.json');
    writeFileSync(policy, JSON.stringify({ version: 1, open: { pipes: ['lrpc\\pipe\\OLE_*'] } }));
    expect(cli(['vm', 'create', 'v3', '--policy', policy]).status).toBe(0);
    expect((await activate('v3')).serverPid).toBe(hostServer.serverPid);
    for (const vm of ['v2', 'v3']) expect(cli(['vm', 'rm', vm]).status).toBe(0);
  });

  it('vm rm ends the VM server; the host server and registry are as before once the class is removed', async () => {
    const r = cli(['vm', 'rm', 'v1']);
    expect(r.status, r.stderr).toBe(0);
    expect((await processes()).some((p) => p.pid === vmServer.serverPid)).toBe(false);
    expect((await activate(undefined)).serverPid).toBe(hostServer.serverPid);
    await host.backend.call('proc.kill', { pid: hostServer.serverPid });
    await host.backend.call('reg.deleteKey', { key: CLSID_KEY });
    expect(await win32Code(host.backend.call('reg.query', { key: CLSID_KEY }))).toBe(2);
    expect((await host.backend.call('reg.query', { key: CLASSES })).subkeys).toEqual(before.classes);
    expect(await host.backend.call('reg.export', { key: SERVICES })).toEqual(before.services);
    expect(await win32Code(host.backend.call('reg.query', { key: 'HKLM\\SOFTWARE\\svcdup' }))).toBe(2);
    expect((await host.backend.call('scm.status', { name: 'RpcSs' })).state).toBe('RUNNING');
  });
});
