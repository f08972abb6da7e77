// svcdup analyze on real services nobody here wrote: Wine 8's rpcss.exe, schedsvc.dll (through
// Schedule), spoolsv.exe and http.sys. First from their files and the recorded Wine service
// list (no Wine needed), then through the real host backend.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFile, analyzeService, analyzeTarget, type AnalyzeReport } from '../src/analyze/index.js';
import { fakeHost, haveWineBinaries, wineConfigs, wineDir } from './fixtures/analyze/helpers.js';
import { nativeDir, openTestHost, type TestHost } from './helpers.js';

const issue = (r: AnalyzeReport, id: number) => r.issues.find((i) => i.id === id)!;
const SVCHOST_KEY = 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Svchost';

function wineHost() {
  // Wine 8's prefix lists netsvcs as "BITS fontcache Schedule" in the Svchost key
  return fakeHost({
    configs: wineConfigs(),
    values: { [`${SVCHOST_KEY}\0netsvcs`]: { name: 'netsvcs', type: 'REG_MULTI_SZ', data: ['BITS', 'fontcache', 'Schedule'] } },
  });
}

describe.skipIf(!haveWineBinaries)("Wine's own service binaries", () => {
  it('rpcss.exe: finds the endpoints RpcSs serves', async () => {
    const r = await analyzeFile(join(wineDir, 'rpcss.exe'));
    const b = r.binary!;
    const eps = b.rpc.endpoints.map((e) => `${e.protseq}:${e.endpoint}`);
    expect(eps).toEqual(expect.arrayContaining(['ncacn_np:\\pipe\\epmapper', 'ncalrpc:epmapper', 'ncalrpc:irot', 'ncalrpc:irpcss']));
    expect(b.rpc.server).toBe(true);
    // paired through the {protseq, endpoint} table rpcss passes to RpcServerUseProtseqEpW
    expect(b.rpc.endpoints.every((e) => e.method === 'pointer-table')).toBe(true);
    expect(b.names.filter((n) => n.category === 'rpc-endpoint').every((n) => n.role === 'serves')).toBe(true);
    expect(b.service.dispatchTables[0]?.entries.map((e) => e.name)).toEqual(['RpcSs']);
    expect(issue(r, 7)).toMatchObject({ applies: 'yes', resolution: 'resolved' });
    expect(issue(r, 7).how).toMatch(/epmapper/);
    expect(r.verdict.kind).toBe('duplicable');
  });

  it('RpcSs by name: its configuration and its endpoints', async () => {
    const r = await analyzeService('RpcSs', wineHost());
    expect(r.service).toMatchObject({ name: 'RpcSs', kind: 'shared-process', codeFile: { path: 'C:\\windows\\system32\\rpcss.exe', role: 'image' } });
    expect(r.binary!.rpc.endpoints.length).toBeGreaterThanOrEqual(4);
    expect(issue(r, 1).how).toMatch(/RpcSs@<vm>/);
  });

  it('Schedule: the ServiceDll is analyzed, and its svchost group and neighbours shown', async () => {
    const host = wineHost();
    const r = await analyzeTarget('Schedule', { host: async () => host });
    expect(r.target).toEqual({ input: 'Schedule', kind: 'service' });
    expect(r.service).toMatchObject({
      kind: 'svchost',
      serviceDll: 'C:\\windows\\system32\\schedsvc.dll',
      codeFile: { role: 'serviceDll', path: 'C:\\windows\\system32\\schedsvc.dll' },
    });
    expect(r.binary!.file).toBe('C:\\windows\\system32\\schedsvc.dll');
    expect(r.binary!.service.serviceMainExports).toContain('ServiceMain');
    expect(r.service!.svchost).toEqual({
      group: 'netsvcs',
      registryMembers: ['BITS', 'fontcache', 'Schedule'],
      sameGroup: ['BITS', 'FontCache', 'LanmanServer', 'Schedule'],
    });
    const i4 = issue(r, 4);
    expect(i4).toMatchObject({ applies: 'yes', resolution: 'resolved' });
    expect(i4.how).toMatch(/netsvcs/);
    expect(i4.how).toMatch(/BITS, FontCache, LanmanServer/);
    expect(i4.how).not.toMatch(/fontcache/); // neighbours once each, whatever their spelling
    // its endpoints, recovered from the RpcServerUseProtseqEpW calls
    expect(r.binary!.rpc.endpoints).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ protseq: 'ncacn_np', endpoint: '\\pipe\\atsvc', method: 'call' }),
        expect.objectContaining({ protseq: 'ncalrpc', endpoint: 'atsvc', method: 'call' }),
      ]),
    );
    // RegisterServiceCtrlHandlerW("Schedule"): the binary hard-codes its name
    expect(r.binary!.service.controlHandlers.map((h) => h.name)).toContain('Schedule');
    // it registers with epmapper without declaring RpcSs
    expect(issue(r, 5).how).toMatch(/RpcSs/);
    expect(r.verdict.kind).toBe('duplicable');
  });

  it('spoolsv.exe / Spooler: one service in its dispatch table', async () => {
    const r = await analyzeService('Spooler', wineHost());
    expect(r.binary!.service.dispatchTables[0]?.entries.map((e) => e.name)).toEqual(['Spooler']);
    expect(r.service!.loadOrderGroup).toBe('SpoolerGroup');
    expect(issue(r, 3)).toMatchObject({ applies: 'yes', resolution: 'resolved' });
    expect(r.verdict.kind).toBe('duplicable');
  });

  it('http.sys / HTTP: a driver, which cannot be duplicated from user mode', async () => {
    const file = await analyzeFile(join(wineDir, 'http.sys'));
    expect(file.binary!.format.kind).toBe('driver');
    expect(file.verdict.kind).toBe('not-duplicable');
    const r = await analyzeService('HTTP', wineHost());
    expect(r.service).toMatchObject({ kind: 'kernel-driver', type: 1 });
    expect(r.verdict.kind).toBe('not-duplicable');
    expect(r.verdict.summary).toMatch(/kernel driver: it cannot be duplicated from user mode/);
    const i11 = issue(r, 11);
    expect(i11).toMatchObject({ applies: 'yes', resolution: 'not-resolvable' });
    expect(i11.how).toMatch(/\\Device\\Http\\ReqQueue/);
    expect(i11.how).toMatch(/URLs/);
  });

  it('a name that is no service is a clear usage error', async () => {
    await expect(analyzeTarget('NoSuchService', { host: async () => wineHost() })).rejects.toThrow(/no service named "NoSuchService"/);
  });
});

