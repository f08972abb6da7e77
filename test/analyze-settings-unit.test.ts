// The pure parts that follow the whole service and decide the verdict: command lines split as
// Windows splits them, configuration files (PostgreSQL's postgresql.conf format, ini), what a
// setting means, state rules and snapshot folders, verdict classes and dup's refusal. No Wine.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../src/backend/types.js';
import { packageRoot } from '../src/config.js';
import {
  analyzeService,
  assembleFootprint,
  configSettings,
  decideVerdict,
  dupRefusal,
  meaningOf,
  parseCommandLine,
  parseConfigText,
  ruleFor,
  stateRules,
  stateSection,
} from '../src/analyze/index.js';
import { readHead } from '../src/analyze/files.js';
import { decideFile, decideKey } from '../src/vm/policy.js';
import { parsePolicy } from '../src/vm/policy-file.js';
import { closureOf } from '../src/plan/closure.js';
import { serviceTypeName } from '../src/services.js';
import { fakeHost, serviceConfig } from './fixtures/analyze/helpers.js';

const cfg = (c: Partial<ServiceConfig> & { name: string }): ServiceConfig => serviceConfig(c, 'C:\\svc');

describe('command lines', () => {
  it('splits as CommandLineToArgvW: quotes, backslashes before quotes, doubled quotes', () => {
    expect(
      parseCommandLine(
        '"C:\\Program Files\\PostgreSQL\\16\\bin\\pg_ctl.exe" runservice -N "postgresql-x64-16" -D "C:\\Program Files\\PostgreSQL\\16\\data" -w',
      ),
    ).toEqual({
      image: 'C:\\Program Files\\PostgreSQL\\16\\bin\\pg_ctl.exe',
      args: ['runservice', '-N', 'postgresql-x64-16', '-D', 'C:\\Program Files\\PostgreSQL\\16\\data', '-w'],
      warnings: [],
    });
    expect(parseCommandLine('C:\\a\\b.exe x\\\\"y z" a\\"b "c""d"').args).toEqual(['x\\y z', 'a"b', 'c"d']);
    expect(parseCommandLine('C:\\a\\b.exe').args).toEqual([]);
  });

  it('an unbalanced quote is a warning, not a crash', () => {
    const a = parseCommandLine('"C:\\Program Files\\x.exe -D C:\\data');
    expect(a.image).toBe('C:\\Program Files\\x.exe -D C:\\data');
    expect(a.warnings[0]).toMatch(/opens a quote that never closes/);
    const b = parseCommandLine('C:\\x.exe -D "C:\\data dir');
    expect(b.args).toEqual(['-D', 'C:\\data dir']);
    expect(b.warnings[0]).toMatch(/arguments open a quote/);
  });
});

