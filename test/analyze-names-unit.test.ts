// svcdup analyze on binaries the project builds (native/tests/testbin), whose names are all known
// (native/tests/testbin/ana_names.h): every name must be found, and classified rightly.
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeBinary, analyzeFile, assess, type AnalyzeReport, type BinaryAnalysis, type NamedResource } from '../src/analyze/index.js';
import { anaNames, ensureTestbins, readBytes, testbin } from './fixtures/analyze/helpers.js';

const N = anaNames();
const str = (k: string): string => String(N[k]);

let svc: BinaryAnalysis;
let dll: BinaryAnalysis;
let plain: BinaryAnalysis;
let drv: BinaryAnalysis;

beforeAll(() => {
  ensureTestbins();
  svc = analyzeBinary(readBytes(testbin('ana-svc.exe')), { file: 'ana-svc.exe', knownServices: ['RpcSs'] });
  dll = analyzeBinary(readBytes(testbin('ana-svc.dll')), { file: 'ana-svc.dll' });
  plain = analyzeBinary(readBytes(testbin('ana-plain.exe')), { file: 'ana-plain.exe' });
  drv = analyzeBinary(readBytes(testbin('ana-drv.sys')), { file: 'ana-drv.sys' });
});

function named(b: BinaryAnalysis, category: NamedResource['category'], value: string): NamedResource {
  const r = b.names.find((n) => n.category === category && (n.value === value || n.name === value));
  if (!r) throw new Error(`${b.file}: no ${category} ${JSON.stringify(value)}; found ${b.names.map((n) => `${n.category}:${n.value}`).join(', ')}`);
  return r;
}

function issue(r: AnalyzeReport, id: number) {
  return r.issues.find((i) => i.id === id)!;
}

