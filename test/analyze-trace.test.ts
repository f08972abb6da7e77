// svcdup analyze --trace: the pure summary of recorded trace lines, and the whole run under
// real Wine (scratch VM, duplicate started with the listener registered first, VM removed).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFile, traceService, type TraceLab } from '../src/analyze/io.js';
import { applyTrace, canonicalObject, classifyEvent, parseTrace, summarizeTrace } from '../src/analyze/trace.js';
import type { AnalyzeReport, TraceReport } from '../src/analyze/report.js';
import { packageRoot } from '../src/config.js';
import { AgentError, SvcdupError, UsageError, Win32 } from '../src/errors.js';
import { SVCDUP_KEY } from '../src/dup/dup.js';
import { nativeDir, nativeExe, openTestHost, testEnv, type TestHost } from './helpers.js';

// Recorded from `svcdup-run --trace` while svcdup-testsvc started in VM probe1 (Wine 8),
// plus lines of the other shapes the hook writes.
const RECORDED = [
  '{"time":"2026-11-25T20:03:22.057Z","pid":304,"call":"NtCreateFile","used":"\\\\??\\\\pipe\\\\svcdup.relay.296","effective":"\\\\??\\\\pipe\\\\svcdup.relay.296","decision":"open"}',
  '{"time":"2026-11-25T20:03:22.061Z","pid":304,"call":"NtCreateMutant","used":"Global\\\\svcdup-testsvc-singleton","effective":"\\\\Sessions\\\\1\\\\BaseNamedObjects\\\\Global\\\\svcdup.probe1.svcdup-testsvc-singleton","decision":"renamed"}',
  '{"time":"2026-11-25T20:03:22.061Z","pid":304,"call":"NtCreateNamedPipeFile","used":"\\\\??\\\\pipe\\\\svcdup-testsvc","effective":"\\\\??\\\\pipe\\\\svcdup.probe1.svcdup-testsvc","decision":"renamed"}',
  '{"time":"2026-11-25T20:03:22.300Z","pid":304,"call":"NtCreateNamedPipeFile","used":"\\\\??\\\\pipe\\\\svcdup-testsvc","effective":"\\\\??\\\\pipe\\\\svcdup.probe1.svcdup-testsvc","decision":"renamed"}',
  '{"time":"2026-11-25T20:03:22.400Z","pid":310,"call":"NtOpenMutant","used":"\\\\BaseNamedObjects\\\\svcdup-testsvc-singleton","effective":"\\\\BaseNamedObjects\\\\svcdup.probe1.svcdup-testsvc-singleton","decision":"renamed"}',
  '{"time":"2026-11-25T20:03:22.500Z","pid":304,"call":"NtOpenKey","used":"\\\\Registry\\\\Machine\\\\SYSTEM\\\\CurrentControlSet\\\\Services\\\\svcdup-testsvc\\\\Parameters","effective":"\\\\Registry\\\\Machine\\\\SOFTWARE\\\\svcdup\\\\VMs\\\\probe1\\\\Services\\\\svcdup-testsvc\\\\Parameters","decision":"renamed"}',
  '{"time":"2026-11-25T20:03:22.600Z","pid":304,"call":"NtCreateEvent","used":"Local\\\\runtime-built-7","effective":"\\\\Sessions\\\\1\\\\BaseNamedObjects\\\\svcdup.probe1.runtime-built-7","decision":"renamed"}',
  '{"time":"2026-11-25T20:03:22.700Z","pid":304,"call":"NtFsControlFile(FSCTL_PIPE_WAIT)","used":"lrpc\\\\epmapper","effective":"lrpc\\\\epmapper","decision":"open"}',
  '{"time":"2026-11-25T20:03:22.800Z","pid":304,"call":"NtCreateUserProcess","used":"pid:320","effective":"pid:320","decision":"joined"}',
  '{"time":"2026-11-25T20:03:22.900Z","pid":320,"call":"NtOpenProcess","used":"pid:36","effective":"pid:36","decision":"denied"}',
  '{"time":"2026-11-25T20:03:23.000Z","pid":320,"call":"bind","used":"tcp 0.0.0.0:8080","effective":"tcp 127.77.0.1:8080","decision":"renamed"}',
  '{"dropped":3}',
  '{"time":"2026-11-25T20:03:23.100Z","pid":320,"call":"NtCreateMu',
].join('\r\n');

