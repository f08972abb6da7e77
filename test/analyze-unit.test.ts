// The pure parts of svcdup analyze: string classification, .rgs scripts, service configuration
// (kind, image, svchost group, dependency closure, failure actions), the issue assessment on
// configurations, the I/O layer over a stand-in host, and the command line.
import { Command } from 'commander';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ServiceConfig } from '../src/backend/types.js';
import { registerAnalyzeCommand } from '../src/cli/analyze.js';
import { UsageError } from '../src/errors.js';
import {
  analyzeService,
  analyzeTarget,
  assess,
  classifyString,
  codeFileOf,
  closureOf,
  imageOf,
  looksLikeFile,
  parseFailureActions,
  parseRgsClasses,
  renderReport,
  serviceKind,
  svchostGroupOf,
  svchostInfo,
  TraceUnavailableError,
  type AnalyzeReport,
} from '../src/analyze/index.js';
import { ensureTestbins, fakeHost, testbin, testbinDir, serviceConfig } from './fixtures/analyze/helpers.js';

const cls = (s: string) => classifyString(s).map((c) => [c.category, c.name]);

describe('classifyString', () => {
  it.each([
    ['Global\\Foo', 'kernel-object', 'Foo'],
    ['Local\\Bar_%d', 'kernel-object', 'Bar_%d'],
    ['Session\\1\\Baz', 'kernel-object', 'Baz'],
    ['\\BaseNamedObjects\\Qux', 'kernel-object', 'Qux'],
    ['\\Sessions\\1\\BaseNamedObjects\\Global\\Q2', 'kernel-object', 'Q2'],
    ['\\\\.\\pipe\\mypipe', 'pipe', 'mypipe'],
    ['\\\\server\\pipe\\remote', 'pipe', 'remote'],
    ['\\Device\\NamedPipe\\np', 'pipe', 'np'],
    ['\\pipe\\epmapper', 'pipe', 'epmapper'],
    ['\\\\.\\mailslot\\slot', 'mailslot', 'slot'],
    ['\\\\*\\mailslot\\bcast', 'mailslot', 'bcast'],
    ['\\RPC Control\\myport', 'alpc-port', 'myport'],
    ['\\Device\\Http\\ReqQueue', 'device', '\\Device\\Http\\ReqQueue'],
    ['\\\\.\\PhysicalDrive0', 'device', 'PhysicalDrive0'],
    ['\\DosDevices\\COM1', 'device', 'COM1'],
    ['ncalrpc', 'rpc-protseq', 'ncalrpc'],
    ['ncacn_ip_tcp', 'rpc-protseq', 'ncacn_ip_tcp'],
    ['ncacn_np:server[\\pipe\\x]', 'rpc-binding', 'ncacn_np:server[\\pipe\\x]'],
    ['http://+:8080/app/', 'url', 'http://+:8080/app/'],
    ['0.0.0.0:8443', 'port', '8443'],
    ['HKEY_LOCAL_MACHINE\\SOFTWARE\\X', 'registry', 'HKEY_LOCAL_MACHINE\\SOFTWARE\\X'],
    ['SYSTEM\\CurrentControlSet\\Services\\Foo\\Parameters', 'registry', 'SYSTEM\\CurrentControlSet\\Services\\Foo\\Parameters'],
    ['C:\\ProgramData\\app\\app.log', 'file', 'C:\\ProgramData\\app\\app.log'],
    ['%SystemRoot%\\Tasks\\x.job', 'file', '%SystemRoot%\\Tasks\\x.job'],
  ])('%s is a %s', (s, category, name) => {
    expect(cls(s)[0]).toEqual([category, name]);
  });

  it.each(['hello world', 'Global', 'Global\\a\\b', 'GetProcAddress', '%s\\%s', 'ncalrpcx', 'https'])('%s names nothing', (s) => {
    expect(classifyString(s)).toEqual([]);
  });

  it('a CLSID key is a registry path and a COM class', () => {
    expect(cls('Software\\Classes\\CLSID\\{0f87369f-a4e5-4cfc-bd3e-73e6154572dd}\\LocalServer32')).toEqual([
      ['registry', 'Software\\Classes\\CLSID\\{0f87369f-a4e5-4cfc-bd3e-73e6154572dd}\\LocalServer32'],
      ['com-class', '{0F87369F-A4E5-4CFC-BD3E-73E6154572DD}'],
    ]);
  });

  it('a URL on a wildcard host is an http.sys reservation', () => {
    expect(classifyString('https://*:443/')[0]!.detail).toMatchObject({ scheme: 'https', host: '*', port: 443, httpSysReservation: true });
    expect(classifyString('http://www.winehq.org/')[0]!.detail.httpSysReservation).toBeUndefined();
  });
});

