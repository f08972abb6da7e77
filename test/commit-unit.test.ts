import { describe, expect, it } from 'vitest';
import { type FileFact, type KeyFact, planCommit } from '../src/portable/commit.js';

const file = (kind: FileFact['kind'], path: string, born: number, hostMtime?: number, dir = false): FileFact => ({
  kind,
  path,
  area: `/area/${path}`,
  host: `/host/${path}`,
  dir,
  born,
  ...(hostMtime !== undefined ? { hostMtime } : {}),
});
const backup = (i: number) => `/backup/${i}`;

describe('planCommit', () => {
  const files = [
    file('A', 'C:\\app\\new', 100, undefined, true),
    file('A', 'C:\\app\\new\\x.txt', 100),
    file('C', 'C:\\app\\state.txt', 100, 50),
    file('C', 'C:\\app\\journal.txt', 100, 150),
    file('D', 'C:\\app\\old.txt', 100, 60),
  ];
  const keys: KeyFact[] = [
    { change: 'Added', key: 'HKLM\\Software\\App', vmValues: [{ name: 'N', type: 'REG_DWORD', data: 2 }] },
    { change: 'Added', key: 'HKLM\\Software\\App', value: 'N' },
    { change: 'Changed', key: 'HKLM\\Software\\Other' },
    {
      change: 'Changed',
      key: 'HKLM\\Software\\Other',
      value: 'V',
      vmValues: [{ name: 'V', type: 'REG_SZ', data: 'vm' }],
      hostValue: { name: 'V', type: 'REG_SZ', data: 'host' },
    },
    { change: 'Deleted', key: 'HKLM\\Software\\Other', value: 'Gone', hostValue: { name: 'Gone', type: 'REG_SZ', data: 'x' } },
    { change: 'Deleted', key: 'HKLM\\Software\\Dead', hostTree: { name: 'Dead', values: [], subkeys: [] } },
  ];

  it('a file the host changed after the VM copied it is a conflict, not written; the rest is', () => {
    const p = planCommit(files, keys, { backup });
    expect(p.conflicts).toEqual(["C C:\\app\\journal.txt: the host changed it after the VM's copy was made"]);
    expect(p.items).toEqual([
      'A C:\\app\\new',
      'A C:\\app\\new\\x.txt',
      'C C:\\app\\state.txt',
      'D C:\\app\\old.txt',
      'A HKLM\\Software\\App',
      'C HKLM\\Software\\Other [V]',
      'D HKLM\\Software\\Other [Gone]',
      'D HKLM\\Software\\Dead',
    ]);
    expect(p.steps.map((s) => s.kind)).toEqual([
      'files.commitDir',
      'files.commit',
      'files.commit',
      'files.commitDelete',
      'reg.ownKey',
      'reg.setValue',
      'reg.unsetValue',
      'reg.deleteTree',
    ]);
    expect(p.steps[2]!.args).toEqual({ from: '/area/C:\\app\\state.txt', to: '/host/C:\\app\\state.txt', backup: '/backup/2', existed: true });
    expect(p.steps[5]!.args).toEqual({
      key: 'HKLM\\Software\\Other',
      value: { name: 'V', type: 'REG_SZ', data: 'vm' },
      previous: { name: 'V', type: 'REG_SZ', data: 'host' },
    });
    expect(p.whiteouts).toEqual(['/area/C:\\app\\old.txt']);
  });

  it('--force writes conflicts; named items only, files and keys under them', () => {
    const forced = planCommit(files, [], { backup, force: true, select: ['c:\\APP\\journal.txt'] });
    expect(forced.items).toEqual(['C C:\\app\\journal.txt']);
    expect(forced.conflicts).toHaveLength(1);
    const some = planCommit(files, keys, { backup, select: ['C:\\app\\new\\', 'HKLM\\Software\\Other'] });
    expect(some.items).toEqual(['A C:\\app\\new', 'A C:\\app\\new\\x.txt', 'C HKLM\\Software\\Other [V]', 'D HKLM\\Software\\Other [Gone]']);
    expect(planCommit(files, keys, { backup, select: ['C:\\nothing'] }).steps).toEqual([]);
  });

  it("a key the host wrote after the VM's copy was last written is a conflict: its values and its delete; --force writes them", () => {
    const at = (k: KeyFact, hostWritten: number, vmWritten: number): KeyFact => ({ ...k, hostWritten, vmWritten });
    const timed = [at(keys[3]!, 200, 100), at(keys[4]!, 200, 100), at(keys[5]!, 90, 100), keys[0]!, keys[1]!];
    const p = planCommit([], timed, { backup });
    expect(p.conflicts).toEqual([
      "C HKLM\\Software\\Other [V]: the host changed the key after the VM's copy was made",
      "D HKLM\\Software\\Other [Gone]: the host changed the key after the VM's copy was made",
    ]);
    expect(p.items).toEqual(['D HKLM\\Software\\Dead', 'A HKLM\\Software\\App']);
    const dead = planCommit([], [at(keys[5]!, 101, 100)], { backup });
    expect(dead).toMatchObject({ items: [], steps: [], conflicts: ["D HKLM\\Software\\Dead: the host changed the key after the VM's copy was made"] });
    const forced = planCommit([], timed, { backup, force: true });
    expect(forced.items).toEqual(['C HKLM\\Software\\Other [V]', 'D HKLM\\Software\\Other [Gone]', 'D HKLM\\Software\\Dead', 'A HKLM\\Software\\App']);
    expect(forced.conflicts).toHaveLength(2);
  });
});
