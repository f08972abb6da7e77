// VMs end to end: real processes under Wine, in a private prefix (docs/vm.md).
// Each scenario starts servers on the host and in VMs under one name, then asks
// from each side who answered.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecResult } from '../src/backend/types.js';
import { openDb, type Db } from '../src/state/db.js';
import { dbVmStore } from '../src/vm/store.js';
import { Vms } from '../src/vm/ops.js';
import { nativeExe, openTestHost, type TestHost } from './helpers.js';

let host: TestHost;
let db: Db;
let vms: Vms;
const exe = (n: string) => (n.startsWith('vt-') ? nativeExe(host.backend, n) : n);
// Wine's consoles write CRLF: compare lines without the CR
const lf = (r: ExecResult): ExecResult => ({ ...r, stdout: r.stdout.replace(/\r\n/g, '\n') });
const onHost = async (argv: string[]) => lf(await host.backend.exec([exe(argv[0]!), ...argv.slice(1)]));
const inVm = async (vm: string, argv: string[]) => lf(await vms.run(vm, [exe(argv[0]!), ...argv.slice(1)]));
const pidOf = (r: ExecResult, word: string) => Number(new RegExp(`${word} pid=(\\d+)`).exec(r.stdout)?.[1]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function retry(fn: () => Promise<ExecResult>, ok: (r: ExecResult) => boolean, tries = 10): Promise<ExecResult> {
  let r = await fn();
  for (let i = 1; i < tries && !ok(r); i++) {
    await sleep(500);
    r = await fn();
  }
  return r;
}

beforeAll(async () => {
  host = await openTestHost('vm');
  db = openDb(host.paths.stateDb);
  vms = new Vms(host.backend, dbVmStore(db));
  const policy = join(host.paths.home, 'policy-c.json');
  writeFileSync(policy, JSON.stringify({ open: { pipes: ['shared-*'] }, closed: { pipes: ['secret-*'], objects: ['forbidden*'] } }));
  await vms.create('a');
  await vms.create('b');
  await vms.create('c', policy);
});
afterAll(async () => {
  db?.close();
  await host?.dispose();
});

describe('named objects', () => {
  it('a Global\\ singleton runs at once on the host and in 3 VMs, and reports the name it used', async () => {
    // held 15 s and asked for up to ~15 s: a loaded machine can take seconds to start a VM process
    const holders = [
      onHost(['vt-mutex.exe', 'single', '15']),
      inVm('a', ['vt-mutex.exe', 'single', '15']),
      inVm('b', ['vt-mutex.exe', 'single', '15']),
      inVm('c', ['vt-mutex.exe', 'single', '15']),
    ];
    // a second copy in VM a finds its VM's singleton, once the holder there has made it (a
    // probe that only opens it: a second copy started first would take the name itself)
    const made = await retry(
      () => inVm('a', ['vt-mutex.exe', 'single', 'open']),
      (r) => r.code === 3,
      30,
    );
    expect(made.code, `VM a's holder never made the mutex: ${made.stdout.trim()}`).toBe(3);
    const second = await inVm('a', ['vt-mutex.exe', 'single', '0']);
    const results = await Promise.all(holders);
    // what each holder said, for a failure's message
    const said = results.map((r, i) => `${['host', 'a', 'b', 'c'][i]}: ${r.code} ${r.stdout.trim()} ${r.stderr.trim()}`).join('; ');
    expect(second.code, `second copy in a: ${second.code} ${second.stdout.trim()} ${second.stderr.trim()}; holders: ${said}`).toBe(3);
    for (const r of results) {
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^owner pid=\d+ name=\\BaseNamedObjects\\single$/m);
    }
  });

  it('a named section (shared memory) is per VM', async () => {
    const writers = [onHost(['vt-section.exe', 'writer', 'shm', '6']), inVm('a', ['vt-section.exe', 'writer', 'shm', '6'])];
    const readHost = await retry(
      () => onHost(['vt-section.exe', 'reader', 'shm']),
      (r) => r.code === 0,
    );
    const readA = await retry(
      () => inVm('a', ['vt-section.exe', 'reader', 'shm']),
      (r) => r.code === 0,
    );
    const readB = await inVm('b', ['vt-section.exe', 'reader', 'shm']);
    const [wHost, wA] = await Promise.all(writers);
    expect(pidOf(readHost, 'writer')).toBe(pidOf(wHost!, 'writing'));
    expect(pidOf(readA, 'writer')).toBe(pidOf(wA!, 'writing'));
    expect(pidOf(wA!, 'writing')).not.toBe(pidOf(wHost!, 'writing'));
    expect(readB.stdout).toMatch(/^error 2$/m); // no writer in VM b
  });
});