describe('parseRgsClasses', () => {
  it('reads the classes under CLSID with their servers and ProgId', () => {
    const rgs = `HKCR
{
    NoRemove Interface { }
    NoRemove CLSID
    {
        '{0F87369F-A4E5-4CFC-BD3E-73E6154572DD}' = s 'TaskScheduler'
        {
            InprocServer32 = s '%MODULE%' { val ThreadingModel = s 'Both' }
            ProgId = s 'Schedule.Service.1'
        }
        '{11111111-2222-3333-4444-555555555555}' = s 'Local one'
        {
            LocalServer32 = s '%MODULE%'
        }
    }
    'Schedule.Service.1' = s 'TaskScheduler' { CLSID = s '{0F87369F-A4E5-4CFC-BD3E-73E6154572DD}' }
}`;
    expect(parseRgsClasses(rgs)).toEqual([
      { clsid: '{0F87369F-A4E5-4CFC-BD3E-73E6154572DD}', name: 'TaskScheduler', servers: ['InprocServer32'], progId: 'Schedule.Service.1' },
      { clsid: '{11111111-2222-3333-4444-555555555555}', name: 'Local one', servers: ['LocalServer32'] },
    ]);
  });

  it('survives broken scripts', () => {
    expect(parseRgsClasses('HKCR { CLSID { {{{ = = } } } } } } }')).toEqual([]);
    expect(parseRgsClasses("CLSID { '{0F87369F-A4E5-4CFC-BD3E-73E6154572DD}' = s 'x' {")).toHaveLength(1);
    expect(parseRgsClasses('{'.repeat(10000))).toEqual([]);
  });
});

const cfg = (c: Partial<ServiceConfig> & { name: string }): ServiceConfig => serviceConfig(c, 'C:\\windows\\system32');

describe('service configuration', () => {
  it('image, svchost group, code file', () => {
    expect(imageOf('"C:\\Program Files\\App\\app.exe" -service')).toBe('C:\\Program Files\\App\\app.exe');
    expect(imageOf('C:\\Program Files\\App\\app.exe -service')).toBe('C:\\Program Files\\App\\app.exe');
    expect(imageOf('C:\\windows\\system32\\svchost.exe -k netsvcs')).toBe('C:\\windows\\system32\\svchost.exe');
    expect(svchostGroupOf('C:\\windows\\system32\\svchost.exe -k netsvcs -p')).toBe('netsvcs');
    expect(svchostGroupOf('%SystemRoot%\\system32\\svchost.exe -k "LocalService"')).toBe('LocalService');
    expect(svchostGroupOf('C:\\app\\app.exe -k x')).toBeUndefined();
    expect(codeFileOf(cfg({ name: 'S', imagePath: 'svchost.exe -k g', serviceDll: '%SystemRoot%\\system32\\s.dll' }))).toEqual({
      path: '%SystemRoot%\\system32\\s.dll',
      role: 'serviceDll',
    });
    expect(codeFileOf(cfg({ name: 'drv', type: 1, imagePath: '' }))).toEqual({ path: 'System32\\drivers\\drv.sys', role: 'image' });
  });

  it('kind', () => {
    expect(serviceKind(cfg({ name: 'a' }))).toBe('own-process');
    expect(serviceKind(cfg({ name: 'a', type: 0x20 }))).toBe('shared-process');
    expect(serviceKind(cfg({ name: 'a', type: 0x20, imagePath: 'C:\\windows\\system32\\svchost.exe -k netsvcs' }))).toBe('svchost');
    expect(serviceKind(cfg({ name: 'a', type: 1 }))).toBe('kernel-driver');
    expect(serviceKind(cfg({ name: 'a', type: 2 }))).toBe('fs-driver');
  });

  it('dependency closure: transitive, groups, drivers, missing services, cycles', () => {
    const all = [
      cfg({ name: 'Web', dependOnService: ['Db', 'HTTP'], dependOnGroup: ['Net'] }),
      cfg({ name: 'Db', dependOnService: ['RpcSs', 'Ghost'] }),
      cfg({ name: 'RpcSs', dependOnService: ['Web'] }), // a cycle back to the root
      cfg({ name: 'HTTP', type: 1 }),
      cfg({ name: 'Tcpip', type: 1, loadOrderGroup: 'Net' }),
      cfg({ name: 'Dns', loadOrderGroup: 'net' }),
    ];
    const deps = closureOf('Web', all).nodes;
    expect(deps.map((d) => [d.name, d.kind])).toEqual([
      ['Db', 'service'],
      ['HTTP', 'driver'],
      ['Net', 'group'],
      ['Tcpip', 'driver'],
      ['Dns', 'service'],
      ['RpcSs', 'service'],
      ['Ghost', 'missing'],
    ]);
    expect(deps.find((d) => d.name === 'RpcSs')!.via).toEqual(['Web', 'Db']);
    expect(deps.find((d) => d.name === 'Net')!.members).toEqual(['Tcpip', 'Dns']);
  });

  it('svchost neighbours: the registry list and the services with the same -k', () => {
    const all = [
      cfg({ name: 'Schedule', type: 0x20, imagePath: 'C:\\windows\\system32\\svchost.exe -k netsvcs', svchostGroup: 'netsvcs' }),
      cfg({ name: 'BITS', imagePath: 'C:\\windows\\system32\\svchost.exe -k netsvcs' }),
      cfg({ name: 'Other', imagePath: 'C:\\windows\\system32\\svchost.exe -k other' }),
    ];
    expect(svchostInfo(all[0]!, all, ['BITS', 'Schedule', 'Gone'])).toEqual({
      group: 'netsvcs',
      registryMembers: ['BITS', 'Schedule', 'Gone'],
      sameGroup: ['BITS', 'Schedule'],
    });
    expect(svchostInfo(all[1]!, [])).toEqual({ group: 'netsvcs', sameGroup: ['BITS'] });
    expect(svchostInfo(cfg({ name: 'x' }), all)).toBeUndefined();
  });

  it('failure actions, as the registry stores them', () => {
    // reset 86400 s; 3 actions: restart after 60 s, run a command after 120 s, none
    const hex = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24].map((b) => b.toString(16).padStart(2, '0')).join('');
    const data = [86400, 0, 0, 3, 0, 1, 60000, 3, 120000, 0, 0].map(hex).join('');
    expect(parseFailureActions(data, 'C:\\fix.cmd')).toEqual({
      resetPeriodSeconds: 86400,
      actions: [
        { type: 'restart', delayMs: 60000 },
        { type: 'run-command', delayMs: 120000 },
        { type: 'none', delayMs: 0 },
      ],
      command: 'C:\\fix.cmd',
    });
    expect(parseFailureActions('00ff')).toBeUndefined();
    expect(parseFailureActions([0, 0, 0, 1000, 0].map(hex).join(''))).toBeUndefined(); // count beyond the data
    expect(parseFailureActions('zz'.repeat(40))).toBeUndefined();
  });
});