describe('trace summary (pure)', () => {
  it('parses decision lines, dropped counts and torn lines', () => {
    const p = parseTrace(RECORDED);
    expect(p.events).toHaveLength(11);
    expect(p.dropped).toBe(3);
    expect(p.unparsed).toHaveLength(1);
    expect(p.events[1]).toEqual({
      time: '2026-11-25T20:03:22.061Z',
      pid: 304,
      call: 'NtCreateMutant',
      used: 'Global\\svcdup-testsvc-singleton',
      effective: '\\Sessions\\1\\BaseNamedObjects\\Global\\svcdup.probe1.svcdup-testsvc-singleton',
      decision: 'renamed',
    });
  });

  it('names objects, pipes and the rest canonically', () => {
    expect(canonicalObject('\\BaseNamedObjects\\X')).toEqual({ name: 'Global\\X', short: 'X' });
    expect(canonicalObject('\\Sessions\\1\\BaseNamedObjects\\X')).toEqual({ name: 'Local\\X', short: 'X' });
    expect(canonicalObject('global\\X').name).toBe('Global\\X');
    expect(canonicalObject('X').name).toBe('Local\\X');
    expect(classifyEvent({ call: 'NtOpenFile', used: '\\Device\\NamedPipe\\p', decision: 'renamed' })).toMatchObject({
      kind: 'pipe',
      name: '\\\\.\\pipe\\p',
      role: 'connects',
      issues: [7, 12],
    });
    expect(classifyEvent({ call: 'NtCreateFile', used: '\\??\\mailslot\\m', decision: 'renamed' })).toMatchObject({
      kind: 'mailslot',
      name: '\\\\.\\mailslot\\m',
    });
    expect(classifyEvent({ call: 'NtCreateFile', used: '\\??\\C:\\x.txt', decision: 'open' }).kind).toBe('other');
    expect(classifyEvent({ call: 'NtAlpcCreatePort', used: '\\RPC Control\\ep', decision: 'renamed' })).toMatchObject({
      kind: 'alpc-port',
      role: 'serves',
      issues: [7],
    });
    expect(classifyEvent({ call: 'OpenService', used: 'RpcSs', decision: 'denied' })).toMatchObject({ kind: 'service', issues: [10, 12] });
    expect(classifyEvent({ call: 'HttpAddUrl', used: 'http://+:80/x/', decision: 'renamed' })).toMatchObject({ kind: 'url', issues: [8, 11] });
  });

  it('de-duplicates by (kind, name), with counts, first time, decisions and pids, and cross-references the static names', async () => {
    const stat = await analyzeFile(join(nativeDir, 'svcdup-testsvc.exe'));
    const s = summarizeTrace(parseTrace(RECORDED), stat.binary!.names);
    expect(s.events).toBe(11);
    expect(s.dropped).toBe(3);
    const mutex = s.resources.find((r) => r.kind === 'kernel-object' && r.name === 'Global\\svcdup-testsvc-singleton')!;
    // created as Global\X and opened as \BaseNamedObjects\X: one object
    expect(mutex).toMatchObject({
      used: 'Global\\svcdup-testsvc-singleton',
      decision: 'renamed',
      calls: ['NtCreateMutant', 'NtOpenMutant'],
      role: 'creates',
      count: 2,
      firstTime: '2026-11-25T20:03:22.061Z',
      pids: [304, 310],
      issues: [6],
      foundStatically: true,
      staticValues: ['Global\\svcdup-testsvc-singleton'],
    });
    expect(mutex.effective).toContain('svcdup.probe1.');
    expect(s.resources.find((r) => r.kind === 'pipe' && r.name === '\\\\.\\pipe\\svcdup-testsvc')).toMatchObject({
      count: 2,
      role: 'serves',
      foundStatically: true,
      issues: [7],
    });
    // svcdup-host's relay pipe is svcdup's own, not a finding
    const relay = s.resources.find((r) => r.name.includes('svcdup.relay'))!;
    expect(relay).toMatchObject({ svcdup: true, decision: 'open', foundStatically: false });
    // the registry key the binary spells with %ls matches the key actually opened
    expect(s.resources.find((r) => r.kind === 'registry')).toMatchObject({
      foundStatically: true,
      staticValues: ['SYSTEM\\CurrentControlSet\\Services\\%ls\\Parameters'],
      issues: [2],
    });
    expect(s.resources.find((r) => r.kind === 'child-process')).toMatchObject({ name: 'child process', decision: 'joined', issues: [10] });
    expect(s.resources.find((r) => r.kind === 'network')).toMatchObject({ name: 'tcp 0.0.0.0:8080', role: 'binds', issues: [8] });

    expect(s.crossReference.confirmed.map((c) => c.name).sort()).toEqual(
      ['Global\\svcdup-testsvc-singleton', 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\svcdup-testsvc\\Parameters', '\\\\.\\pipe\\svcdup-testsvc'].sort(),
    );
    expect(s.crossReference.missedStatically.map((m) => m.name)).toEqual(['Local\\runtime-built-7', '\\\\.\\pipe\\lrpc\\epmapper', 'tcp 0.0.0.0:8080']);
    expect(s.crossReference.notSeen).toEqual([]);
    // first use first
    expect(s.resources[0]!.firstTime <= s.resources.at(-1)!.firstTime).toBe(true);
  });

  it('a static name not seen at run time is listed as such', () => {
    const s = summarizeTrace(parseTrace(''), [
      { category: 'pipe', value: '\\\\.\\pipe\\never', name: 'never', detail: {}, role: 'serves', issues: [7], evidence: [] },
      { category: 'registry', value: 'SOFTWARE\\X', name: 'SOFTWARE\\X', detail: {}, role: 'unknown', issues: [2], evidence: [] },
    ]);
    expect(s.crossReference.notSeen).toEqual([{ category: 'pipe', value: '\\\\.\\pipe\\never', name: 'never' }]);
  });

  it('folds run-time names into the issues', async () => {
    const stat = await analyzeFile(join(nativeDir, 'svcdup-testsvc.exe'));
    const summary = summarizeTrace(parseTrace(RECORDED), stat.binary!.names);
    const trace: TraceReport = {
      vm: 'probe1',
      seconds: 2,
      startedAt: '',
      endedAt: '',
      service: { started: true, duplicated: ['svcdup-testsvc@probe1'], shared: [] },
      cleanup: { removed: ['svcdup-testsvc@probe1'], processesEnded: 0 },
      warnings: ['the listener fell behind: 3 decisions were dropped'],
      ...summary,
    };
    // as if the static analysis had ruled out network endpoints (#8)
    const ruledOut = {
      ...stat,
      issues: stat.issues.map((i) =>
        i.id === 8 ? { ...i, applies: 'no' as const, resolution: 'not-needed' as const, how: 'no network endpoints', evidence: [] } : i,
      ),
    };
    const r = applyTrace(ruledOut, trace);
    const issue = (id: number) => r.issues.find((i) => i.id === id)!;
    expect(issue(6).evidence[0]).toMatchObject({ source: 'trace' });
    expect(issue(6).evidence[0]!.text).toMatch(
      /^traced: NtCreateMutant\/NtOpenMutant\("Global\\\\svcdup-testsvc-singleton"\) renamed to .*svcdup\.probe1\.svcdup-testsvc-singleton.*2 times.*found statically too/,
    );
    expect(issue(6).how).toMatch(/At run time \(2 s in VM probe1\): Global\\svcdup-testsvc-singleton, Local\\runtime-built-7/);
    // issues the static analysis ruled out, shown to apply by the trace
    expect(issue(8)).toMatchObject({ applies: 'yes', resolution: 'resolved' });
    expect(issue(8).how).toMatch(/^each VM has its own address/);
    expect(issue(10)).toMatchObject({ applies: 'yes', resolution: 'resolved' });
    expect(issue(12).evidence.some((e) => e.text.includes('lrpc\\\\epmapper'))).toBe(true);
    // svcdup's own relay pipe is evidence for nothing
    expect(r.issues.flatMap((i) => i.evidence).some((e) => e.text.includes('svcdup.relay'))).toBe(false);
    expect(r.warnings).toContain('trace: the listener fell behind: 3 decisions were dropped');
    // an issue the trace has nothing for drops the static report's pointer to --trace
    const hinted = {
      ...stat,
      issues: stat.issues.map((i) => (i.id === 9 ? { ...i, how: 'copy-on-write; --trace will list them once the VM layer exists' } : i)),
    };
    expect(applyTrace(hinted, trace).issues.find((i) => i.id === 9)!.how).toBe('copy-on-write; the trace saw none in 2 s');
    expect(r.trace).toBe(trace);
  });
});

describe('traceService (fake VM layer)', () => {
  const fakeLab = (fail: Partial<Record<'listen' | 'dup' | 'start' | 'remove', Error>>, lines = '') => {
    const log: string[] = [];
    const lab: TraceLab = {
      exists: () => false,
      createVm: async (vm) => void log.push(`create ${vm}`),
      listen: async (vm) => {
        log.push(`listen ${vm}`);
        if (fail.listen) throw fail.listen;
        return { stop: async () => (log.push('unlisten'), { output: lines }) };
      },
      dup: async (s, vm) => {
        log.push(`dup ${s} ${vm}`);
        if (fail.dup) throw fail.dup;
        return { duplicated: [`${s}@${vm}`], shared: [] };
      },
      start: async (s) => {
        log.push(`start ${s}`);
        if (fail.start) throw fail.start;
      },
      stop: async (s) => void log.push(`stop ${s}`),
      removeVm: async (vm) => {
        log.push(`remove ${vm}`);
        if (fail.remove) throw fail.remove;
        return { removed: [], processesEnded: 0 };
      },
      processes: async () => 0,
    };
    return { lab, log };
  };
  let stat: AnalyzeReport;
  beforeAll(async () => {
    const file = await analyzeFile(join(nativeDir, 'svcdup-testsvc.exe'));
    stat = { ...file, service: { name: 'svcdup-testsvc' } as NonNullable<AnalyzeReport['service']> };
  });

  it('listens before it starts the service, and removes the VM after', async () => {
    const { lab, log } = fakeLab({}, RECORDED);
    const r = await traceService(stat as Parameters<typeof traceService>[0], 0.01, lab);
    const vm = r.trace!.vm;
    expect(vm).toMatch(/^analyze-[a-z0-9]+-[a-z0-9]+$/);
    expect(log).toEqual([
      `create ${vm}`,
      `listen ${vm}`,
      `dup svcdup-testsvc ${vm}`,
      'start svcdup-testsvc',
      'stop svcdup-testsvc',
      'unlisten',
      'unlisten',
      `remove ${vm}`,
    ]);
    expect(r.trace!.service.started).toBe(true);
  });

  it('a service that fails to start is a finding, and the VM is still removed', async () => {
    const { lab, log } = fakeLab({ start: new SvcdupError('svcdup-testsvc@x stopped while starting: Win32 exit code 2') });
    const r = await traceService(stat as Parameters<typeof traceService>[0], 5, lab);
    expect(r.trace!.service).toMatchObject({
      started: false,
      error: expect.stringMatching(/stopped while starting/),
      duplicated: [expect.stringMatching(/^svcdup-testsvc@analyze-/)],
    });
    expect(log).not.toContain('stop svcdup-testsvc');
    expect(log.at(-1)).toMatch(/^remove analyze-/);
    expect(r.warnings.join('\n')).toMatch(/did not start in the VM/);
  });

  it('a plan that cannot be made, or a listener that fails, is an error: the VM is removed all the same', async () => {
    const a = fakeLab({ dup: new UsageError('svcdup-testsvc depends on X, which is not installed') });
    await expect(traceService(stat as Parameters<typeof traceService>[0], 1, a.lab)).rejects.toThrow(
      /cannot duplicate svcdup-testsvc for the trace: .*--share NAME/,
    );
    expect(a.log.at(-1)).toMatch(/^remove analyze-/);
    const b = fakeLab({ listen: new SvcdupError('the trace listener exited') });
    await expect(traceService(stat as Parameters<typeof traceService>[0], 1, b.lab)).rejects.toThrow(/listener exited/);
    expect(b.log.at(-1)).toMatch(/^remove analyze-/);
    const c = fakeLab({ remove: new SvcdupError('VM still has processes') });
    await expect(traceService(stat as Parameters<typeof traceService>[0], 0.01, c.lab)).rejects.toThrow(
      /could not be removed: VM still has processes; remove it with: svcdup vm rm analyze-/,
    );
  });
});

describe('svcdup analyze SERVICE --trace under Wine', () => {
  let host: TestHost;
  const SVC = 'svcdup-testsvc';
  const cli = (args: string[]) =>
    spawnSync('node', [join(packageRoot, 'dist/cli.js'), ...args], { env: testEnv(host.paths), encoding: 'utf8', timeout: 180_000 });
  function cliJson<T>(args: string[]): T {
    const r = cli([...args, '--json']);
    expect(r.status, `svcdup ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout) as T;
  }
  async function nothingLeft(): Promise<void> {
    expect(cliJson<unknown[]>(['vm', 'ls'])).toEqual([]);
    expect(cliJson<unknown[]>(['status'])).toEqual([]);
    expect(cliJson<unknown[]>(['ps'])).toEqual([]);
    const b = host.backend;
    await expect(b.call('reg.query', { key: SVCDUP_KEY })).rejects.toSatisfy((e: unknown) => e instanceof AgentError && e.code === Win32.ERROR_FILE_NOT_FOUND);
    const procs = await b.call('proc.list', {});
    expect(procs.filter((p) => /^svcdup-(run|host)\.exe$/i.test(p.image))).toEqual([]);
    expect((await b.call('scm.list', {})).filter((s) => s.name.includes('@'))).toEqual([]);
  }

  beforeAll(async () => {
    const r = spawnSync('npm', ['run', '-s', 'build:ts'], { cwd: packageRoot, encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    host = await openTestHost('anatrace');
    const b = host.backend;
    await b.call('scm.create', { name: SVC, displayName: 'svcdup test service', imagePath: nativeExe(b, 'svcdup-testsvc.exe') });
    // the host's own copy runs: the duplicate in the scratch VM must not collide with it
    await b.call('scm.start', { name: SVC });
    await b.call('scm.create', { name: 'svcdup-testsvc-broken', imagePath: 'C:\\nonexistent\\svcdup-testsvc-broken.exe' });
    await b.close();
  }, 300_000);

  afterAll(async () => host?.dispose());

  it('records the names the service used, renamed into the scratch VM, and finds them statically too', async () => {
    const r = cli(['analyze', SVC, '--trace', '2', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as AnalyzeReport;
    const t = report.trace!;
    expect(t.vm).toMatch(/^analyze-[a-z0-9]+-[a-z0-9]+$/);
    expect(t.service).toMatchObject({ started: true, duplicated: [`${SVC}@${t.vm}`], shared: [] });
    expect(t.cleanup.removed).toEqual([`${SVC}@${t.vm}`]);
    const prefix = `svcdup.${t.vm}.`;
    const mutex = t.resources.find((x) => x.kind === 'kernel-object' && x.name === 'Global\\svcdup-testsvc-singleton');
    expect(mutex, JSON.stringify(t.resources)).toMatchObject({ decision: 'renamed', calls: ['NtCreateMutant'], foundStatically: true });
    expect(mutex!.effective).toContain(`${prefix}svcdup-testsvc-singleton`);
    const pipe = t.resources.find((x) => x.kind === 'pipe' && x.name === '\\\\.\\pipe\\svcdup-testsvc');
    expect(pipe).toMatchObject({ decision: 'renamed', role: 'serves', foundStatically: true });
    expect(pipe!.effective).toMatch(new RegExp(`pipe\\\\${prefix.replace(/\./g, '\\.')}svcdup-testsvc$`, 'i')); // \??\pipe\ or, resolved, \Device\NamedPipe\
    expect(pipe!.pids).toEqual(mutex!.pids);
    expect(t.crossReference.confirmed.map((c) => c.name)).toEqual(expect.arrayContaining(['Global\\svcdup-testsvc-singleton', '\\\\.\\pipe\\svcdup-testsvc']));
    expect(t.crossReference.notSeen).toEqual([]);
    expect(t.events).toBeGreaterThanOrEqual(2);
    expect(t.dropped).toBe(0);
    const i6 = report.issues.find((i) => i.id === 6)!;
    expect(i6.evidence[0]!.source).toBe('trace');
    expect(i6.how).toMatch(/At run time \(2 s in VM analyze-/);
    await nothingLeft();
    // the host's copy was never disturbed
    expect((await host.backend.call('scm.status', { name: SVC })).state).toBe('RUNNING');
  }, 180_000);

  it('prints the trace as text', () => {
    const r = cli(['analyze', SVC, '--trace', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/trace: in scratch VM analyze-\S+ \(removed\), svcdup-testsvc ran 1 s; \d+ decisions/);
    expect(r.stdout).toMatch(
      /kernel-object\s+Global\\svcdup-testsvc-singleton -> \S*svcdup\.analyze-\S+\.svcdup-testsvc-singleton\s+\[renamed, 1x, pid \d+, static: yes\]/,
    );
    expect(r.stdout).toMatch(/found statically and seen: .*Global\\svcdup-testsvc-singleton/);
    expect(r.stderr).toMatch(/svcdup: removing scratch VM analyze-/);
  }, 180_000);

  it('leaves nothing behind when the service cannot start', async () => {
    const r = cli(['analyze', 'svcdup-testsvc-broken', '--trace', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const t = (JSON.parse(r.stdout) as AnalyzeReport).trace!;
    expect(t.service).toMatchObject({ started: false, duplicated: [`svcdup-testsvc-broken@${t.vm}`] });
    expect(t.service.error).toMatch(/svcdup-testsvc-broken@analyze-\S+ stopped while starting/);
    expect(t.cleanup.removed).toEqual([`svcdup-testsvc-broken@${t.vm}`]);
    await nothingLeft();
  }, 180_000);
});
