// analyze predicts every outcome: each Win32 service of the test prefix (Wine 8's own, 16 of
// them) is analyzed, then really duplicated with `dup --start`; the verdict must match what
// happened for all of them. The project's fixtures cover each verdict class (a launcher that
// starts a server program, with a data folder in its ImagePath arguments and a port in a
// configuration file there; a service that needs a port map; one with a driver shared);
// `dup` refuses what cannot work, before it registers anything; --verify agrees on RpcSs,
// Schedule and the network test service; --all on 200 services.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManagedBackend } from '../src/backend/index.js';
import { analyzeAll, analyzeService, dupRefusalFor, REFUSED_VERDICTS, renderTable, type AnalyzeReport } from '../src/analyze/index.js';
import { verifyService, type VerifyResult } from '../src/analyze/verify.js';
import { Duplicates } from '../src/dup/dup.js';
import { openDb, type Db } from '../src/state/db.js';
import { Vms } from '../src/vm/ops.js';
import { dbVmStore } from '../src/vm/store.js';
import { cliFor } from './cli-helpers.js';
import { nativeExe, openTestHost, type TestHost } from './helpers.js';

let host: TestHost;
let b: ManagedBackend;
let db: Db;
let dups: Duplicates;
let vms: Vms;
const VM = 'outcome';
const FIXTURES = ['AnaLaunch', 'SvcdupAnaPlain', 'AnaPolicy', 'svcdup-testsvc'];
const LAUNCH_PORT = 7431;
const POLICY_PORT = 7432;
const NET_PORT = 7433;
const { cli, cliJson } = cliFor(() => host.paths);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function library(): void {
  db = openDb(host.paths.stateDb);
  dups = new Duplicates(b, db);
  vms = new Vms(b, dbVmStore(db), dups);
}

/** What really happens: dup --start, still RUNNING a moment later; then the VM is emptied again. */
async function outcome(name: string): Promise<{ ran: boolean; detail: string }> {
  try {
    // force: the real outcome, even of what the library would refuse
    await dups.dup(name, VM, { start: true, force: true });
    await sleep(700);
    const s = await b.call('scm.status', { name: `${name}@${VM}` });
    return s.state === 'RUNNING'
      ? { ran: true, detail: `RUNNING (pid ${s.pid})` }
      : { ran: false, detail: `${s.state}, Win32 exit code ${s.win32ExitCode}/${s.serviceExitCode}` };
  } catch (err) {
    return { ran: false, detail: (err as Error).message.split('\n')[0]! };
  } finally {
    await dups.emptyVm(VM);
  }
}

const predictsRun = (r: AnalyzeReport): boolean => !REFUSED_VERDICTS.includes(r.verdict.kind);
const why = (r: AnalyzeReport): string =>
  r.verdict.reasons.map((x) => x.code).join(', ') || r.verdict.shared.map((s) => `shared ${s.name}`).join(', ') || r.verdict.rules.join('; ');

beforeAll(async () => {
  host = await openTestHost('anaout');
  b = host.backend;
  // the launcher's data folder, with the server's configuration (PostgreSQL's format)
  const data = b.toHostPath('C:\\');
  mkdirSync(join(data, 'anadata'), { recursive: true });
  writeFileSync(
    join(data, 'anadata', 'ana-server.conf'),
    `# ana-server configuration\nlisten_addresses = '*'\t\t# every address\nport = ${LAUNCH_PORT}\t\t# the server's port\nlog_directory = 'log'\n`,
  );
  await b.call('scm.create', { name: 'AnaLaunch', imagePath: `"${nativeExe(b, 'testbin/ana-launch.exe')}" runservice -N AnaLaunch -D "C:\\anadata"` });
  await b.call('scm.create', { name: 'SvcdupAnaPlain', imagePath: nativeExe(b, 'testbin/ana-plain.exe'), dependOnService: ['HTTP'] });
  // its host instance holds the wildcard port: a VM needs a port map
  await b.call('scm.create', { name: 'AnaPolicy', imagePath: `${nativeExe(b, 'svcdup-testsvc.exe')} --name AnaPolicy --tcp ${POLICY_PORT}` });
  await b.call('scm.start', { name: 'AnaPolicy' });
  // the network test service, its host instance on loopback (docs/network.md)
  await b.call('scm.create', { name: 'svcdup-testsvc', imagePath: `${nativeExe(b, 'svcdup-testsvc.exe')} --tcp ${NET_PORT} --bind 127.0.0.1` });
  await b.call('scm.start', { name: 'svcdup-testsvc' });
  library();
  await vms.create(VM);
}, 300_000);