describe('ana-svc.exe: an own-process executable with two services', () => {
  it('is read as an x64 executable with its imports', () => {
    expect(svc.format).toMatchObject({ machine: 'x64', bits: 64, kind: 'exe', subsystem: 'windows-cui' });
    const dlls = svc.imports.map((d) => d.dll.toLowerCase());
    for (const d of ['advapi32.dll', 'rpcrt4.dll', 'httpapi.dll', 'ws2_32.dll', 'ole32.dll', 'kernel32.dll']) expect(dlls).toContain(d);
    const fns = svc.imports.flatMap((d) => d.functions);
    for (const f of ['StartServiceCtrlDispatcherW', 'RpcServerUseProtseqEpW', 'HttpAddUrl', 'CreateMutexW', 'CoRegisterClassObject']) expect(fns).toContain(f);
  });

  it('finds the dispatch table with its two entries and the control handler registrations', () => {
    expect(svc.service.dispatchTables).toHaveLength(1);
    const t = svc.service.dispatchTables[0]!;
    expect(t.method).toBe('static');
    expect(t.entries.map((e) => e.name)).toEqual([str('ANA_SVC_ONE'), str('ANA_SVC_TWO')]);
    expect(new Set(svc.service.controlHandlers.map((h) => h.name))).toEqual(new Set([str('ANA_SVC_ONE'), str('ANA_SVC_TWO')]));
  });

  it('finds the named kernel objects, UTF-16 and ASCII, with offsets', () => {
    const m = named(svc, 'kernel-object', str('ANA_MUTEX'));
    expect(m).toMatchObject({ name: 'SvcdupAnaMutex', role: 'creates', issues: [6] });
    expect(m.detail.scope).toBe('Global');
    const s = m.evidence.find((e) => e.source === 'string')!;
    expect(s.encoding).toBe('utf16');
    // the offset is where the string really is
    const bytes = readBytes(testbin('ana-svc.exe'));
    expect(Buffer.from(bytes.subarray(s.offset!, s.offset! + str('ANA_MUTEX').length * 2)).toString('utf16le')).toBe(str('ANA_MUTEX'));
    expect(m.evidence.some((e) => e.source === 'call' && e.text.startsWith('CreateMutexW('))).toBe(true);
    const a = named(svc, 'kernel-object', str('ANA_MUTEX_A'));
    expect(a.evidence.find((e) => e.source === 'string')!.encoding).toBe('ascii');
    expect(a.evidence.some((e) => e.text.startsWith('CreateMutexA('))).toBe(true);
    expect(named(svc, 'kernel-object', str('ANA_EVENT')).detail.scope).toBe('Local');
    expect(named(svc, 'kernel-object', str('ANA_SECTION')).issues).toEqual([6]);
  });

  it('finds the pipe, the mailslot and the RPC endpoint, as a server', () => {
    expect(named(svc, 'pipe', str('ANA_PIPE'))).toMatchObject({ name: 'svcdup-ana-pipe', role: 'serves', issues: [7] });
    expect(named(svc, 'mailslot', str('ANA_MAILSLOT'))).toMatchObject({ name: 'svcdup_ana_slot', role: 'serves', issues: [7] });
    expect(svc.rpc.server).toBe(true);
    expect(svc.rpc.endpoints).toContainEqual(expect.objectContaining({ protseq: str('ANA_LRPC_PROTSEQ'), endpoint: str('ANA_LRPC_ENDPOINT'), method: 'call' }));
    expect(named(svc, 'rpc-endpoint', `ncalrpc:${str('ANA_LRPC_ENDPOINT')}`).role).toBe('serves');
  });

  it('finds the TCP port passed to htons and the http.sys URL', () => {
    const p = named(svc, 'port', String(N.ANA_TCP_PORT));
    expect(p.issues).toContain(8);
    expect(p.evidence[0]!.text).toMatch(/^htons\(port 47123\)/);
    const u = named(svc, 'url', str('ANA_HTTP_URL'));
    expect(u).toMatchObject({ role: 'serves' });
    expect(u.detail).toMatchObject({ host: '+', port: 47124, httpSys: true });
    expect(u.issues).toEqual([8, 11]);
  });

  it('finds registry paths, telling reads from writes, and its own Services key', () => {
    const params = named(svc, 'registry', str('ANA_REG_PARAMS'));
    expect(params).toMatchObject({ role: 'reads', issues: [2] });
    expect(params.detail.service).toBe(str('ANA_SVC_ONE'));
    expect(named(svc, 'registry', str('ANA_REG_STATE'))).toMatchObject({ role: 'writes', issues: [2, 9] });
  });

  it('finds the COM class it registers, from the binary GUID passed to CoRegisterClassObject and the registry path', () => {
    const c = named(svc, 'com-class', str('ANA_CLSID_STR'));
    expect(c.role).toBe('serves');
    expect(c.issues).toEqual([7]);
    expect(c.evidence.some((e) => e.text.startsWith('CoRegisterClassObject('))).toBe(true);
    expect(svc.com.localServer).toBe(true);
    expect(svc.com.classes).toContainEqual(expect.objectContaining({ clsid: str('ANA_CLSID_STR'), role: 'serves' }));
  });

  it('finds the data file and the service it opens as a client', () => {
    expect(named(svc, 'file', str('ANA_LOG_FILE')).issues).toEqual([9]);
    expect(named(svc, 'service-name', str('ANA_CLIENT_SVC'))).toMatchObject({ role: 'opens', issues: [1, 12] });
  });

  it('assesses the twelve issues: duplicable with http.sys shared', async () => {
    const r = await analyzeFile(testbin('ana-svc.exe'));
    expect(r.schema).toBe('svcdup.analyze/1');
    expect(r.issues.map((i) => i.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const id of [1, 2, 3, 4, 6, 7, 8, 9, 10, 12]) expect(issue(r, id)).toMatchObject({ applies: 'yes', resolution: 'resolved' });
    expect(issue(r, 4).how).toMatch(/2 services/);
    expect(issue(r, 5)).toMatchObject({ applies: 'yes', resolution: 'shared' });
    expect(issue(r, 5).how).toMatch(/RpcSs/);
    expect(issue(r, 11)).toMatchObject({ applies: 'yes', resolution: 'shared' });
    expect(r.verdict.kind).toBe('duplicable-with-shared-dependencies');
    expect(r.verdict.shared.map((s) => s.name)).toEqual(['HTTP']);
    expect(r.trace).toBeNull();
  });
});

describe('ana-svc.dll: a svchost ServiceDll', () => {
  it('exports ServiceMain and registers its handler by name', () => {
    expect(dll.format.kind).toBe('dll');
    expect(dll.service.serviceMainExports).toContain('ServiceMain');
    expect(dll.service.controlHandlers.map((h) => h.name)).toEqual([str('ANA_DLL_SVC')]);
  });

  it('finds its mutex, its pipe, and both RPC endpoints', () => {
    expect(named(dll, 'kernel-object', str('ANA_DLL_MUTEX')).role).toBe('creates');
    expect(named(dll, 'pipe', str('ANA_DLL_PIPE')).role).toBe('serves');
    expect(dll.rpc.endpoints).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ protseq: 'ncacn_np', endpoint: str('ANA_NP_ENDPOINT'), method: 'call' }),
        expect.objectContaining({ protseq: 'ncacn_ip_tcp', endpoint: str('ANA_TCP_ENDPOINT'), method: 'call' }),
      ]),
    );
    // an ncacn_np endpoint is a pipe; an ncacn_ip_tcp endpoint is a port
    expect(named(dll, 'pipe', 'svcdup-ana-np').detail.rpc).toBe('ncacn_np');
    expect(named(dll, 'port', str('ANA_TCP_ENDPOINT')).issues).toContain(8);
    expect(named(dll, 'rpc-endpoint', `ncacn_ip_tcp:${str('ANA_TCP_ENDPOINT')}`).issues).toEqual([7, 8]);
  });

  it('reads the COM class its REGISTRY resource registers, and the version resource', () => {
    expect(dll.resources.entries.map((e) => e.type)).toEqual(expect.arrayContaining(['REGISTRY', 'RT_VERSION']));
    expect(dll.com.classes).toContainEqual(
      expect.objectContaining({
        clsid: '{9D2F6A41-3C8B-4E57-A1D0-7B64C2E9F813}',
        role: 'registered',
        name: 'Svcdup Analyze Test Class',
        servers: ['InprocServer32'],
      }),
    );
    // an in-process class collides in the registry, not as an endpoint
    expect(named(dll, 'com-class', '{9D2F6A41-3C8B-4E57-A1D0-7B64C2E9F813}').issues).toEqual([2]);
  });

  it('is hosted by svchost: issue 4 applies', () => {
    const r = assess({ target: { input: 'ana-svc.dll', kind: 'file' }, binary: dll });
    expect(issue(r, 4).applies).toBe('yes');
    expect(issue(r, 4).how).toMatch(/svchost -k/);
    expect(issue(r, 5).how).toMatch(/RpcSs|no dependencies/);
    expect(r.verdict.kind).toBe('duplicable');
  });
});

