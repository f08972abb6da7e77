import { describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../src/backend/types.js';
import { planDuplicate } from '../src/plan/plan.js';
import { snapshotFolders } from '../src/plan/snapshot.js';
import { configFolders, configFoldersOf, serviceConfigFiles } from '../src/analyze/configfiles.js';
import { parseConfigText } from '../src/analyze/settings.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStep } from '../src/plan/steps.js';

describe('snapshotFolders', () => {
  it("takes folders in ImagePath arguments and in Parameters, not the image's own folder", () => {
    expect(
      snapshotFolders({ imagePath: '"C:\\Program Files\\PG\\bin\\pg_ctl.exe" runservice -N "pg" -D "C:\\PG Data\\main" --log=D:\\logs\\pg.log' }, [
        { name: 'DataDir', type: 'REG_SZ', data: 'E:\\db' },
        { name: 'Extra', type: 'REG_MULTI_SZ', data: ['F:\\cache\\', 'not a path'] },
        { name: 'N', type: 'REG_DWORD', data: 3 },
      ]),
    ).toEqual(['C:\\PG Data\\main', 'D:\\logs', 'E:\\db', 'F:\\cache']);
  });

  it('never the system folders; a folder inside another is dropped; case-insensitively unique', () => {
    expect(
      snapshotFolders({ imagePath: 'C:\\windows\\system32\\svchost.exe -k netsvcs', svchostGroup: 'netsvcs', serviceDll: '%SystemRoot%\\system32\\x.dll' }),
    ).toEqual([]);
    expect(snapshotFolders({ imagePath: 'C:\\app\\svc.exe C:\\app\\data c:\\APP\\data\\sub' })).toEqual(['C:\\app\\data']);
    expect(snapshotFolders({ imagePath: 'C:\\windows\\system32\\x.exe C:\\' })).toEqual([]);
  });

  it('unquoted images with spaces and environment strings', () => {
    expect(snapshotFolders({ imagePath: '%ProgramFiles%\\Svc\\svc.exe -config %ProgramData%\\Svc\\svc.conf' })).toEqual(['C:\\ProgramData\\Svc']);
  });
});

describe('folders named in configuration files (issue 24.0)', () => {
  const conf = (path: string, text: string) => ({ path, parsed: parseConfigText(new TextEncoder().encode(text)) });

  it('data, log and pid folders of a config file; relative paths against its folder; not the binaries', () => {
    const files = [
      conf(
        'C:\\mosq\\mosquitto.conf',
        'persistence_location C:\\mosqdata\\\nlog_dir = logs\npid_file "D:\\run\\m.pid"\nplugin C:\\mosq\\bin\\auth.dll\ndata_dir C:\\mosq\n',
      ),
    ];
    expect(configFolders(files, 'C:\\mosq\\bin\\mosquitto.exe')).toEqual(['C:\\mosqdata', 'C:\\mosq\\logs', 'D:\\run']);
    // the image's folder and the folders holding it are where the binaries are: never
    expect(configFolders([conf('C:\\a\\a.ini', 'datadir=C:\\a\\bin\nlogdir=C:\\a\n')], 'C:\\a\\bin\\a.exe')).toEqual([]);
    // a file that could not be read names nothing
    expect(configFolders([{ path: 'C:\\x.conf' }])).toEqual([]);
  });

  it('snapshotFolders takes them with the ImagePath and Parameters ones, one list', () => {
    const files = [conf('C:\\svc\\svc.conf', 'document_root C:\\www\nlog_dir = C:\\www\\logs\n')];
    const svc = { imagePath: 'C:\\svc\\bin\\svc.exe -c C:\\svc\\svc.conf' };
    expect(snapshotFolders(svc, [], configFoldersOf(svc, files))).toEqual(['C:\\svc', 'C:\\www']);
    const bare = { imagePath: 'C:\\svc\\bin\\svc.exe' };
    expect(snapshotFolders(bare, [], configFoldersOf(bare, files))).toEqual(['C:\\www']);
  });

  it("reads the files the settings name and those in the data and image's folders", async () => {
    const root = mkdtempSync(join(tmpdir(), 'svcdup-conf-'));
    try {
      const win = (p: string) => join(root, p.slice(3).replace(/\\/g, '/'));
      mkdirSync(join(root, 'app/bin'), { recursive: true });
      mkdirSync(join(root, 'cfg'), { recursive: true });
      writeFileSync(join(root, 'app/bin/app.ini'), 'data_directory = C:\\appdata\n');
      writeFileSync(join(root, 'cfg/main.cfg'), 'log_dir = C:\\applogs\n');
      const files = await serviceConfigFiles(win, 'C:\\app\\bin\\app.exe --config C:\\cfg\\main.cfg', [
        { name: 'Missing', type: 'REG_SZ', data: 'C:\\nowhere\\x.conf' },
      ]);
      expect(files.map((f) => [f.path, f.error ?? 'read'])).toEqual([
        ['C:\\cfg\\main.cfg', 'read'],
        ['C:\\nowhere\\x.conf', 'named in its settings, but not found'],
        ['C:\\app\\bin\\app.ini', 'read'],
      ]);
      const app = { imagePath: 'C:\\app\\bin\\app.exe --config C:\\cfg\\main.cfg' };
      expect(snapshotFolders(app, [], configFoldersOf(app, files))).toEqual(['C:\\appdata', 'C:\\applogs', 'C:\\cfg']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the snapshot steps of a duplication plan', () => {
  const cfg: ServiceConfig = {
    name: 'pgsql',
    displayName: 'pgsql',
    type: 0x10,
    start: 'DEMAND',
    errorControl: 1,
    imagePath: '"C:\\pg\\bin\\pg_ctl.exe" runservice -N "pgsql" -D "C:\\pgdata" -w',
    loadOrderGroup: '',
    account: 'LocalSystem',
    dependOnService: [],
    dependOnGroup: [],
    description: '',
  };
  const input = { service: 'pgsql', vm: 'a', configs: [cfg], hostExe: 'C:\\svcdup-host.exe' };

  it('come first, one per folder, each with its undo; none when none are given', () => {
    const to = 'C:\\ProgramData\\svcdup\\VMs\\a\\files\\C\\pgdata';
    const plan = planDuplicate({ ...input, snapshots: [{ folder: 'C:\\pgdata', to, bytes: 3 * 1048576 }] });
    expect(plan.steps[0]).toEqual({ kind: 'files.snapshot', args: { vm: 'a', folder: 'C:\\pgdata', to, bytes: 3 * 1048576 } });
    expect(plan.steps.filter((s) => s.kind === 'files.snapshot')).toHaveLength(1);
    expect(describeStep(plan.steps[0]!)).toEqual({ does: `snapshot folder C:\\pgdata (3.0 MB) into VM a's files: ${to}`, undo: `delete ${to}` });
    expect(planDuplicate(input).steps.some((s) => s.kind === 'files.snapshot')).toBe(false);
  });
});
