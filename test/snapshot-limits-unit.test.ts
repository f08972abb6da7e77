// What no snapshot may take (src/plan/snapshot-limits.ts): drive roots, svcdup's own folders;
// and one folder in two spellings is one.
import { describe, expect, it } from 'vitest';
import { canonicalFolder, driveAliases, snapshotRefusal } from '../src/plan/snapshot-limits.js';

const aliases = driveAliases('open pipes x\nalias files C: Z:\\h\\.svcdup\\prefix\\drive_c\nalias files C: Z:\\h\\.svcdup\\prefix\\dosdevices\\c:\n');
const own = [
  { folder: 'Z:\\h\\.svcdup', what: "svcdup's home" },
  { folder: 'C:\\ProgramData\\svcdup', what: "svcdup's state folder" },
];

describe('snapshot limits', () => {
  it('reads the alias lines of a rules text', () => {
    expect(aliases).toEqual([
      { drive: 'C:', spelling: 'Z:\\h\\.svcdup\\prefix\\drive_c' },
      { drive: 'C:', spelling: 'Z:\\h\\.svcdup\\prefix\\dosdevices\\c:' },
    ]);
  });
  it('spells a folder with its drive letter, whichever alias names it (case-insensitively)', () => {
    expect(canonicalFolder('z:\\H\\.svcdup\\prefix\\DRIVE_C\\data\\', aliases)).toBe('C:\\data');
    expect(canonicalFolder('Z:\\h\\.svcdup\\prefix\\drive_c', aliases)).toBe('C:');
    expect(canonicalFolder('Z:\\h\\.svcdup\\prefix\\drive_cx', aliases)).toBe('Z:\\h\\.svcdup\\prefix\\drive_cx');
    expect(canonicalFolder('D:\\data', aliases)).toBe('D:\\data');
  });
  it("refuses a drive's root, svcdup's folders, what holds them and what is inside them", () => {
    expect(snapshotRefusal('C:', own)).toMatch(/drive's root \(C:\\\)/);
    expect(snapshotRefusal('z:\\', own)).toMatch(/drive's root \(Z:\\\)/);
    expect(snapshotRefusal('Z:\\h', own)).toMatch(/^holds svcdup's home/);
    expect(snapshotRefusal('Z:\\H\\.svcdup', own)).toMatch(/^holds svcdup's home/);
    expect(snapshotRefusal('Z:\\h\\.svcdup\\vms', own)).toMatch(/^inside svcdup's home/);
    expect(snapshotRefusal('C:\\ProgramData\\svcdup\\VMs\\a\\files\\C\\x', own)).toMatch(/^inside svcdup's state folder/);
    expect(snapshotRefusal('C:\\data', own)).toBeUndefined();
    expect(snapshotRefusal('Z:\\h\\.svcdupx', own)).toBeUndefined();
  });
});
