import { describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../src/backend/types.js';
import { planDuplicate } from '../src/plan/plan.js';
import { snapshotFolders } from '../src/plan/snapshot.js';
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
