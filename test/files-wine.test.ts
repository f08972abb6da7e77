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
import { COW_POLICY, nativeExe, openTestHost, type TestHost } from './helpers.js';

let host: TestHost;
let db: Db;
let vms: Vms;
const ft = () => nativeExe(host.backend, 'svcdup-ft.exe');
/** stdout as the test compares it; a process that printed nothing says how it ended instead,
 *  so a failure that was not the program's own answer (it never ran) is told apart */
const lf = (r: ExecResult): ExecResult => {
  const out = r.stdout.replace(/\r\n/g, '\n').trim();
  return { ...r, stdout: out || (r.code === 0 ? '' : `(no output: exit ${r.code}${r.stderr.trim() ? `, ${r.stderr.trim()}` : ''})`) };
};
const onHost = async (...args: string[]) => lf(await host.backend.exec([ft(), ...args]));
const inVm = async (vm: string, ...args: string[]) => lf(await vms.run(vm, [ft(), ...args]));
/** The host's real file, read from Linux: what no VM may change. */
const hostFile = (win: string) => host.backend.toHostPath(win);
const hostText = (win: string) => readFileSync(hostFile(win), 'utf8');

beforeAll(async () => {
  host = await openTestHost('files');
  db = openDb(host.paths.stateDb);
  vms = new Vms(host.backend, dbVmStore(db));
  // file copy-on-write is every VM's default; an explicit `cow files` rule changes nothing
  await vms.create('a');
  await vms.create('b', COW_POLICY);
  const d = hostFile('C:\\ft');
  mkdirSync(join(d, 'sub'), { recursive: true });
  writeFileSync(join(d, 'keep.txt'), 'host keep');
  writeFileSync(join(d, 'edit.txt'), 'host edit');
  writeFileSync(join(d, 'gone.txt'), 'host gone');
  writeFileSync(join(d, 'move.txt'), 'host move');
  writeFileSync(join(d, 'sub', 'inner.txt'), 'host inner');
  writeFileSync(join(d, 'spell.txt'), 'host spell');
  mkdirSync(hostFile('C:\\ft8\\Long Folder Name'), { recursive: true });
  writeFileSync(hostFile('C:\\ft8\\Long Folder Name\\host file name.txt'), 'host short');
  for (const f of ['link.txt', 'map.txt', 'lock.txt', 'attr.txt', 'name.txt']) writeFileSync(join(d, f), `host ${f}`);
  mkdirSync(hostFile('C:\\ftx'), { recursive: true });
  for (const f of ['across1.txt', 'across2.txt']) writeFileSync(hostFile(`C:\\ftx\\${f}`), `host ${f}`);
  for (const f of ['cp', 'del', 'new']) mkdirSync(hostFile(`C:\\fty\\${f}`), { recursive: true });
  for (const f of ['cp', 'del']) writeFileSync(hostFile(`C:\\fty\\${f}\\${f}.txt`), `host ${f}`);
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

  it('NtOpenFile for reading is a read, whatever lies in the stack past its 6 arguments', async () => {
    // the cause of svchost-hosted services exiting with 1067 under the file layer: slots 7..9
    // were read as NtCreateFile's share, disposition and options, so Wine's loader opening a DLL
    // copied it up and then failed to open the copy
    expect((await inVm('b', 'ntopen', 'C:\\ft\\keep.txt')).stdout).toBe('text=host keep');
    expect(diffFiles(host.backend, 'b')).toEqual([]);
    expect((await inVm('b', 'read', 'C:\\ft\\keep.txt')).stdout).toBe('text=host keep');
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
    expect((await inVm('a', 'attr', '\\\\?\\Global\\C:\\ft\\gone.txt')).code).toBe(2); // \??\Global\ is \??\ again, for attributes as
    // for opens (names.c resolves those); Wine's own NtQueryAttributesFile does not know it (error 66)
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

  // (once failed with error 5: FindFirstFile's NtOpenFile read with stack garbage as options)
  it('listings merge host and VM entries minus whiteouts, sorted as NTFS sorts', async () => {
    const a = await inVm('a', 'list', 'C:\\ft');
    const rest = 'attr.txt|edit.txt|keep.txt|link.txt|lock.txt|map.txt|';
    expect(a.stdout).toBe(`list=${rest}moved.txt|name.txt|newdir|spell.txt|sub`);
    expect((await inVm('b', 'list', 'C:\\ft')).stdout).toBe(
      'list=attr.txt|edit.txt|gone.txt|keep.txt|link.txt|lock.txt|map.txt|move.txt|name.txt|spell.txt|sub',
    );
    expect((await onHost('list', 'C:\\ft')).stdout.split('=')[1]!.split('|').sort()).toEqual([
      'attr.txt',
      'edit.txt',
      'gone.txt',
      'keep.txt',
      'link.txt',
      'lock.txt',
      'map.txt',
      'move.txt',
      'name.txt',
      'spell.txt',
      'sub',
    ]);
    // a mask, and a second listing in the same VM after one more change
    expect((await inVm('a', 'write', 'C:\\ft\\Aardvark.txt', 'x')).stdout).toBe('ok');
    expect((await inVm('a', 'list', 'C:\\ft')).stdout).toBe(`list=Aardvark.txt|${rest}moved.txt|name.txt|newdir|spell.txt|sub`);
    expect((await inVm('a', 'delete', 'C:\\ft\\Aardvark.txt')).stdout).toBe('ok');
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

  // the merge looks each host entry up in the VM's sorted changes: a big folder, changes spread through it
  it('a 300-entry folder with 80 VM changes lists every entry once, minus the deleted, sorted', async () => {
    const d = hostFile('C:\\ftbig');
    mkdirSync(d, { recursive: true });
    const host300 = Array.from({ length: 300 }, (_, i) => `e${String(i).padStart(4, '0')}.txt`);
    for (const f of host300) writeFileSync(join(d, f), 'x');
    // svcdup-fbench change: e0000-e0039 appended to (copied up), e0040-e0059 deleted, n0060-n0079 new
    const ch = await vms.run('a', [nativeExe(host.backend, 'svcdup-fbench.exe'), 'change', 'C:\\ftbig', '80']);
    expect(ch.stdout.trim()).toBe('{"changed":80}');
    const want = [...host300.filter((_, i) => i < 40 || i >= 60), ...Array.from({ length: 20 }, (_, i) => `n${String(60 + i).padStart(4, '0')}.txt`)].sort();
    expect((await inVm('a', 'list', 'C:\\ftbig')).stdout).toBe(`list=${want.join('|')}`);
    expect((await inVm('b', 'list', 'C:\\ftbig')).stdout).toBe(`list=${host300.join('|')}`);
  });
});

describe('every spelling of a host path lands in the VM', () => {
  const prefix = () => host.paths.prefix;
  const spellings = (): string[] => {
    const p = prefix().replace(/\//g, '\\');
    return [
      'C:\\ft\\spell.txt',
      'c:\\FT\\SPELL.TXT',
      'C:\\ft\\.\\sub\\..\\spell.txt',
      'C:/ft/spell.txt',
      '\\\\?\\C:\\ft\\spell.txt',
      '\\\\.\\C:\\ft\\spell.txt',
      '\\\\?\\GLOBALROOT\\??\\C:\\ft\\spell.txt',
      '\\\\?\\GLOBALROOT\\DosDevices\\C:\\ft\\spell.txt',
      `Z:${p}\\drive_c\\ft\\spell.txt`,
      `Z:${p}\\dosdevices\\c:\\ft\\spell.txt`,
      `\\\\?\\unix${p}\\drive_c\\ft\\spell.txt`,
    ];
  };

  // \\?\GLOBALROOT\??\C: is resolved by the isolation layer first (names.c): the file layer decides
  // on that resolved name, so a write through it never reaches the host file
  it('writes through each spelling change only the VM copy; all spellings then read it', async () => {
    for (const [i, sp] of spellings().entries()) {
      const w = await inVm('b', 'write', sp, `vm b ${i}`);
      expect(w.stdout, sp).toBe('ok');
      expect(hostText('C:\\ft\\spell.txt'), sp).toBe('host spell');
      // read back through the canonical spelling and the next one in the list
      const all = spellings();
      for (const other of [all[0]!, all[(i + 1) % all.length]!]) expect((await inVm('b', 'read', other)).stdout, `${sp} then ${other}`).toBe(`text=vm b ${i}`);
    }
  }, 300_000);

  it('deleting and renaming through other spellings also stays in the VM', async () => {
    const p = prefix().replace(/\//g, '\\');
    expect((await inVm('b', 'rename', `Z:${p}\\drive_c\\ft\\spell.txt`, '\\\\?\\C:\\ft\\spelled.txt')).stdout).toBe('ok');
    expect((await inVm('b', 'delete', 'C:\\FT\\SPELLED.TXT')).stdout).toBe('ok');
    expect((await inVm('b', 'read', 'C:\\ft\\spell.txt')).code).toBe(2);
    expect(hostText('C:\\ft\\spell.txt')).toBe('host spell');
    expect(existsSync(hostFile('C:\\ft\\spelled.txt'))).toBe(false);
  });

  it("svcdup's own folder and the private area are closed to a VM in every spelling", async () => {
    const p = prefix().replace(/\//g, '\\');
    const area = fileAreaWin('b');
    for (const sp of [
      `${area}\\C\\ft\\edit.txt`,
      `c:\\programdata\\SVCDUP\\vms\\b\\files\\C\\x.txt`,
      `Z:${p}\\drive_c\\ProgramData\\svcdup\\x.txt`,
      `\\\\?\\C:\\ProgramData\\svcdup`,
    ]) {
      expect((await inVm('b', 'write', sp, 'x')).code, sp).toBe(5);
      expect((await inVm('b', 'read', sp)).code, sp).toBe(5);
    }
    expect((await inVm('b', 'list', 'C:\\ProgramData\\svcdup')).code).toBe(5);
  });

  it('names of svcdup bookkeeping and malformed names are refused', async () => {
    expect((await inVm('b', 'write', 'C:\\ft\\.svcdup-wh.keep.txt', 'x')).code).toBe(123); // ERROR_INVALID_NAME
    expect((await inVm('b', 'write', 'C:\\ft\\bad<name>.txt', 'x')).code).toBe(123);
    expect((await inVm('b', 'write', `C:\\ft\\${'n'.repeat(300)}.txt`, 'x')).code).toBeGreaterThan(0);
    expect(readdirSync(hostFile('C:\\ft')).some((n) => n.startsWith('bad') || n.startsWith('nnn'))).toBe(false);
  });
});

describe('what a real program does with a file', () => {
  it('a hard link made in the VM shares the VM copy, never the host file', async () => {
    expect((await inVm('a', 'link', 'C:\\ft\\link.txt', 'C:\\ft\\linked.txt')).stdout).toBe('ok');
    expect((await inVm('a', 'write', 'C:\\ft\\linked.txt', 'through link')).stdout).toBe('ok');
    expect(hostText('C:\\ft\\link.txt')).toBe('host link.txt');
    expect(existsSync(hostFile('C:\\ft\\linked.txt'))).toBe(false);
    expect((await inVm('a', 'read', 'C:\\ft\\linked.txt')).stdout).toBe('text=through link');
  });

  it('a memory-mapped write changes the VM copy only', async () => {
    expect((await inVm('a', 'mmap', 'C:\\ft\\map.txt', 'MAPPED')).stdout).toBe('ok');
    expect((await inVm('a', 'read', 'C:\\ft\\map.txt')).stdout).toBe('text=MAPPEDap.txt');
    expect(hostText('C:\\ft\\map.txt')).toBe('host map.txt');
  });

  it('a byte-range lock holds on the VM copy (a second handle is refused)', async () => {
    expect((await inVm('a', 'lock', 'C:\\ft\\lock.txt')).stdout).toBe('second=33'); // ERROR_LOCK_VIOLATION
    expect(hostText('C:\\ft\\lock.txt')).toBe('host lock.txt');
  });

  it('attribute changes copy up; the host keeps its attributes', async () => {
    expect((await inVm('a', 'setattr', 'C:\\ft\\attr.txt', '1')).stdout).toBe('ok'); // READONLY
    const attr = (r: ExecResult) => Number(/attr=(0x[0-9a-f]+)/.exec(r.stdout)?.[1]);
    expect(attr(await inVm('a', 'attr', 'C:\\ft\\attr.txt')) & 1).toBe(1);
    expect(attr(await onHost('attr', 'C:\\ft\\attr.txt')) & 1).toBe(0);
    expect(attr(await inVm('b', 'attr', 'C:\\ft\\attr.txt')) & 1).toBe(0);
  });

  // a process remembers which paths the VM's area does not hold (files_cache.c): what another
  // process of the VM changes must show in its very next open and attribute query
  it("another VM process's change shows at once: copy-up, delete, create", async () => {
    const across = async (...args: string[]) => (await inVm('a', 'across', ...args)).stdout.split('\n').at(-1);
    expect(await across('append', 'C:\\ftx\\across1.txt', '+vm')).toBe('before=host across1.txt after=host across1.txt+vm attr=ok');
    expect(await across('delete', 'C:\\ftx\\across2.txt')).toBe('before=host across2.txt after=error 2 attr=error 2');
    expect(await across('write', 'C:\\ftx\\across3.txt', 'new')).toBe('before=error 2 after=new attr=ok');
    // a copy this process opened before (tried by its unix spelling next time) that another deletes
    expect(await across('delete', 'C:\\ftx\\across1.txt')).toBe('before=host across1.txt+vm after=error 2 attr=error 2');
    expect(hostText('C:\\ftx\\across1.txt')).toBe('host across1.txt');
    expect(hostText('C:\\ftx\\across2.txt')).toBe('host across2.txt');
    expect(existsSync(hostFile('C:\\ftx\\across3.txt'))).toBe(false);
  });

  // and which folders the area does not have (STATUS_OBJECT_PATH_NOT_FOUND): each read below is
  // the first in a folder the VM never changed, so the area's folder is remembered absent; the
  // other process makes it (a copy, a whiteout, a new file), and the next open must look again
  it("another VM process's change in a folder the area did not have shows at once", async () => {
    const across = async (...args: string[]) => (await inVm('a', 'across', ...args)).stdout.split('\n').at(-1);
    expect(await across('append', 'C:\\fty\\cp\\cp.txt', '+vm')).toBe('before=host cp after=host cp+vm attr=ok');
    expect(await across('delete', 'C:\\fty\\del\\del.txt')).toBe('before=host del after=error 2 attr=error 2');
    expect(await across('write', 'C:\\fty\\new\\new.txt', 'new')).toBe('before=error 2 after=new attr=ok');
    expect(hostText('C:\\fty\\cp\\cp.txt')).toBe('host cp');
    expect(hostText('C:\\fty\\del\\del.txt')).toBe('host del');
    expect(existsSync(hostFile('C:\\fty\\new\\new.txt'))).toBe(false);
  });

  it('a process opening its copy again reads the copy, in any case spelling', async () => {
    writeFileSync(hostFile('C:\\ft\\sub\\again.txt'), 'host again');
    expect((await inVm('a', 'write', 'C:\\ft\\sub\\again.txt', 'vm again')).stdout).toBe('ok');
    const [p, q] = ['C:\\ft\\sub\\again.txt', 'c:\\FT\\Sub\\AGAIN.TXT'];
    expect((await inVm('a', 'reads', p, p, p, q, q, q, p, p)).stdout.split('\n')).toEqual(Array(8).fill('text=vm again'));
  });

  it('a VM process sees the name it used, not the private copy', async () => {
    expect((await inVm('a', 'write', 'C:\\ft\\name.txt', 'x')).stdout).toBe('ok');
    expect((await inVm('a', 'name', 'C:\\ft\\name.txt')).stdout).toBe('name=\\\\?\\C:\\ft\\name.txt');
    expect((await inVm('a', 'name', 'C:\\ft')).stdout).toBe('name=\\\\?\\C:\\ft');
  });

  // under Wine the hook opens a private copy by its unix path first (docs/state.md, "What an open
  // costs"), where '/' separates and '..' climbs: from a's copy of C:\ft\sub, five up is VMs, then b's
  it("a '/' in an NT name never climbs out of the VM's area to another VM's copy", async () => {
    expect((await inVm('b', 'write', 'C:\\ft\\sub\\secret.txt', 'b secret')).stdout).toBe('ok');
    expect((await inVm('a', 'write', 'C:\\ft\\sub\\mine.txt', 'a mine')).stdout).toBe('ok');
    expect((await inVm('a', 'ntopen', '\\\\?\\C:\\ft\\sub/../sub/mine.txt')).stdout).toBe('status 0xc0000033');
    expect((await inVm('a', 'ntopen', '\\\\?\\C:\\ft\\sub/../../../../../b/files/C/ft/sub/secret.txt')).stdout).toBe('status 0xc0000033');
  });

  it('8.3 short names: a write through one copies up, never writes the host; a VM file has one too', async () => {
    const long = 'C:\\ft8\\Long Folder Name\\host file name.txt';
    const short = (r: ExecResult) => /^short=(.*)$/.exec(r.stdout)?.[1] ?? r.stdout;
    const s = short(await onHost('short', long));
    expect(s).toMatch(/^C:\\ft8\\[^\\]*~[^\\]*\\[^\\]*~/);
    expect((await inVm('a', 'write', s, 'vm short')).stdout).toBe('ok');
    expect(hostText(long)).toBe('host short');
    expect((await inVm('a', 'read', long)).stdout).toBe('text=vm short');
    expect((await inVm('a', 'read', s)).stdout).toBe('text=vm short');
    expect((await inVm('b', 'read', s)).stdout).toBe('text=host short');
    // a file only the VM has answers to its short name in the VM
    const mine = 'C:\\ft8\\Long Folder Name\\vm private name.txt';
    expect((await inVm('a', 'write', mine, 'mine')).stdout).toBe('ok');
    const ms = short(await inVm('a', 'short', mine));
    expect(ms).toMatch(/~/);
    expect((await inVm('a', 'read', ms)).stdout).toBe('text=mine');
    expect(existsSync(hostFile(mine))).toBe(false);
    // svcdup's own folder stays closed under its short name
    const area = short(await onHost('short', `${fileAreaWin('a')}\\C\\ft8`));
    expect(area).toMatch(/~/);
    expect((await inVm('a', 'list', area)).code).toBe(5);
    expect((await inVm('a', 'write', `${area}\\x.txt`, 'x')).code).toBe(5);
  });

  it('long paths (over MAX_PATH) work in the VM and stay out of the host', async () => {
    const deep = 'C:\\ft\\' + Array.from({ length: 12 }, (_, i) => `folder-number-${i}-of-a-long-path`).join('\\');
    const parts = deep.split('\\');
    for (let i = 3; i <= parts.length; i++) expect((await inVm('a', 'mkdir', '\\\\?\\' + parts.slice(0, i).join('\\'))).code).toBe(0);
    expect(deep.length).toBeGreaterThan(300);
    expect((await inVm('a', 'write', `\\\\?\\${deep}\\f.txt`, 'deep')).stdout).toBe('ok');
    expect((await inVm('a', 'read', `\\\\?\\${deep}\\f.txt`)).stdout).toBe('text=deep');
    expect(existsSync(hostFile('C:\\ft\\folder-number-0-of-a-long-path'))).toBe(false);
  });
});