describe('assessment from configuration', () => {
  const issue = (r: AnalyzeReport, id: number) => r.issues.find((i) => i.id === id)!;

  it('a service depending on a driver: duplicable with that driver shared; dependents, failure commands', () => {
    const web = cfg({ name: 'Web', displayName: 'Web Server', dependOnService: ['Db', 'Tcpip'] });
    const all = [web, cfg({ name: 'Db' }), cfg({ name: 'Tcpip', type: 1 }), cfg({ name: 'Portal', dependOnService: ['Web'] })];
    const r = assess({
      target: { input: 'Web', kind: 'service' },
      config: web,
      dependencies: closureOf('Web', all).nodes,
      dependents: ['Portal'],
      failureActions: { resetPeriodSeconds: 0, actions: [{ type: 'run-command', delayMs: 0 }], command: 'notify.cmd' },
      binaryError: 'cannot read C:\\windows\\system32\\Web.exe: ENOENT',
    });
    expect(r.verdict).toMatchObject({ kind: 'duplicable-with-shared-dependencies', shared: [expect.objectContaining({ name: 'Tcpip' })] });
    expect(issue(r, 5)).toMatchObject({ applies: 'yes', resolution: 'shared' });
    expect(issue(r, 5).how).toMatch(/^Db is either duplicated into the VM with it or explicitly shared with the host/);
    expect(issue(r, 5).how).toMatch(/Tcpip is a kernel driver: shared with the host/);
    expect(issue(r, 10).how).toMatch(/runs a command, which the SCM starts on the host, outside the VM/);
    expect(issue(r, 12).evidence.map((e) => e.text)).toContain('services that depend on it: Portal');
    expect(issue(r, 1).how).toMatch(/Web@<vm>, display name "Web Server \(<vm>\)"/);
    // without the binary, static issues are possible, not no
    expect(issue(r, 6).applies).toBe('possible');
    expect(r.warnings).toContain('cannot read C:\\windows\\system32\\Web.exe: ENOENT');
    expect(renderReport(r)).toMatch(/verdict: duplicable-with-shared-dependencies/);
  });
});