describe('ana-plain.exe: a service with nothing to collide on', () => {
  it('has one dispatch entry, built on the stack', () => {
    expect(plain.service.dispatchTables).toHaveLength(1);
    expect(plain.service.dispatchTables[0]).toMatchObject({ method: 'stack', entries: [expect.objectContaining({ name: 'SvcdupAnaPlain' })] });
  });

  it('names nothing but itself, and only the issues every service has apply', () => {
    expect(plain.names.map((n) => n.category)).toEqual(['service-name']);
    const r = assess({ target: { input: 'ana-plain.exe', kind: 'file' }, binary: plain });
    const applying = r.issues.filter((i) => i.applies !== 'no').map((i) => i.id);
    expect(applying).toEqual([1, 2, 3]);
    // its one CreateEvent passes a NULL name: no named objects
    expect(plain.calls).toContainEqual(expect.objectContaining({ api: 'CreateEventW', args: [{ role: 'object name', value: null }] }));
    expect(issue(r, 6).applies).toBe('no');
    expect(r.verdict.kind).toBe('duplicable');
  });
});

describe('ana-drv.sys: a kernel driver', () => {
  it('is a driver with its device names', () => {
    expect(drv.format).toMatchObject({ kind: 'driver', subsystem: 'native' });
    expect(drv.imports.map((d) => d.dll)).toEqual(['ntoskrnl.exe']);
    expect(named(drv, 'device', str('ANA_DEVICE')).issues).toEqual([11]);
    expect(named(drv, 'device', 'SvcdupAnaDev').detail.kind).toBe('dos-device');
  });

  it('is not duplicable from user mode', () => {
    const r = assess({ target: { input: 'ana-drv.sys', kind: 'file' }, binary: drv });
    expect(r.verdict.kind).toBe('not-duplicable');
    expect(issue(r, 11)).toMatchObject({ applies: 'yes', resolution: 'not-resolvable' });
    expect(issue(r, 11).how).toMatch(/cannot be duplicated from user mode/);
    expect(issue(r, 3).applies).toBe('no');
  });
});

describe('ana-svc32.exe: the same executable as PE32', () => {
  it('finds the names from strings, and the dispatch table from data, without x64 call sites', async () => {
    const { existsSync } = await import('node:fs');
    if (!existsSync(testbin('ana-svc32.exe'))) return; // built only when i686-w64-mingw32-gcc is installed
    const b = analyzeBinary(readBytes(testbin('ana-svc32.exe')));
    expect(b.format).toMatchObject({ machine: 'x86', bits: 32 });
    expect(b.codeScan).toBe('not supported for this machine');
    expect(b.service.dispatchTables[0]).toMatchObject({ method: 'data-scan', entries: [{ name: str('ANA_SVC_ONE') }, { name: str('ANA_SVC_TWO') }] });
    for (const [cat, k] of [
      ['kernel-object', 'ANA_MUTEX'],
      ['pipe', 'ANA_PIPE'],
      ['mailslot', 'ANA_MAILSLOT'],
      ['url', 'ANA_HTTP_URL'],
      ['registry', 'ANA_REG_STATE'],
    ] as const)
      named(b, cat, str(k));
    expect(b.rpc.endpoints).toContainEqual(expect.objectContaining({ protseq: 'ncalrpc', endpoint: str('ANA_LRPC_ENDPOINT'), method: 'adjacent-string' }));
  });
});