describe('IPC endpoints', () => {
  it('a named-pipe server on the host and in 2 VMs share one name; each client reaches its own', async () => {
    const servers = [
      onHost(['vt-pipe.exe', 'server', 'pidpipe', '8']),
      inVm('a', ['vt-pipe.exe', 'server', 'pidpipe', '8']),
      inVm('b', ['vt-pipe.exe', 'server', 'pidpipe', '8']),
    ];
    // WaitNamedPipe fails at once while the pipe does not exist yet: retry until the servers are up
    const ok = (r: ExecResult) => r.code === 0;
    const cHost = await retry(() => onHost(['vt-pipe.exe', 'client', 'pidpipe']), ok);
    const cA = await retry(() => inVm('a', ['vt-pipe.exe', 'client', 'pidpipe']), ok);
    const cB = await retry(() => inVm('b', ['vt-pipe.exe', 'call', 'pidpipe']), ok); // CallNamedPipe: the FSCTL_PIPE_WAIT path
    const cC = await inVm('c', ['vt-pipe.exe', 'client', 'pidpipe']);
    const [sHost, sA, sB] = await Promise.all(servers);
    const pids = [pidOf(sHost!, 'listening'), pidOf(sA!, 'listening'), pidOf(sB!, 'listening')];
    expect(new Set(pids).size).toBe(3);
    expect([pidOf(cHost, 'server'), pidOf(cA, 'server'), pidOf(cB, 'server')]).toEqual(pids);
    expect(cC.stdout).toMatch(/^error 2$/m); // VM c has no such server
  });

  it('an RPC server over ncalrpc with one fixed endpoint, on the host and in 2 VMs', async () => {
    const servers = [
      onHost(['vt-rpc.exe', 'server', 'svcdup_vt_ep', '10']),
      inVm('a', ['vt-rpc.exe', 'server', 'svcdup_vt_ep', '10']),
      inVm('b', ['vt-rpc.exe', 'server', 'svcdup_vt_ep', '10']),
    ];
    const ok = (r: ExecResult) => r.code === 0;
    const cHost = await retry(() => onHost(['vt-rpc.exe', 'client', 'svcdup_vt_ep']), ok);
    const cA = await retry(() => inVm('a', ['vt-rpc.exe', 'client', 'svcdup_vt_ep']), ok);
    const cB = await retry(() => inVm('b', ['vt-rpc.exe', 'client', 'svcdup_vt_ep']), ok);
    const cC = await inVm('c', ['vt-rpc.exe', 'client', 'svcdup_vt_ep']);
    const [sHost, sA, sB] = await Promise.all(servers);
    const pids = [pidOf(sHost!, 'listening'), pidOf(sA!, 'listening'), pidOf(sB!, 'listening')];
    expect(new Set(pids).size).toBe(3);
    expect([pidOf(cHost, 'server'), pidOf(cA, 'server'), pidOf(cB, 'server')]).toEqual(pids);
    expect(cC.stdout).toMatch(/^error 1722$/m); // RPC_S_SERVER_UNAVAILABLE
  });
});