describe('the I/O layer over a stand-in host', () => {
  beforeAll(() => ensureTestbins());

  it('analyzes a service: config, closure, failure actions from the registry, the image from its path', async () => {
    const hex = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24].map((b) => b.toString(16).padStart(2, '0')).join('');
    const host = fakeHost({
      system32: testbinDir,
      configs: [
        cfg({ name: 'SvcdupAnaOne', type: 0x20, imagePath: 'C:\\windows\\system32\\ana-svc.exe', dependOnService: ['RpcSs'] }),
        cfg({ name: 'RpcSs', type: 0x20, imagePath: 'C:\\windows\\system32\\rpcss.exe' }),
        cfg({ name: 'HTTP', type: 1, imagePath: 'C:\\windows\\system32\\drivers\\http.sys' }),
      ],
      values: {
        'HKLM\\SYSTEM\\CurrentControlSet\\Services\\SvcdupAnaOne\0FailureActions': {
          name: 'FailureActions',
          type: 'REG_BINARY',
          data: [0, 0, 0, 1, 0, 1, 5000].map(hex).join(''),
        },
      },
    });
    const r = await analyzeService('SvcdupAnaOne', host);
    expect(r.service).toMatchObject({
      kind: 'shared-process',
      codeFile: { path: 'C:\\windows\\system32\\ana-svc.exe', role: 'image', hostPath: testbin('ana-svc.exe') },
    });
    expect(r.service!.dependencies).toEqual([expect.objectContaining({ name: 'RpcSs', kind: 'service' })]);
    expect(r.service!.failureActions!.actions).toEqual([{ type: 'restart', delayMs: 5000 }]);
    expect(r.binary!.service.dispatchTables[0]!.entries).toHaveLength(2);
    // its own Services key, read by name
    expect(r.issues[1]!.how).toMatch(/reads its own key by name/);
    // RpcSs would be duplicated with it, and its image is not in this stand-in's system32
    expect(r.verdict.kind).toBe('cannot-run-on-host');
    expect(r.verdict.reasons).toEqual([
      expect.objectContaining({
        code: 'dependency-cannot-start',
        text: expect.stringMatching(
          /depends on RpcSs, which cannot start: the image of its dependency RpcSs, C:\\windows\\system32\\rpcss\.exe, does not exist/,
        ),
      }),
    ]);
    expect(r.verdict.shared.map((s) => s.name)).toEqual(['HTTP']);
  });

  it('reports a code file it cannot read instead of failing', async () => {
    const host = fakeHost({ system32: testbinDir, configs: [cfg({ name: 'Gone', imagePath: 'C:\\windows\\system32\\gone.exe' })] });
    const r = await analyzeService('Gone', host);
    expect(r.binary).toBeUndefined();
    expect(r.warnings.join('\n')).toMatch(/cannot read C:\\windows\\system32\\gone\.exe/);
  });

  it('tells files from service names', async () => {
    expect(looksLikeFile('C:\\x\\y.exe')).toBe(true);
    expect(looksLikeFile('./svc')).toBe(true);
    expect(looksLikeFile('foo.sys')).toBe(true);
    expect(looksLikeFile('RpcSs')).toBe(false);
    await expect(analyzeTarget('/no/such/file.exe')).rejects.toThrow(UsageError);
    await expect(analyzeTarget('RpcSs')).rejects.toThrow(/no host backend/);
  });

  it('--trace is refused for a file: only an installed service runs in a VM', async () => {
    await expect(analyzeTarget(testbin('ana-svc.exe'), { trace: 10 })).rejects.toThrow(TraceUnavailableError);
    await expect(analyzeTarget(testbin('ana-svc.exe'), { trace: 10 })).rejects.toThrow(/is a file; --trace runs an installed service in a scratch VM/);
  });
});

describe('svcdup analyze (command line)', () => {
  let out = '';
  const run = async (...args: string[]): Promise<void> => {
    const program = new Command().exitOverride().option('--backend <kind>');
    registerAnalyzeCommand(program);
    out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
    await program.parseAsync(['node', 'svcdup', 'analyze', ...args]);
  };
  afterEach(() => vi.restoreAllMocks());
  beforeAll(() => ensureTestbins());

  it('prints the report as text, or as JSON with --json', async () => {
    await run(testbin('ana-plain.exe'));
    expect(out).toMatch(/^.*ana-plain\.exe: x64 exe\nverdict: duplicable\./);
    expect(out).toMatch(/#1 {2}service identity\s+yes\s+resolved/);
    await run(testbin('ana-plain.exe'), '--json');
    const j = JSON.parse(out) as AnalyzeReport;
    expect(j.schema).toBe('svcdup.analyze/1');
    expect(j.issues).toHaveLength(12);
  });

  it('--trace fails clearly; a bad --trace value is a usage error', async () => {
    await expect(run(testbin('ana-plain.exe'), '--trace', '30')).rejects.toThrow(TraceUnavailableError);
    await expect(run(testbin('ana-plain.exe'), '--trace', 'soon')).rejects.toThrow(/--trace takes a number of seconds/);
  });
});