afterAll(async () => {
  if (!host) return;
  try {
    db?.close();
  } catch {
    /* closed already */
  }
  cli(['vm', 'rm', VM]);
  await host.dispose();
});

describe('every Win32 service of the test prefix: the verdict matches a real dup --start', () => {
  it('16 services, 100% matched', async () => {
    const reports = (await analyzeAll(b)).filter((r) => r.service && r.service.type & 0x30 && !FIXTURES.includes(r.service.name));
    expect(reports.map((r) => r.service!.name).sort()).toHaveLength(16);
    const rows: string[][] = [];
    let matched = 0;
    for (const r of reports) {
      const name = r.service!.name;
      // dup asks the same verdict first
      const refusal = await dupRefusalFor(b, name);
      expect(!!refusal, `${name}: ${refusal}`).toBe(!predictsRun(r));
      const o = await outcome(name);
      const ok = o.ran === predictsRun(r);
      if (ok) matched++;
      rows.push([name, r.verdict.kind, why(r), o.ran ? 'ran' : 'did not run', o.detail, ok ? 'yes' : 'NO']);
    }
    const head = ['SERVICE', 'VERDICT', 'WHY', 'OUTCOME', 'DETAIL', 'MATCH'];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
    console.log(
      [
        '',
        `analyze vs dup --start, ${matched}/${rows.length} matched:`,
        ...[head, ...rows].map((x) => `| ${x.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`),
      ].join('\n'),
    );
    expect(matched).toBe(rows.length);
    const table = renderTable(reports);
    expect(table.split('\n')[0]).toMatch(/^SERVICE\s+KIND\s+VERDICT\s+WHY$/);
    expect(table).toMatch(/^Winedevice1\s+own-process\s+not-duplicable\s+Winedevice1 is Wine's driver host/m);
    // what the issue saw go wrong is now predicted
    const v = (n: string) => reports.find((r) => r.service!.name === n)!.verdict;
    expect(v('FontCache3.0.0.0')).toMatchObject({ kind: 'cannot-run-on-host', reasons: [expect.objectContaining({ code: 'image-missing' })] });
    expect(v('LanmanServer').kind).toBe('cannot-run-on-host');
    expect(v('LanmanServer').reasons.map((x) => x.code)).toContain('disabled');
    expect(v('Winedevice1').reasons.map((x) => x.code)).toEqual(['driver-host', 'no-service-key']);
  }, 900_000);
});

describe("the project's fixtures: each verdict class", () => {
  let launch: AnalyzeReport;

  it('a launcher: the server program it starts, the data folder in its arguments, the port in the configuration file there', async () => {
    launch = await analyzeService('AnaLaunch', b);
    const f = launch.footprint!;
    expect(f.commandLine.args).toEqual(['runservice', '-N', 'AnaLaunch', '-D', 'C:\\anadata']);
    expect(f.programs).toEqual([expect.objectContaining({ source: 'own-folder', exists: true, path: expect.stringMatching(/\\testbin\\ana-server\.exe$/) })]);
    expect(f.configFiles).toEqual([expect.objectContaining({ path: 'C:\\anadata\\ana-server.conf', format: 'key-value', settings: 3 })]);
    expect(f.ports).toEqual([{ port: LAUNCH_PORT, address: '*', source: `C:\\anadata\\ana-server.conf:3 port` }]);
    expect(f.writes.map((w) => w.path)).toEqual(expect.arrayContaining(['C:\\anadata', 'C:\\anadata\\log']));
    expect(launch.state!.snapshot).toEqual(expect.arrayContaining(['C:\\anadata', 'C:\\anadata\\log']));
    expect(launch.issues[8]!.how).toMatch(/C:\\anadata \(cow\).*snapshotted when the duplicate is made: .*C:\\anadata/);
    expect(launch.issues[7]!.how).toMatch(new RegExp(`ports .*${LAUNCH_PORT}`));
    expect(launch.verdict.kind).toBe('duplicable');
    const o = await outcome('AnaLaunch');
    expect(o, o.detail).toMatchObject({ ran: true });
  }, 300_000);

  it('a dependency on a kernel driver: duplicable with it shared, and it runs', async () => {
    const r = await analyzeService('SvcdupAnaPlain', b);
    expect(r.verdict).toMatchObject({ kind: 'duplicable-with-shared-dependencies', shared: [expect.objectContaining({ name: 'HTTP' })] });
    const o = await outcome('SvcdupAnaPlain');
    expect(o, o.detail).toMatchObject({ ran: true });
  }, 300_000);

  it('a host instance holding its wildcard port: duplicable only with a port map, and without it the duplicate fails, saying why', async () => {
    const r = await analyzeService('AnaPolicy', b);
    expect(r.verdict.kind).toBe('duplicable-with-policy');
    expect(r.verdict.rules).toEqual([`svcdup vm create VM --port-map ${POLICY_PORT}:${POLICY_PORT + 10000}`]);
    expect(r.verdict.reasons[0]!.text).toMatch(/binds port 7432 on the wildcard address \(ImagePath argument --tcp\)/);
    await dups.dup('AnaPolicy', VM, { force: true });
    try {
      // the start fails, and says why: the bind conflict as explainBindConflict words it
      const bind = new RegExp(`VM ${VM} cannot listen on tcp 127\\.77\\.\\d+\\.\\d+:${POLICY_PORT}: a host process listens on 0\\.0\\.0\\.0:${POLICY_PORT}`);
      await expect(dups.start('AnaPolicy', VM)).rejects.toThrow(bind);
      // status says it too, for as long as the duplicate stays stopped
      const [st] = await dups.status(VM, { explain: true });
      expect(st!.status!.state).toBe('STOPPED');
      expect(st!.why?.join('\n')).toMatch(bind);
    } finally {
      await dups.emptyVm(VM);
    }
  }, 300_000);

  it('a service key with missing values, an ImagePath with an unbalanced quote: a report each', async () => {
    await b.call('scm.create', { name: 'AnaQuote', imagePath: 'C:\\anadata\\x.exe -D "C:\\anadata' });
    await b.call('scm.create', { name: 'AnaBare', imagePath: 'C:\\anadata\\bare.exe' });
    for (const v of ['ImagePath', 'DisplayName', 'ObjectName', 'Type', 'Start', 'ErrorControl'])
      await b.call('reg.deleteValue', { key: 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\AnaBare', name: v }).catch(() => {});
    const q = await analyzeService('AnaQuote', b);
    expect(q.warnings.join('\n')).toMatch(/quote that never closes/);
    expect(q.verdict.kind).toBe('cannot-run-on-host');
    const bare = await analyzeService('AnaBare', b);
    expect(bare.verdict.kind).toBeDefined();
    await b.call('scm.delete', { name: 'AnaQuote' });
    await b.call('scm.delete', { name: 'AnaBare' });
  }, 120_000);
});

describe('--verify: a scratch VM, dup, start, what was predicted answers, the VM removed', () => {
  const agree = (r: VerifyResult) => r.checks.map((c) => `${c.what}: ${c.predicted} / ${c.observed}`).join('\n');

  it('RpcSs, Schedule, the network test service, the launcher; the port-map service with its rule', async () => {
    for (const name of ['RpcSs', 'Schedule', 'svcdup-testsvc', 'AnaLaunch', 'AnaPolicy']) {
      const r = await verifyService(await analyzeService(name, b), vms, dups);
      console.log(`--verify ${name}:\n${agree(r)}`);
      expect(r.agree, agree(r)).toBe(true);
      expect(r.started).toBe(true);
      expect(vms.store.get(r.vm)).toBeUndefined();
      const whats = r.checks.map((c) => c.what);
      if (name === 'RpcSs') expect(whats).toEqual(expect.arrayContaining(['pipe epmapper', 'pipe lrpc\\epmapper', 'pipe lrpc\\irot', 'pipe lrpc\\irpcss']));
      if (name === 'Schedule') expect(whats).toEqual(expect.arrayContaining(['pipe atsvc', 'pipe lrpc\\atsvc']));
      if (name === 'svcdup-testsvc') expect(whats).toEqual(expect.arrayContaining([`tcp ${NET_PORT}`, 'pipe svcdup-testsvc']));
      if (name === 'AnaLaunch') expect(r.checks.find((c) => c.what === `tcp ${LAUNCH_PORT}`)!.observed).toMatch(/ana-server PID \d+ PORT 7431/);
      if (name === 'AnaPolicy') expect(r.rule).toBe(`--port-map ${POLICY_PORT}:${POLICY_PORT + 10000}`);
    }
  }, 900_000);
});

describe('the library', () => {
  it('Duplicates.dup refuses what the analyzer says cannot run, as the CLI does; force registers it anyway', async () => {
    await expect(dups.dup('FontCache3.0.0.0', VM)).rejects.toThrow(/^FontCache3\.0\.0\.0 cannot run on the host either/);
    await expect(dups.plan('Winedevice1', VM)).rejects.toThrow(/Winedevice1 cannot be duplicated/);
    expect(dups.list(VM)).toEqual([]);
    const plan = await dups.dup('FontCache3.0.0.0', VM, { force: true });
    expect(plan.services.map((p) => p.scmName)).toEqual([`FontCache3.0.0.0@${VM}`]);
    expect((await b.call('scm.status', { name: `FontCache3.0.0.0@${VM}` })).state).toBe('STOPPED');
    // its start fails, and says why
    await expect(dups.start('FontCache3.0.0.0', VM)).rejects.toThrow(
      /stopped while starting[\s\S]*\nits image \S*presentationfontcache\.exe does not exist on the host/i,
    );
    await dups.emptyVm(VM);
    expect(dups.list(VM)).toEqual([]);
  }, 300_000);
});

describe('through the command line', () => {
  beforeAll(async () => {
    db.close();
    await b.close();
  });

  it('dup refuses what cannot run or cannot be duplicated, with the reason, before it registers anything', async () => {
    const f = cli(['dup', 'FontCache3.0.0.0', '--vm', VM, '--start']);
    expect(f.status).toBe(2);
    expect(f.stderr).toMatch(
      /^svcdup: FontCache3\.0\.0\.0 cannot run on the host either, so not in a VM: the image of FontCache3\.0\.0\.0, .*presentationfontcache\.exe, does not exist/,
    );
    expect(f.stderr).toMatch(/fix: install the program/);
    const w = cli(['dup', 'Winedevice1', '--vm', VM]);
    expect(w.status).toBe(2);
    expect(w.stderr).toMatch(/Winedevice1 cannot be duplicated: Winedevice1 is Wine's driver host/);
    expect(w.stderr).not.toMatch(/reg\.copyTree/);
    expect(cliJson<unknown[]>(['status'])).toEqual([]);
    expect((await b.call('scm.list', {})).filter((s) => s.name.includes('@'))).toEqual([]);
  }, 300_000);

  it('analyze --verify prints prediction and outcome side by side', () => {
    const r = cli(['analyze', 'svcdup-testsvc', '--verify']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/verify: duplicable\S* in scratch VM verify-\S+/);
    expect(r.stdout).toMatch(new RegExp(`tcp ${NET_PORT}\\s+answers at 127\\.77\\.\\d+\\.\\d+:${NET_PORT}\\s+connected`));
    expect(r.stdout).toMatch(/prediction and outcome agree/);
  }, 300_000);

  it('analyze --all: 200 services, one line each', async () => {
    const many = Array.from({ length: 180 }, (_, i) => `AnaMany${String(i).padStart(3, '0')}`);
    for (const [i, name] of many.entries())
      await b.call('scm.create', {
        name,
        imagePath: i % 2 ? nativeExe(b, 'testbin/ana-plain.exe') : `"${nativeExe(b, 'testbin/ana-launch.exe')}" runservice -N ${name} -D "C:\\anadata"`,
      });
    await b.close();
    const t0 = Date.now();
    const r = cli(['analyze', '--all', '--json']);
    const ms = Date.now() - t0;
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { service: string; verdict: { kind: string } }[];
    console.log(`analyze --all: ${rows.length} services in ${ms} ms (the whole command, Node start and backend open included)`);
    expect(rows.length).toBeGreaterThanOrEqual(200);
    expect(rows.filter((x) => x.service.startsWith('AnaMany')).every((x) => x.verdict.kind === 'duplicable')).toBe(true);
    expect(rows.find((x) => x.service === 'Winedevice1')!.verdict.kind).toBe('not-duplicable');
    // the services go with the test's home
  }, 900_000);
});