describe('policy and isolation', () => {
  it('an open-listed pipe reaches the host, a closed-listed name is denied, OpenProcess on a host pid fails', async () => {
    const servers = [onHost(['vt-pipe.exe', 'server', 'shared-1', '8']), onHost(['vt-pipe.exe', 'server', 'secret-1', '8'])];
    const open = await retry(
      () => inVm('c', ['vt-pipe.exe', 'client', 'shared-1']),
      (r) => r.code === 0,
    );
    const closed = await inVm('c', ['vt-pipe.exe', 'client', 'secret-1']);
    const closedObj = await inVm('c', ['vt-mutex.exe', 'forbidden-x', '0']);
    const renamed = await inVm('a', ['vt-pipe.exe', 'client', 'shared-1']); // not open in VM a
    const [sShared] = await Promise.all(servers);
    expect(pidOf(open, 'server')).toBe(pidOf(sShared!, 'listening'));
    expect(closed.stdout).toMatch(/^error 5$/m);
    expect(closedObj.stdout).toMatch(/^error 5$/m);
    expect(renamed.stdout).toMatch(/^error 2$/m);

    const hostPid = pidOf(sShared!, 'listening');
    const holder = onHost(['vt-mutex.exe', 'victim', '6']);
    const victim = await retry(
      async () => ({ code: 0, stdout: JSON.stringify(await host.backend.call('proc.list', {})), stderr: '' }),
      (r) => r.stdout.includes('vt-mutex.exe'),
    );
    const pid = (JSON.parse(victim.stdout) as { pid: number; image: string }[]).find((p) => p.image === 'vt-mutex.exe')!.pid;
    expect((await inVm('a', ['vt-openproc.exe', String(pid)])).stdout).toMatch(/^error 5$/m);
    expect((await onHost(['vt-openproc.exe', String(pid)])).stdout).toMatch(/^opened$/m);
    expect(hostPid).toBeGreaterThan(0);
    await holder;
  });

  it('a VM lists only its own processes', async () => {
    const holder = inVm('a', ['vt-mutex.exe', 'lister', '6']);
    await sleep(1500);
    const list = await inVm('a', ['vt-openproc.exe', 'list']);
    const images = list.stdout
      .trim()
      .split(/\r?\n/)
      .map((l) => l.split(' ')[1]);
    expect(images).toContain('vt-mutex.exe');
    expect(images).toContain('vt-openproc.exe');
    expect(images).not.toContain('services.exe');
    expect(images).not.toContain('svcdup-agent.exe');
    const hostList = await onHost(['vt-openproc.exe', 'list']);
    expect(hostList.stdout).toMatch(/services\.exe/);
    await holder;
  });

  it('a grandchild started through cmd /c start stays in the VM', async () => {
    // not awaited: the grandchild inherits our captured stdout, so the run completes when it exits
    const run = inVm('a', ['C:\\windows\\system32\\cmd.exe', '/c', 'start', exe('vt-mutex.exe'), 'grandchild', '6']);
    const ps = await retry(
      async () => ({ code: 0, stdout: JSON.stringify(await vms.ps('a')), stderr: '' }),
      (x) => x.stdout.includes('vt-mutex.exe'),
    );
    expect(JSON.parse(ps.stdout)).toContainEqual(expect.objectContaining({ image: 'vt-mutex.exe', vm: 'a' }));
    // its Global\grandchild lives in VM a: the host's name is still free
    expect((await onHost(['vt-mutex.exe', 'grandchild', '0'])).code).toBe(0);
    expect((await run).code).toBe(0);
  });

  it('the exit code of a VM program propagates', async () => {
    expect((await inVm('b', ['C:\\windows\\system32\\cmd.exe', '/c', 'exit', '7'])).code).toBe(7);
  });
});

describe('trace and removal', () => {
  it('trace streams every decision of the VM', async () => {
    const tracing = vms.trace('a', 6, {});
    await sleep(2000);
    await inVm('a', ['vt-pipe.exe', 'client', 'nobody-here']);
    await inVm('a', ['vt-openproc.exe', String((await host.backend.call('ping', {})).pid)]);
    const t = await tracing;
    const events = t.stdout
      .trim()
      .split(/\r?\n/)
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(events).toContainEqual(
      expect.objectContaining({ call: 'NtFsControlFile(FSCTL_PIPE_WAIT)', used: 'nobody-here', effective: 'svcdup.a.nobody-here', decision: 'renamed' }),
    );
    expect(events).toContainEqual(expect.objectContaining({ call: 'NtOpenProcess', decision: 'denied' }));
    expect(events[0]).toHaveProperty('time');
    expect(events[0]).toHaveProperty('pid');
  });

  it('vm rm ends every process of the VM and leaves no state', async () => {
    const running = inVm('b', ['vt-mutex.exe', 'doomed', '120']);
    const started = inVm('b', ['C:\\windows\\system32\\cmd.exe', '/c', 'start', exe('vt-mutex.exe'), 'doomed2', '120']);
    await retry(
      async () => ({ code: 0, stdout: JSON.stringify(await vms.ps('b')), stderr: '' }),
      (x) => (JSON.parse(x.stdout) as unknown[]).length >= 2,
    );
    const r = await vms.remove('b');
    expect(r.killed).toBeGreaterThanOrEqual(2);
    expect((await running).code).not.toBe(0);
    await started;
    expect((await vms.ps()).filter((p) => p.vm === 'b')).toEqual([]);
    expect(vms.store.get('b')).toBeUndefined();
    expect((await import('node:fs')).existsSync(vms.dir('b'))).toBe(false);
    // the VM's named objects died with its processes: a new VM b starts clean
    await vms.create('b');
    expect((await inVm('b', ['vt-mutex.exe', 'doomed', '0'])).code).toBe(0);
  });
});
