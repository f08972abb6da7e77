import { describe, expect, it } from 'vitest';
import { snapshotFolders } from '../src/plan/snapshot.js';

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
