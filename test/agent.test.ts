// svcdup-agent.exe and the test services under real Wine: every op of the protocol,
// the JSON edge cases, and the Wine 8 behaviour the rest of svcdup builds on.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WineBackend } from '../src/backend/wine.js';
import type { RegTree, RegValue, ServiceStatus } from '../src/backend/types.js';
import { AgentError } from '../src/errors.js';
import { nativeExe, openTestHost, type TestHost } from './helpers.js';

let host: TestHost;
const call: TestHost['backend']['call'] = (op, params) => host.backend.call(op, params);

beforeAll(async () => {
  host = await openTestHost('agent');
});

afterAll(async () => {
  await host?.dispose();
});

/** The AgentError a call rejects with. */
async function failure(p: Promise<unknown>): Promise<AgentError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AgentError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls scm.status until pred holds (services start and stop asynchronously). */
async function waitStatus(name: string, pred: (s: ServiceStatus) => boolean, ms = 15_000): Promise<ServiceStatus> {
  const end = Date.now() + ms;
  for (;;) {
    const s = await call('scm.status', { name });
    if (pred(s) || Date.now() > end) return s;
    await sleep(100);
  }
}

/** Runs svcdup-pipecall inside the prefix against the test services' pipe. */
async function pipeCall(message = 'hi'): Promise<{ pid: number; service: string; greeting: string; startedAt: number; lastControl: number; args: string[] }> {
  const r = await host.backend.exec([nativeExe(host.backend, 'svcdup-pipecall.exe'), 'svcdup-testsvc', message], { timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

const svcKey = (name: string) => `HKLM\\SYSTEM\\CurrentControlSet\\Services\\${name}`;

describe('ping and errors', () => {
  it('reports Wine and its version', async () => {
    const info = await call('ping', {});
    expect(info.wine).toBe(true);
    expect(info.wineVersion).toMatch(/^\d+\.\d+/);
    expect(info.arch).toBe('x64');
    expect(info.pid).toBeGreaterThan(0);
    expect(info.windowsVersion).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('fails with the Win32 code, the system message and the op', async () => {
    const e = await failure(call('reg.get', { key: 'HKLM\\SOFTWARE\\svcdup-no-such-key', name: 'x' }));
    expect(e.code).toBe(2);
    expect(e.op).toBe('reg.get');
    expect(e.winMessage).toBe('File not found.'); // Wine's text for ERROR_FILE_NOT_FOUND
    const s = await failure(call('scm.status', { name: 'svcdup-no-such-service' }));
    expect(s.code).toBe(1060);
    expect(s.winMessage).toBe('Service does not exist.');
    const p = await failure(call('reg.get', { key: 'HKXX\\x', name: 'x' }));
    expect(p.code).toBe(87);
    expect(p.winMessage).toMatch(/param key/);
  });
});

describe('registry', () => {
  const base = 'HKCU\\Software\\svcdup-agent-test';
  const key = `${base}\\Schlüssel-日本-😀`;
  const values: RegValue[] = [
    { name: '', type: 'REG_SZ', data: 'the default value' },
    { name: 'sz-Ä😀', type: 'REG_SZ', data: 'Dienst-ÄÖÜ-日本 😀 with \u0000 inside and a lone \ud800' },
    { name: 'empty', type: 'REG_SZ', data: '' },
    { name: 'expand', type: 'REG_EXPAND_SZ', data: '%SystemRoot%\\system32' },
    { name: 'link', type: 'REG_LINK', data: '\\Registry\\Machine\\Software\\X' },
    { name: 'multi', type: 'REG_MULTI_SZ', data: ['a', 'Ö', '日本', ''] },
    { name: 'multi-empty', type: 'REG_MULTI_SZ', data: [] },
    { name: 'dword', type: 'REG_DWORD', data: 4294967295 },
    { name: 'dword0', type: 'REG_DWORD', data: 0 },
    { name: 'big-endian', type: 'REG_DWORD_BIG_ENDIAN', data: 0x12345678 },
    { name: 'qword', type: 'REG_QWORD', data: '18446744073709551615' },
    { name: 'binary', type: 'REG_BINARY', data: '00ff10ab' },
    { name: 'none', type: 'REG_NONE', data: '' },
    { name: 'resources', type: 'REG_RESOURCE_LIST', data: '0102' },
    { name: 'full', type: 'REG_FULL_RESOURCE_DESCRIPTOR', data: '03' },
    { name: 'requirements', type: 'REG_RESOURCE_REQUIREMENTS_LIST', data: '04' },
    { name: '\udc00 lone surrogate name', type: 'REG_DWORD', data: 1 },
  ];

  it('creates keys and reports whether they were new', async () => {
    expect(await call('reg.createKey', { key })).toEqual({ created: true });
    expect(await call('reg.createKey', { key })).toEqual({ created: false });
  });

  it('round-trips every value type, non-ASCII names included', async () => {
    for (const v of values) await call('reg.set', { key, ...v });
    for (const v of values) expect(await call('reg.get', { key, name: v.name })).toEqual(v);
    const q = await call('reg.query', { key });
    const byName = (a: RegValue, b: RegValue) => (a.name < b.name ? -1 : 1);
    expect([...q.values].sort(byName)).toEqual([...values].sort(byName));
    expect(q.subkeys).toEqual([]);
  });

  it('normalizes what the type allows: negative DWORDs, uppercase hex, QWORD numbers', async () => {
    await call('reg.set', { key, name: 'n', type: 'REG_DWORD', data: -1 });
    expect((await call('reg.get', { key, name: 'n' })).data).toBe(4294967295);
    await call('reg.set', { key, name: 'n', type: 'REG_BINARY', data: 'ABCDEF' });
    expect((await call('reg.get', { key, name: 'n' })).data).toBe('abcdef');
    await call('reg.deleteValue', { key, name: 'n' });
  });

  it('rejects data that does not fit the type, naming the param', async () => {
    const bad = [
      { type: 'REG_DWORD', data: 1.5 },
      { type: 'REG_DWORD', data: 4294967296 },
      { type: 'REG_BINARY', data: 'abc' },
      { type: 'REG_BINARY', data: 'zz' },
      { type: 'REG_QWORD', data: '18446744073709551616' },
      { type: 'REG_MULTI_SZ', data: 'not an array' },
    ];
    for (const b of bad) {
      const e = await failure(call('reg.set', { key, name: 'bad', ...b } as never));
      expect(e.code, JSON.stringify(b)).toBe(87);
      expect(e.winMessage).toMatch(/param data/);
    }
    const t = await failure(call('reg.set', { key, name: 'bad', type: 'REG_FOO', data: '' } as never));
    expect(t.winMessage).toMatch(/param type/);
    expect((await failure(call('reg.get', { key, name: 'bad' }))).code).toBe(2);
  });

  it('reg.set creates missing keys; export and copyTree keep the whole tree exactly', async () => {
    await call('reg.set', { key: `${key}\\sub\\deeper`, name: 'v', type: 'REG_DWORD', data: 7 });
    const tree = await call('reg.export', { key });
    expect(tree.name).toBe('Schlüssel-日本-😀');
    expect(tree.values).toHaveLength(values.length);
    expect(tree.subkeys).toEqual([
      { name: 'sub', values: [], subkeys: [{ name: 'deeper', values: [{ name: 'v', type: 'REG_DWORD', data: 7 }], subkeys: [] }] },
    ]);

    const copy = `${base}\\copy`;
    await call('reg.copyTree', { from: key, to: copy });
    const copied: RegTree = await call('reg.export', { key: copy });
    expect({ ...copied, name: tree.name }).toEqual(tree);

    // into itself would never end; from a missing key is "not found"
    expect((await failure(call('reg.copyTree', { from: key, to: `${key}\\sub\\x` }))).code).toBe(87);
    expect((await failure(call('reg.copyTree', { from: `${base}\\missing`, to: `${base}\\x` }))).code).toBe(2);
  });

  it("creates a key with a class (its missing ancestors without), which reg.set keeps; reports a key's last write time", async () => {
    const k = `${base}\\cls\\deep`;
    expect(await call('reg.createKey', { key: k, class: 'svcdup.opaque' })).toEqual({ created: true });
    await call('reg.set', { key: k, name: 'v', type: 'REG_SZ', data: '1' });
    // opening an existing key does not change its class
    expect(await call('reg.createKey', { key: k, class: 'other' })).toEqual({ created: false });
    const t = await call('reg.export', { key: `${base}\\cls` });
    expect(t.class).toBeUndefined();
    expect(t.subkeys).toEqual([{ name: 'deep', class: 'svcdup.opaque', values: [{ name: 'v', type: 'REG_SZ', data: '1' }], subkeys: [] }]);
    const first = (await call('reg.query', { key: k })).written!;
    expect(Math.abs(first - Date.now())).toBeLessThan(60_000);
    await new Promise((r) => setTimeout(r, 20));
    // the same data again is no write (Wine skips it); new data is
    await call('reg.set', { key: k, name: 'v', type: 'REG_SZ', data: '1' });
    expect((await call('reg.query', { key: k })).written).toBe(first);
    await call('reg.set', { key: k, name: 'v', type: 'REG_SZ', data: '2' });
    expect((await call('reg.query', { key: k })).written!).toBeGreaterThan(first);
    await call('reg.deleteKey', { key: `${base}\\cls` });
  });

  it('deletes values and whole trees', async () => {
    await call('reg.deleteValue', { key, name: 'dword' });
    expect((await failure(call('reg.deleteValue', { key, name: 'dword' }))).code).toBe(2);
    await call('reg.deleteKey', { key: base });
    expect((await failure(call('reg.query', { key: base }))).code).toBe(2);
    expect((await failure(call('reg.deleteKey', { key: base }))).code).toBe(2);
    expect((await failure(call('reg.deleteKey', { key: 'HKCU' }))).code).toBe(87);
  });

  it('names the subkey an export failed at (Wine: Perflib\\009 is a pseudo-key that cannot be enumerated)', async () => {
    const e = await failure(call('reg.export', { key: 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion' }));
    expect(e.code).toBe(6);
    expect(e.winMessage).toBe('Invalid handle. (at subkey Perflib\\009)');
  });

  it('carries a 4 MB binary value', async () => {
    const data = 'a5'.repeat(4 * 1024 * 1024);
    await call('reg.set', { key: base, name: 'big', type: 'REG_BINARY', data });
    expect((await call('reg.get', { key: base, name: 'big' })).data).toBe(data);
    await call('reg.deleteKey', { key: base });
  });
});

describe('raw protocol', () => {
  let child: ChildProcessWithoutNullStreams;
  let buffer = '';
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];

  beforeAll(async () => {
    await host.backend.open();
    const wine = host.backend as unknown as WineBackend;
    child = spawn(wine.wine.loader, [nativeExe(host.backend, 'svcdup-agent.exe')], { env: wine.env(), stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffer += d;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const w = waiters.shift();
        if (w) w(line);
        else lines.push(line);
      }
    });
  });

  afterAll(() => {
    child?.kill();
  });

  function send(bytes: string | Buffer): Promise<{ id: unknown; ok: boolean; result?: any; error?: { op: string; code: number; message: string } }> {
    child.stdin.write(bytes);
    return new Promise((resolve) => {
      const got = (l: string) => resolve(JSON.parse(l));
      const l = lines.shift();
      if (l !== undefined) got(l);
      else waiters.push(got);
    });
  }

  it('answers malformed lines with code 13 and keeps going', async () => {
    expect(await send('this is not json\n')).toEqual({
      id: null,
      ok: false,
      error: { op: 'parse', code: 13, message: 'Invalid data. (unexpected character)' },
    });
    expect((await send(Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x0a]))).error?.code).toBe(13);
    child.stdin.write('{"id":1,"op":'); // a request split over two writes is still one line
    expect(await send('"ping"}\n')).toMatchObject({ id: 1, ok: true, result: { wine: true } });
    expect((await send('[1,2]\n')).error?.message).toMatch(/not an object/);
    expect((await send('{"id":2}\n')).error).toEqual({ op: 'parse', code: 13, message: 'Invalid data. (missing op)' });
    expect((await send('['.repeat(100_000) + '\n')).error?.message).toMatch(/nested too deeply/);
    expect((await send('{"id":3,"op":"nope"}\n')).error).toEqual({ op: 'nope', code: 50, message: 'Request not supported. (unknown op)' });
    expect((await send('{"id":4,"op":"ping","params":[]}\n')).error?.code).toBe(87);
  });

  it('echoes ids as sent, accepts CRLF and skips blank lines', async () => {
    const r = await send('\n \r\n{"id":"abc","op":"ping","params":null}\r\n');
    expect(r.id).toBe('abc');
    expect(r.ok).toBe(true);
    expect((await send('{"id":12345678901,"op":"ping"}\n')).id).toBe(12345678901);
  });

  it('decodes \\u escapes and surrogate pairs, and answers in UTF-8', async () => {
    // JSON text: HKCU\\Software\\svcdup-raw-\u00c4\u65e5\ud83d\ude00
    const key = 'HKCU\\\\Software\\\\svcdup-raw-\\u00c4\\u65e5\\ud83d\\ude00';
    expect((await send(`{"id":5,"op":"reg.set","params":{"key":"${key}","name":"v","type":"REG_SZ","data":"\\u00e9\\ud83d\\ude00"}}\n`)).ok).toBe(true);
    const r = await send('{"id":6,"op":"reg.query","params":{"key":"HKCU\\\\Software\\\\svcdup-raw-Ä日😀"}}\n');
    expect(r.result).toEqual({ written: expect.any(Number), values: [{ name: 'v', type: 'REG_SZ', data: 'é😀' }], subkeys: [] });
    expect((await send('{"id":7,"op":"reg.deleteKey","params":{"key":"HKCU\\\\Software\\\\svcdup-raw-Ä日😀"}}\n')).ok).toBe(true);
  });

  it('keeps types outside the list as REG_TYPE_<n>, hex data', async () => {
    const k = 'HKCU\\\\Software\\\\svcdup-raw-type';
    expect((await send(`{"id":11,"op":"reg.set","params":{"key":"${k}","name":"v","type":"REG_TYPE_131073","data":"beef"}}\n`)).ok).toBe(true);
    expect((await send(`{"id":12,"op":"reg.get","params":{"key":"${k}","name":"v"}}\n`)).result).toEqual({ name: 'v', type: 'REG_TYPE_131073', data: 'beef' });
    expect((await send(`{"id":13,"op":"reg.deleteKey","params":{"key":"${k}"}}\n`)).ok).toBe(true);
  });

  it('survives a line longer than its 64 MiB limit', async () => {
    const r = await send('{"id":8,"op":"ping","pad":"' + 'x'.repeat(65 * 1024 * 1024) + '"}\n');
    expect(r.error).toEqual({ op: 'parse', code: 13, message: 'Invalid data. (request line too long)' });
    expect((await send('{"id":9,"op":"ping"}\n')).ok).toBe(true);
  });

  it('exits on the exit op', async () => {
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    expect(await send('{"id":10,"op":"exit"}\n')).toEqual({ id: 10, ok: true, result: {} });
    expect(await exited).toBe(0);
  });
});

describe('SCM with the test services', () => {
  const name = 'Dienst-ÄÖÜ-日本-😀';
  let image: string;

  beforeAll(() => {
    image = nativeExe(host.backend, 'svcdup-testsvc.exe');
  });

  it('lists Win32 services and drivers in every state', async () => {
    const all = await call('scm.list', {});
    const http = all.find((s) => s.name === 'HTTP');
    expect(http).toMatchObject({ type: 1, displayName: 'HTTP' });
    expect(all.find((s) => s.name === 'RpcSs')?.type).toBe(0x20);
    expect(all.some((s) => s.state === 'STOPPED')).toBe(true);
    expect(all.some((s) => s.state === 'RUNNING')).toBe(true);
  });

  it('reads svchost services: ServiceDll from Parameters and the -k group', async () => {
    const bits = await call('scm.config', { name: 'bits' });
    expect(bits).toMatchObject({
      name: 'BITS',
      imagePath: 'C:\\windows\\system32\\svchost.exe -k netsvcs',
      svchostGroup: 'netsvcs',
      serviceDll: 'C:\\windows\\system32\\qmgr.dll',
    });
    const rpcss = await call('scm.config', { name: 'RpcSs' });
    expect(rpcss.serviceDll).toBeUndefined();
    expect(rpcss.svchostGroup).toBeUndefined();
  });

  it('creates a service with a non-ASCII name and reads its config back', async () => {
    await call('scm.create', {
      name,
      displayName: 'Anzeige ÄÖÜ 😀',
      imagePath: `${image} --name ${name}`,
      description: 'Beschreibung ü',
      dependOnService: ['RpcSs'],
      dependOnGroup: ['SomeGroup'],
    });
    expect(await call('scm.config', { name })).toEqual({
      name,
      displayName: 'Anzeige ÄÖÜ 😀',
      type: 0x10,
      start: 'DEMAND',
      errorControl: 1,
      imagePath: `${image} --name ${name}`,
      loadOrderGroup: '',
      account: 'LocalSystem',
      dependOnService: ['RpcSs'],
      dependOnGroup: ['SomeGroup'],
      description: 'Beschreibung ü',
    });
    expect((await failure(call('scm.create', { name, imagePath: image }))).code).toBe(1073);
  });

  it('changes only the fields given (dependencies survive, though Wine clears them on NULL)', async () => {
    await call('scm.change', { name, start: 'AUTO', description: 'neu' });
    let c = await call('scm.config', { name });
    expect(c).toMatchObject({ start: 'AUTO', description: 'neu', dependOnService: ['RpcSs'], dependOnGroup: ['SomeGroup'] });
    await call('scm.change', { name, dependOnGroup: [] });
    c = await call('scm.config', { name });
    expect(c).toMatchObject({ dependOnService: ['RpcSs'], dependOnGroup: [] });
    await call('scm.change', { name, start: 'DEMAND', dependOnService: [] });
    expect((await call('scm.config', { name })).dependOnService).toEqual([]);
  });

  it('starts with arguments, answers on its pipe, and follows pause, continue, custom codes and stop', async () => {
    await call('reg.set', { key: `${svcKey(name)}\\Parameters`, name: 'Greeting', type: 'REG_SZ', data: 'Grüß Gott 😀' });
    await call('scm.start', { name, args: ['eins', 'zwei drei', 'ü'] });
    // scm.wait waits out START_PENDING in the agent: the test service reports RUNNING from ServiceMain
    expect((await call('scm.wait', { name, ms: 10_000 })).state).toBe('RUNNING');
    const running = await waitStatus(name, (s) => s.state === 'RUNNING');
    expect(running).toMatchObject({ name, displayName: 'Anzeige ÄÖÜ 😀', type: 0x10, state: 'RUNNING', controlsAccepted: 0x0f, win32ExitCode: 0 });
    expect(running.pid).toBeGreaterThan(0);
    const procs = await call('proc.list', {});
    expect(procs.find((p) => p.pid === running.pid)?.image).toBe('svcdup-testsvc.exe');

    expect(await pipeCall()).toEqual({
      pid: running.pid,
      service: name,
      greeting: 'Grüß Gott 😀',
      startedAt: expect.any(Number),
      lastControl: 0,
      args: ['eins', 'zwei drei', 'ü'],
    });

    expect((await call('scm.control', { name, code: 2 })).state).toBe('PAUSED');
    expect((await call('scm.control', { name, code: 3 })).state).toBe('RUNNING');
    expect((await call('scm.control', { name, code: 200 })).state).toBe('RUNNING');
    expect((await call('scm.control', { name, code: 4 })).state).toBe('RUNNING'); // interrogate: not remembered
    expect((await pipeCall()).lastControl).toBe(200);
    // the greeting is read per request
    await call('reg.set', { key: `${svcKey(name)}\\Parameters`, name: 'Greeting', type: 'REG_SZ', data: 'servus' });
    expect((await pipeCall()).greeting).toBe('servus');

    expect((await failure(call('scm.start', { name }))).code).toBe(1056);
    const stopping = await call('scm.control', { name, code: 1 });
    expect(['STOP_PENDING', 'STOPPED']).toContain(stopping.state);
    const stopped = await waitStatus(name, (s) => s.state === 'STOPPED');
    expect(stopped).toMatchObject({ state: 'STOPPED', pid: 0, win32ExitCode: 0, serviceExitCode: 0 });
    // a service that is not START_PENDING: scm.wait answers at once
    const t = performance.now();
    expect((await call('scm.wait', { name, ms: 10_000 })).state).toBe('STOPPED');
    expect(performance.now() - t).toBeLessThan(5000);
    expect((await failure(call('scm.control', { name, code: 1 }))).code).toBe(1062);
  });

  it('a second copy collides on the singleton mutex: STOPPED with 1066 / 183', async () => {
    await call('scm.create', { name: 'svcdup-testsvc', imagePath: image });
    await call('scm.start', { name: 'svcdup-testsvc' });
    await waitStatus('svcdup-testsvc', (s) => s.state === 'RUNNING');
    await call('scm.start', { name });
    const second = await waitStatus(name, (s) => s.state === 'STOPPED');
    expect(second).toMatchObject({ state: 'STOPPED', win32ExitCode: 1066, serviceExitCode: 183 });
    // the pipe still answers from the first copy
    expect((await pipeCall()).service).toBe('svcdup-testsvc');
    await call('scm.control', { name: 'svcdup-testsvc', code: 1 });
    await waitStatus('svcdup-testsvc', (s) => s.state === 'STOPPED');
  });

  it('--exit-code N stops right after starting with 1066 / N', async () => {
    await call('scm.start', { name: 'svcdup-testsvc', args: ['--exit-code', '42'] });
    const s = await waitStatus('svcdup-testsvc', (st) => st.state === 'STOPPED');
    expect(s).toMatchObject({ state: 'STOPPED', win32ExitCode: 1066, serviceExitCode: 42 });
  });

  it('--crash: the process dies, but Wine 8 keeps reporting RUNNING with the dead pid', async () => {
    await call('scm.start', { name: 'svcdup-testsvc', args: ['--crash'] });
    const s = await waitStatus('svcdup-testsvc', (st) => st.state === 'RUNNING');
    expect(s.pid).toBeGreaterThan(0);
    const end = Date.now() + 10_000;
    while ((await call('proc.list', {})).some((p) => p.pid === s.pid) && Date.now() < end) await sleep(100);
    expect((await call('proc.list', {})).some((p) => p.pid === s.pid)).toBe(false);
    await sleep(1000);
    // Windows would say STOPPED with 1067 (ERROR_PROCESS_ABORTED); Wine's SCM never notices
    expect(await call('scm.status', { name: 'svcdup-testsvc' })).toMatchObject({ state: 'RUNNING', pid: s.pid });
    // ...but it lets the service start again, since its process handle is signalled
    await call('scm.start', { name: 'svcdup-testsvc' });
    const again = await waitStatus('svcdup-testsvc', (st) => st.state === 'RUNNING' && st.pid !== s.pid);
    expect(again.pid).not.toBe(s.pid);
    await call('proc.kill', { pid: again.pid, exitCode: 9 });
    const end2 = Date.now() + 10_000;
    while ((await call('proc.list', {})).some((p) => p.pid === again.pid) && Date.now() < end2) await sleep(100);
    expect((await call('proc.list', {})).some((p) => p.pid === again.pid)).toBe(false);
  });

  it('share-process entries: Wine runs each in its own process', async () => {
    const multi = nativeExe(host.backend, 'svcdup-testsvc-multi.exe');
    for (const n of ['svcdup-testsvc-a', 'svcdup-testsvc-b']) {
      await call('scm.create', { name: n, imagePath: multi, type: 0x20 });
      await call('scm.start', { name: n, args: [n.slice(-1)] });
    }
    const a = await waitStatus('svcdup-testsvc-a', (s) => s.state === 'RUNNING');
    const b = await waitStatus('svcdup-testsvc-b', (s) => s.state === 'RUNNING');
    expect(a).toMatchObject({ type: 0x20, state: 'RUNNING' });
    expect(b).toMatchObject({ type: 0x20, state: 'RUNNING' });
    expect(a.pid).not.toBe(b.pid);
    // both listen on the one pipe name; any instance answers, naming its service
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await pipeCall();
      expect(r.args).toEqual([r.service.slice(-1)]);
      seen.add(r.service);
    }
    expect([...seen].every((s) => s === 'svcdup-testsvc-a' || s === 'svcdup-testsvc-b')).toBe(true);
    for (const n of ['svcdup-testsvc-a', 'svcdup-testsvc-b']) {
      await call('scm.control', { name: n, code: 1 });
      await waitStatus(n, (s) => s.state === 'STOPPED');
      await call('scm.delete', { name: n });
    }
  });

  it('deletes services; a deleted service no longer exists', async () => {
    await call('scm.delete', { name });
    await call('scm.delete', { name: 'svcdup-testsvc' });
    expect((await failure(call('scm.status', { name }))).code).toBe(1060);
    expect((await failure(call('scm.delete', { name }))).code).toBe(1060);
    expect((await call('scm.list', {})).some((s) => s.name === name)).toBe(false);
  });
});

describe('concurrent requests', () => {
  it('a slow scm.start does not hold up requests issued after it: replies come as they finish, by id', async () => {
    const slow = 'svcdup-slowstart';
    // its image connects to the SCM 4 s after it starts, and Wine's StartService waits for that
    await call('scm.create', { name: slow, imagePath: `${nativeExe(host.backend, 'svcdup-testsvc.exe')} --name ${slow} --dispatch-delay 4000` });
    const order: string[] = [];
    const started = call('scm.start', { name: slow }).then(() => order.push('scm.start'));
    await sleep(500); // the start is under way in the agent
    const status = await call('scm.status', { name: slow });
    order.push('scm.status');
    const value = await call('reg.get', { key: svcKey(slow), name: 'ImagePath' });
    order.push('reg.get');
    expect(status.state).toBe('START_PENDING');
    expect(value.data).toMatch(/--dispatch-delay 4000/);
    await started;
    expect(order).toEqual(['scm.status', 'reg.get', 'scm.start']);
    expect((await waitStatus(slow, (s) => s.state !== 'START_PENDING')).state).toBe('RUNNING');
    await call('scm.control', { name: slow, code: 1 });
    expect((await waitStatus(slow, (s) => s.state === 'STOPPED')).state).toBe('STOPPED');
    await call('scm.delete', { name: slow });
  });
});