describe('configuration files', () => {
  const pgConf = readFileSync(join(packageRoot, 'test/fixtures/analyze/pgdata/postgresql.conf'));

  it("reads PostgreSQL's postgresql.conf: port, listen address, data and log folders, pid file", () => {
    const parsed = parseConfigText(pgConf);
    expect(parsed.format).toBe('key-value');
    expect(parsed.entries.find((e) => e.key === 'port')).toMatchObject({ value: '5432', line: 26 });
    expect(parsed.entries.find((e) => e.key === 'search_path')!.value).toBe('"$user", public');
    expect(parsed.entries.some((e) => e.key === 'hba_file')).toBe(false); // commented out
    const s = configSettings('C:\\pgdata\\postgresql.conf', parsed);
    const by = (m: string) => s.filter((x) => x.meaning === m).map((x) => x.value);
    expect(by('port')).toEqual(['5432']);
    expect(by('address')).toEqual(['*']);
    expect(by('data-folder')).toEqual(['C:\\pgdata']);
    // relative to the data folder, where the file is
    expect(by('log-folder')).toEqual(['C:\\pgdata\\log']);
    expect(by('pid-file')).toEqual(['C:\\pgdata\\postmaster.pid']);
    expect(s.find((x) => x.meaning === 'port')!.source).toBe('C:\\pgdata\\postgresql.conf:26 port');
  });

  it('reads ini files with sections and host:port values', () => {
    const p = parseConfigText(
      new TextEncoder().encode(
        '; my.ini\n[mysqld]\nport=3306\ndatadir="C:/ProgramData/MySQL/Data"\n[http]\nlisten = 0.0.0.0:8080 ; web\npidfile = run\\srv.pid\n',
      ),
    );
    expect(p.format).toBe('ini');
    const s = configSettings('C:\\srv\\my.ini', p);
    expect(s.map((x) => `${x.meaning}=${x.value}`)).toEqual([
      'port=3306',
      'data-folder=C:\\ProgramData\\MySQL\\Data',
      'address=0.0.0.0:8080',
      'port=8080',
      'pid-file=C:\\srv\\run\\srv.pid',
    ]);
    expect(s[0]!.source).toBe('C:\\srv\\my.ini:3 [mysqld] port');
  });

  it('a binary file, or one of 100 MB, is reported, not parsed whole', async () => {
    const bin = parseConfigText(Uint8Array.from([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0, 4, 0]));
    expect(bin).toMatchObject({ entries: [], warning: expect.stringMatching(/not a text file/) });
    const dir = mkdtempSync(join(tmpdir(), 'svcdup-conf-'));
    try {
      const big = join(dir, 'huge.conf');
      writeFileSync(big, 'port = 7000\n');
      const fd = openSync(big, 'r+');
      ftruncateSync(fd, 100 * 1024 * 1024);
      closeSync(fd);
      const { bytes, size } = await readHead(big);
      expect(size).toBe(100 * 1024 * 1024);
      expect(bytes.length).toBe(1024 * 1024);
      // the rest of a sparse file is NUL bytes: not text
      const p = parseConfigText(bytes, size);
      expect(p.warning).toMatch(/not a text file/);
      const text = new Uint8Array(1024 * 1024).fill(0x20);
      text.set(new TextEncoder().encode('port = 7000\n'));
      expect(parseConfigText(text, size).warning).toMatch(/only the first 1048576 of 104857600 bytes were read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('what a setting means, by name then value', () => {
    expect(meaningOf('port', '5432')).toBe('port');
    expect(meaningOf('tcp', '7300')).toBe('port');
    expect(meaningOf('port', 'auto')).toBeUndefined();
    expect(meaningOf('D', 'C:\\data')).toBe('data-folder');
    expect(meaningOf('bind', '127.0.0.1')).toBe('address');
    expect(meaningOf('LogDir', 'D:\\logs')).toBe('log-folder');
    expect(meaningOf('Greeting', 'hello')).toBeUndefined();
    expect(meaningOf('Anything', 'C:\\x\\server.conf')).toBe('config-file');
    expect(meaningOf('Anything', 'C:\\x\\y')).toBe('folder');
  });
});

describe('the whole service, assembled', () => {
  it('a launcher with -D DATA and a config file there: the port with its address, the folders it writes', () => {
    const commandLine = parseCommandLine('"C:\\pg\\bin\\pg_ctl.exe" runservice -N pg -D "C:\\pgdata" --tcp 9000 --bind 127.0.0.1');
    const f = assembleFootprint({
      commandLine,
      image: commandLine.image,
      parameters: [{ name: 'LogDir', value: 'logs' }],
      programs: [{ path: 'C:\\pg\\bin\\postgres.exe', source: 'own-folder', evidence: 'utf16 "postgres.exe"', exists: true }],
      configFiles: [
        { path: 'C:\\pgdata\\postgresql.conf', parsed: parseConfigText(readFileSync(join(packageRoot, 'test/fixtures/analyze/pgdata/postgresql.conf'))) },
        { path: 'C:\\pgdata\\broken.conf', error: 'cannot read it: EACCES' },
      ],
    });
    expect(f.ports).toEqual([
      { port: 9000, address: '127.0.0.1', source: 'ImagePath argument --tcp' },
      { port: 5432, address: '*', source: 'C:\\pgdata\\postgresql.conf:26 port' },
    ]);
    expect(f.writes.map((w) => w.path)).toEqual(['C:\\pgdata', 'C:\\pg\\bin\\logs', 'C:\\pgdata\\log', 'C:\\pg\\bin']);
    expect(f.configFiles).toEqual([
      expect.objectContaining({ path: 'C:\\pgdata\\postgresql.conf', settings: expect.any(Number) }),
      { path: 'C:\\pgdata\\broken.conf', format: 'key-value', settings: 0, warning: 'cannot read it: EACCES' },
    ]);
  });
});

describe('state: rules and snapshot folders', () => {
  const policy = [
    'open pipes foo',
    'open files C:\\shared\\logs',
    'closed files C:\\secret\\*',
    'private files C:\\data\\cache*',
    'open keys HKLM\\SOFTWARE\\Shared*',
    'bogus files C:\\x',
  ].join('\n');

  it('reads the files and keys lines of a policy; a pattern matches the whole path, as the hook matches', () => {
    const rules = stateRules(policy);
    expect(rules.map((r) => `${r.rule} ${r.kind} ${r.pattern}`)).toEqual([
      'open files C:\\shared\\logs',
      'closed files C:\\secret\\*',
      'private files C:\\data\\cache*',
      'open keys HKLM\\SOFTWARE\\Shared*',
    ]);
    expect(ruleFor(rules, 'files', 'c:/SHARED/logs')).toEqual({ rule: 'open', source: 'open files C:\\shared\\logs' });
    // as the hook matches: the whole path, so a folder pattern without \\* is the folder only
    expect(ruleFor(rules, 'files', 'c:/SHARED/logs/today.log')).toEqual({ rule: 'cow', source: 'default' });
    expect(ruleFor(rules, 'files', 'C:\\secret\\a\\b')).toMatchObject({ rule: 'closed' });
    expect(ruleFor(rules, 'files', 'C:\\data\\cache2')).toMatchObject({ rule: 'private' });
    expect(ruleFor(rules, 'files', 'C:\\data\\db')).toEqual({ rule: 'cow', source: 'default' });
    expect(ruleFor(rules, 'keys', 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Shared\\X')).toMatchObject({ rule: 'open' });
    expect(ruleFor(rules, 'files', 'C:\\sharedlogs')).toMatchObject({ rule: 'cow' });
  });

  it('gives each path the rule the hook gives it (policy.c: closed, private, cow, open; cow by default)', () => {
    const json = {
      open: { files: ['C:\\shared\\*', 'C:\\logs'], keys: ['HKLM\\SOFTWARE\\Shared*'] },
      cow: { files: ['C:\\shared\\db*'], keys: ['HKLM\\SOFTWARE\\Shared\\Mine*'] },
      closed: { files: ['C:\\shared\\db\\secret*'] },
      private: { files: ['C:\\cache*'] },
    };
    const p = parsePolicy(JSON.stringify(json));
    const text = Object.entries(json)
      .flatMap(([v, kinds]) => Object.entries(kinds).flatMap(([k, pats]) => (pats as string[]).map((x) => `${v} ${k} ${x}`)))
      .join('\n');
    const rules = stateRules(text);
    const files = ['C:\\shared\\a.txt', 'C:\\shared\\db\\x', 'C:\\shared\\db\\secret.key', 'C:\\logs', 'C:\\logs\\a.log', 'C:\\cache2\\x', 'D:\\other'];
    expect(files.map((f) => ruleFor(rules, 'files', f).rule)).toEqual(files.map((f) => decideFile(p, f)));
    expect(files.map((f) => ruleFor(rules, 'files', f).rule)).toEqual(['open', 'cow', 'closed', 'open', 'cow', 'private', 'cow']);
    const keys = ['HKLM\\SOFTWARE\\Shared\\X', 'HKLM\\SOFTWARE\\Shared\\Mine\\Y', 'HKLM\\SOFTWARE\\Other'];
    expect(keys.map((k) => ruleFor(rules, 'keys', k).rule)).toEqual(keys.map((k) => decideKey(p, k)));
    expect(keys.map((k) => ruleFor(rules, 'keys', k).rule)).toEqual(['open', 'cow', 'cow']);
  });

  it('snapshots the cow folders it is known to write, never the Windows folder', () => {
    const s = stateSection({
      folders: [
        { path: 'C:\\data', why: 'data-folder', snapshot: true },
        { path: 'C:\\shared\\logs', why: 'log-folder', snapshot: true },
        { path: 'C:\\windows\\system32', why: "the image's own folder", snapshot: true },
        { path: 'C:\\DATA\\', why: 'again', snapshot: true },
      ],
      files: [{ path: 'C:\\run\\svc.pid', why: 'pid-file' }],
      keys: [{ path: 'HKLM\\SOFTWARE\\Shared\\Counter', why: 'writes it' }],
      policyText: policy,
      policy: 'web1',
    });
    expect(s.policy).toBe('web1');
    expect(s.snapshot).toEqual(['C:\\data']);
    expect(s.paths.map((p) => `${p.kind} ${p.path} ${p.rule}${p.snapshot ? ' snapshot' : ''}`)).toEqual([
      'folder C:\\data cow snapshot',
      'folder C:\\shared\\logs open',
      'folder C:\\windows\\system32 cow',
      'file C:\\run\\svc.pid cow',
      'folder C:\\run cow',
      'key HKLM\\SOFTWARE\\Shared\\Counter open',
    ]);
  });
});

describe('verdicts', () => {
  const facts = { keyExists: true, imageExists: true };

  it('cannot run on the host: missing image, disabled, a dependency that cannot start; each with its fix', () => {
    const v = decideVerdict({ label: 'F', config: cfg({ name: 'F' }), facts: { keyExists: true, imageExists: false } });
    expect(v.kind).toBe('cannot-run-on-host');
    expect(v.reasons[0]).toMatchObject({ code: 'image-missing', fix: expect.stringMatching(/sc config F binPath=/) });
    const d = decideVerdict({ label: 'L', config: cfg({ name: 'L', start: 'DISABLED' }), facts });
    expect(d.reasons).toEqual([expect.objectContaining({ code: 'disabled', fix: 'enable it first: sc config L start= demand' })]);
    const all = [cfg({ name: 'Web', dependOnService: ['Db', 'Gone'] }), cfg({ name: 'Db', start: 'DISABLED' })];
    const c = closureOf('Web', all);
    const w = decideVerdict({ label: 'Web', config: all[0]!, facts, closureProblems: c.problems, duplicatedDependencies: [{ config: all[1]!, facts }] });
    expect(w.kind).toBe('cannot-run-on-host');
    expect(w.reasons.map((r) => r.code)).toEqual(['dependency-missing', 'dependency-cannot-start']);
    expect(w.reasons[1]!.text).toMatch(/Web depends on Db, which cannot start: its dependency Db is disabled/);
  });

  it('not duplicable: a kernel driver, a driver host, a service with no key, an SCM-owned one', () => {
    expect(decideVerdict({ label: 'HTTP', config: cfg({ name: 'HTTP', type: 1 }), facts }).reasons[0]!.code).toBe('kernel-driver');
    const wd = decideVerdict({
      label: 'Winedevice1',
      config: cfg({ name: 'Winedevice1', imagePath: 'C:\\windows\\system32\\winedevice.exe' }),
      facts: { keyExists: false, imageExists: true },
    });
    expect(wd.kind).toBe('not-duplicable');
    expect(wd.reasons.map((r) => r.code)).toEqual(['driver-host', 'no-service-key']);
    expect(decideVerdict({ label: 'S', config: cfg({ name: 'S', imagePath: 'C:\\Windows\\System32\\lsass.exe' }), facts }).reasons[0]!.code).toBe('scm-owned');
  });

  it('duplicable only with a rule: the host instance holds its wildcard port (under Wine)', () => {
    const v = decideVerdict({
      label: 'Db',
      config: cfg({ name: 'Db' }),
      facts: { ...facts, running: true, backend: 'wine' },
      ports: [
        { port: 5432, address: '*', source: 'postgresql.conf:26 port' },
        { port: 9000, address: '127.0.0.1', source: 'arg' },
      ],
    });
    expect(v.kind).toBe('duplicable-with-policy');
    expect(v.rules).toEqual(['svcdup vm create VM --port-map 5432:15432']);
    expect(decideVerdict({ label: 'Db', config: cfg({ name: 'Db' }), facts: { ...facts, running: false }, ports: [{ port: 5432, source: 'x' }] }).kind).toBe(
      'duplicable',
    );
    expect(
      decideVerdict({ label: 'Db', config: cfg({ name: 'Db' }), facts: { ...facts, running: true, backend: 'windows' }, ports: [{ port: 5432, source: 'x' }] })
        .kind,
    ).toBe('duplicable');
  });

  it("dup's refusal names the reasons and the fixes; the duplicable kinds go ahead", () => {
    const v = decideVerdict({ label: 'F', config: cfg({ name: 'F', start: 'DISABLED' }), facts: { keyExists: true, imageExists: false } });
    const msg = dupRefusal(v, 'F')!;
    expect(msg.split('\n')[0]).toMatch(
      /^F cannot run on the host either, so not in a VM: F is disabled on the host .*; the image of F, C:\\svc\\F\.exe, does not exist/,
    );
    expect(msg.split('\n')[1]).toMatch(/^ {2}fix: enable it first: sc config F start= demand; install the program/);
    expect(dupRefusal(decideVerdict({ label: 'ok', config: cfg({ name: 'ok' }), facts }), 'ok')).toBeUndefined();
  });

  it('one service type name', () => {
    expect(serviceTypeName(0x110)).toBe('own-process+interactive');
    expect(serviceTypeName(0x1)).toBe('kernel-driver');
  });
});

describe('malformed service keys (stand-in host)', () => {
  it('a key with missing values, an ImagePath with unbalanced quotes: a report, not a crash', async () => {
    const host = fakeHost({
      configs: [
        cfg({ name: 'Empty', displayName: '', imagePath: '', account: '' }),
        cfg({ name: 'Quote', imagePath: 'C:\\x.exe -D "C:\\data' }),
        cfg({ name: 'Quote2', imagePath: '"C:\\Program Files\\x.exe -D C:\\data' }),
        cfg({ name: 'Nul', imagePath: 'C:\\x\u0000y.exe \u0001\u0002 "' }),
      ],
    });
    const e = await analyzeService('Empty', host);
    expect(e.verdict.kind).toBe('duplicable');
    expect(e.footprint!.commandLine).toEqual({ image: '', args: [], warnings: [] });
    const q = await analyzeService('Quote', host);
    expect(q.warnings.join('\n')).toMatch(/quote that never closes/);
    expect(q.footprint!.settings.find((s) => s.meaning === 'data-folder')?.value).toBe('C:\\data');
    const q2 = await analyzeService('Quote2', host);
    expect(q2.warnings.join('\n')).toMatch(/the ImagePath opens a quote that never closes/);
    const n = await analyzeService('Nul', host);
    expect(n.verdict.kind).toBeDefined();
  });
});