// Through the real backend: the agent answers, the prefix's files are read.
const haveAgent = existsSync(join(nativeDir, 'svcdup-agent.exe'));
describe.skipIf(!haveAgent || !haveWineBinaries)('analyze through the Wine backend', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await openTestHost('analyze');
  });
  afterAll(async () => {
    await host?.dispose();
  });

  it('Schedule: svchost group netsvcs with its neighbours, schedsvc.dll analyzed from the prefix', async () => {
    const r = await analyzeService('Schedule', host.backend);
    expect(r.service!.codeFile.hostPath).toMatch(/windows\/system32\/schedsvc\.dll$/);
    expect(r.service!.svchost!.group).toBe('netsvcs');
    expect(r.service!.svchost!.sameGroup).toEqual(expect.arrayContaining(['BITS', 'FontCache', 'LanmanServer', 'Schedule']));
    expect(r.binary!.rpc.endpoints.map((e) => e.endpoint)).toEqual(expect.arrayContaining(['atsvc', '\\pipe\\atsvc']));
    expect(r.verdict.kind).toBe('duplicable');
  });

  it('RpcSs and HTTP', async () => {
    const rpcss = await analyzeService('RpcSs', host.backend);
    expect(rpcss.binary!.rpc.endpoints.map((e) => e.endpoint)).toEqual(expect.arrayContaining(['\\pipe\\epmapper', 'epmapper', 'irot', 'irpcss']));
    const http = await analyzeService('HTTP', host.backend);
    expect(http.verdict.kind).toBe('not-duplicable');
    expect(http.binary!.format.kind).toBe('driver');
  });
});
