// Copy-on-write files end to end (docs/state.md): real processes in VMs under Wine
// change files; the host's copies and the other VMs' views stay as they were.
import { existsSync, readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecResult } from '../src/backend/types.js';
import { openDb, type Db } from '../src/state/db.js';
import { dbVmStore } from '../src/vm/store.js';
import { Vms } from '../src/vm/ops.js';
import { diffFiles, fileAreaWin } from '../src/vm/files.js';
import { nativeExe, openTestHost, type TestHost } from './helpers.js';

let host: TestHost;
let db: Db;
let vms: Vms;
const ft = () => nativeExe(host.backend, 'svcdup-ft.exe');
const lf = (r: ExecResult): ExecResult => ({ ...r, stdout: r.stdout.replace(/\r\n/g, '\n').trim() });
const onHost = async (...args: string[]) => lf(await host.backend.exec([ft(), ...args]));
const inVm = async (vm: string, ...args: string[]) => lf(await vms.run(vm, [ft(), ...args]));
/** The host's real file, read from Linux: what no VM may change. */
const hostFile = (win: string) => host.backend.toHostPath(win);
const hostText = (win: string) => readFileSync(hostFile(win), 'utf8');

beforeAll(async () => {
  host = await openTestHost('files');
  db = openDb(host.paths.stateDb);
  vms = new Vms(host.backend, dbVmStore(db));
  await vms.create('a');
  await vms.create('b');
  const d = hostFile('C:\\ft');
  mkdirSync(join(d, 'sub'), { recursive: true });
  writeFileSync(join(d, 'keep.txt'), 'host keep');
  writeFileSync(join(d, 'edit.txt'), 'host edit');
  writeFileSync(join(d, 'gone.txt'), 'host gone');
  writeFileSync(join(d, 'move.txt'), 'host move');
  writeFileSync(join(d, 'sub', 'inner.txt'), 'host inner');
}, 120_000);
afterAll(async () => {
  db?.close();
  await host?.dispose();
});

describe('copy-on-write', () => {
  it('reads fall through; a write lands in the VM only', async () => {
    expect((await inVm('a', 'read', 'C:\\ft\\keep.txt')).stdout).toBe('text=host keep');
    expect((await inVm('a', 'write', 'C:\\ft\\edit.txt', 'vm a edit')).stdout).toBe('ok');
    expect((await inVm('a', 'read', 'C:\\ft\\edit.txt')).stdout).toBe('text=vm a edit');
    expect((await inVm('b', 'read', 'C:\\ft\\edit.txt')).stdout).toBe('text=host edit');
    expect((await onHost('read', 'C:\\ft\\edit.txt')).stdout).toBe('text=host edit');
    expect(hostText('C:\\ft\\edit.txt')).toBe('host edit');
  });

  it('append copies up first: the VM sees host content plus its line', async () => {
    expect((await inVm('a', 'append', 'C:\\ft\\keep.txt', '+a')).stdout).toBe('ok');
    expect((await inVm('a', 'read', 'C:\\ft\\keep.txt')).stdout).toBe('text=host keep+a');
    expect(hostText('C:\\ft\\keep.txt')).toBe('host keep');
  });

  it('new files and folders are created in the VM only', async () => {
    expect((await inVm('a', 'mkdir', 'C:\\ft\\newdir')).stdout).toBe('ok');
    expect((await inVm('a', 'write', 'C:\\ft\\newdir\\n.txt', 'new')).stdout).toBe('ok');
    expect((await inVm('a', 'read', 'C:\\ft\\newdir\\n.txt')).stdout).toBe('text=new');
    expect(existsSync(hostFile('C:\\ft\\newdir'))).toBe(false);
    expect((await inVm('b', 'read', 'C:\\ft\\newdir\\n.txt')).code).toBe(3); // ERROR_PATH_NOT_FOUND
  });

  it('delete leaves a whiteout: gone in the VM, present on the host and in other VMs', async () => {
    expect((await inVm('a', 'delete', 'C:\\ft\\gone.txt')).stdout).toBe('ok');
    expect((await inVm('a', 'read', 'C:\\ft\\gone.txt')).code).toBe(2);
    expect((await inVm('a', 'attr', 'C:\\ft\\gone.txt')).code).toBe(2);
    expect((await inVm('a', 'delete', 'C:\\ft\\gone.txt')).code).toBe(2);
    expect((await inVm('b', 'read', 'C:\\ft\\gone.txt')).stdout).toBe('text=host gone');
    expect(hostText('C:\\ft\\gone.txt')).toBe('host gone');
  });

  it('rename moves within the view: the old name is gone, the new one has the content', async () => {
    expect((await inVm('a', 'rename', 'C:\\ft\\move.txt', 'C:\\ft\\moved.txt')).stdout).toBe('ok');
    expect((await inVm('a', 'read', 'C:\\ft\\moved.txt')).stdout).toBe('text=host move');
    expect((await inVm('a', 'read', 'C:\\ft\\move.txt')).code).toBe(2);
    expect(hostText('C:\\ft\\move.txt')).toBe('host move');
    expect(existsSync(hostFile('C:\\ft\\moved.txt'))).toBe(false);
  });

  it('listings merge host and VM entries minus whiteouts, sorted as NTFS sorts', async () => {
    const a = await inVm('a', 'list', 'C:\\ft');
    expect(a.stdout).toBe('list=edit.txt|keep.txt|moved.txt|newdir|sub');
    expect((await inVm('b', 'list', 'C:\\ft')).stdout).toBe('list=edit.txt|gone.txt|keep.txt|move.txt|sub');
    expect((await onHost('list', 'C:\\ft')).stdout.split('=')[1]!.split('|').sort()).toEqual(['edit.txt', 'gone.txt', 'keep.txt', 'move.txt', 'sub']);
  });

  it('vm diff lists exactly what the VM changed', () => {
    const d = diffFiles(host.backend, 'a');
    expect(d).toEqual([
      { kind: 'C', path: 'C:\\ft\\edit.txt' },
      { kind: 'D', path: 'C:\\ft\\gone.txt' },
      { kind: 'C', path: 'C:\\ft\\keep.txt' },
      { kind: 'D', path: 'C:\\ft\\move.txt' },
      { kind: 'A', path: 'C:\\ft\\moved.txt' },
      { kind: 'A', path: 'C:\\ft\\newdir' },
      { kind: 'A', path: 'C:\\ft\\newdir\\n.txt' },
    ]);
    expect(diffFiles(host.backend, 'b')).toEqual([]);
  });
});
