// The VM's copy-on-write registry (docs/state.md, "Registry"), end to end: one probe program
// (native/tests/regtest/regprobe.c) run on the host and in VMs of one test host; each step's
// answer is what a real process read back from Wine's registry.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Duplicates } from '../src/dup/dup.js';
import { openDb, type Db } from '../src/state/db.js';
import { cloneKeys, diffKeys, type KeyChange } from '../src/vm/keys.js';
import { dbVmStore } from '../src/vm/store.js';
import { Vms } from '../src/vm/ops.js';
import { nativeExe, openTestHost, type TestHost } from './helpers.js';

let host: TestHost;
let db: Db;
let vms: Vms;
let probe: string;
let sid: string; // S-1-5-21-...
const before: Record<string, string> = {};
const HIVES = ['HKLM\\SOFTWARE', 'HKLM\\SYSTEM', 'HKU'];

/** One line per step, "op: result", CRs dropped. */
const lines = (out: string) =>
  out
    .replace(/\r/g, '')
    .trim()
    .split('\n')
    .map((l) => l.replace(/^\w+: /, ''));
const onHost = async (...steps: string[]) => lines((await host.backend.exec([probe, ...steps])).stdout);
const inVm = async (vm: string, ...steps: string[]) => {
  const r = await vms.run(vm, [probe, ...steps]);
  expect(r.code, r.stderr).toBe(0);
  return lines(r.stdout);
};

async function exportHives(tag: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [i, hive] of HIVES.entries()) {
    const file = join(host.paths.home, `${tag}-${i}.reg`);
    const r = await host.backend.exec(['reg', 'export', hive, host.backend.toWindowsPath(file), '/y']);
    expect(r.code, r.stderr).toBe(0);
    out[hive] = readFileSync(file, 'latin1');
  }
  return out;
}

beforeAll(async () => {
  host = await openTestHost('regcow');
  db = openDb(host.paths.stateDb);
  vms = new Vms(host.backend, dbVmStore(db), new Duplicates(host.backend, db));
  probe = nativeExe(host.backend, 'svcdup-regprobe.exe');
  sid = (await onHost('hkcu'))[0]!.split('\\').pop()!;
  // the host's keys the VMs will read, change and delete
  await onHost(
    'set|HKLM\\SOFTWARE\\rt|v|host',
    'set|HKLM\\SOFTWARE\\rt\\k1|v|host1',
    'set|HKLM\\SOFTWARE\\rt\\k2|v|host2',
    'set|HKLM\\SOFTWARE\\rtwatch|v|host',
    'set|HKCU\\Software\\rt|v|hosthkcu',
    'set|HKLM\\SYSTEM\\CurrentControlSet\\Control\\rt|v|hostsys',
    'set|HKLM\\SOFTWARE\\rtopen|v|host',
    'set|HKLM\\SOFTWARE\\rtclosed|v|host',
    'set|HKCU\\Software\\rtpriv|v|host',
    'set|HKCU\\Software\\rtpriv\\sub|v|host',
    'set|HKLM\\SOFTWARE\\rtmem\\k1|v|host1',
    'set|HKLM\\SOFTWARE\\rtmem\\k2|v|host2',
  );
  Object.assign(before, await exportHives('before'));
  const policy = join(host.paths.home, 'keys.json');
  writeFileSync(
    policy,
    JSON.stringify({
      open: { keys: ['HKLM\\SOFTWARE\\rtopen*'] },
      closed: { keys: ['HKLM\\SOFTWARE\\rtclosed*'] },
      private: { keys: ['HKCU\\Software\\rtpriv*'] },
    }),
  );
  await vms.create('a');
  await vms.create('b');
  await vms.create('c', policy);
}, 120_000);
afterAll(async () => {
  db?.close();
  await host?.dispose();
});

describe('copy-on-write keys', () => {
  it("a write lands in the VM's copy; reads fall through; the host and the other VM keep theirs", async () => {
    expect(await inVm('a', 'get|HKLM\\SOFTWARE\\rt|v', 'set|HKLM\\SOFTWARE\\rt|v|vma', 'get|HKLM\\SOFTWARE\\rt|v', 'get|HKLM\\SOFTWARE\\rt\\k1|v')).toEqual([
      'host',
      'ok',
      'vma',
      'host1',
    ]);
    expect(await onHost('get|HKLM\\SOFTWARE\\rt|v')).toEqual(['host']);
    expect(await inVm('b', 'get|HKLM\\SOFTWARE\\rt|v')).toEqual(['host']);
    // a later process of the VM finds its change
    expect(await inVm('a', 'get|HKLM\\SOFTWARE\\rt|v')).toEqual(['vma']);
  });

  it('deleted keys and values stay deleted in the VM only; enumeration and NtQueryKey counts are merged', async () => {
    expect(await inVm('a', 'set|HKLM\\SOFTWARE\\rt\\k3|v|a3', 'delkey|HKLM\\SOFTWARE\\rt\\k1', 'delval|HKLM\\SOFTWARE\\rt\\k2|v')).toEqual(['ok', 'ok', 'ok']);
    // the host adds a key after the VM copied rt: it shows through
    await onHost('set|HKLM\\SOFTWARE\\rt\\k4|v|host4');
    expect(
      await inVm('a', 'enum|HKLM\\SOFTWARE\\rt', 'ntcount|\\Registry\\Machine\\Software\\rt', 'enum|HKLM\\SOFTWARE\\rt\\k2', 'get|HKLM\\SOFTWARE\\rt\\k1|v'),
    ).toEqual([
      'subkeys=3 values=1 keys=k2,k3,k4 vals=v',
      'full=3,1', // KeyFullInformation (Wine 8 has no KeyCachedInformation)
      'subkeys=0 values=0 keys= vals=',
      'err 2',
    ]);
    expect(await onHost('enum|HKLM\\SOFTWARE\\rt', 'get|HKLM\\SOFTWARE\\rt\\k2|v')).toEqual(['subkeys=3 values=1 keys=k1,k2,k4 vals=v', 'host2']);
    expect(await inVm('b', 'enum|HKLM\\SOFTWARE\\rt', 'ntcount|\\Registry\\Machine\\Software\\rt')).toEqual([
      'subkeys=3 values=1 keys=k1,k2,k4 vals=v',
      'full=3,1',
    ]);
    // re-created after its deletion, k1 starts empty: the host's values stay hidden
    expect(
      await inVm('a', 'mkkey|HKLM\\SOFTWARE\\rt\\k1', 'enum|HKLM\\SOFTWARE\\rt\\k1', 'delkey|HKLM\\SOFTWARE\\rt\\k1', 'delkey|HKLM\\SOFTWARE\\rt'),
    ).toEqual([
      'created',
      'subkeys=0 values=0 keys= vals=',
      'ok',
      'err 5', // rt still has subkeys in the VM's view
    ]);
  });

  it('HKCU, HKU\\<sid> and \\Registry\\User\\<sid> name one key of the VM', async () => {
    expect(
      await inVm(
        'a',
        `ntset|\\Registry\\User\\${sid}\\Software\\rt|v|vmhkcu`,
        'get|HKCU\\Software\\rt|v',
        `get|HKU\\${sid}\\Software\\rt|v`,
        `ntget|\\REGISTRY\\USER\\${sid.toLowerCase()}\\SOFTWARE\\RT|v`,
      ),
    ).toEqual(['st 0x00000000', 'vmhkcu', 'vmhkcu', 'vmhkcu']);
    expect(await onHost('get|HKCU\\Software\\rt|v')).toEqual(['hosthkcu']);
    expect(await inVm('b', 'get|HKCU\\Software\\rt|v')).toEqual(['hosthkcu']);
  });

  it('RootDirectory-relative opens and other cases of a name reach the same copy; names read back as the VM spelled them', async () => {
    expect(
      await inVm(
        'a',
        'relset|\\Registry\\Machine\\Software|rt\\k2|relval',
        'relget|\\Registry\\Machine\\SOFTWARE\\RT|K2|rel',
        'get|hklm\\software\\RT\\K2|rel',
        'name|HKLM\\SOFTWARE\\rt\\k2',
      ),
    ).toEqual(['st 0x00000000', 'relval', 'relval', '\\REGISTRY\\Machine\\Software\\rt\\k2']);
    expect(await onHost('relget|\\Registry\\Machine\\Software|rt\\k2|rel')).toEqual(['err 2']);
  });

  it("HKLM\\SYSTEM is copy-on-write too; a registry link on the host leads to the target's copy", async () => {
    expect(
      await inVm('a', 'set|HKLM\\SYSTEM\\CurrentControlSet\\Control\\rt|v|vmsys', 'ntget|\\registry\\machine\\system\\currentcontrolset\\control\\RT|v'),
    ).toEqual(['ok', 'vmsys']);
    expect(await onHost('get|HKLM\\SYSTEM\\CurrentControlSet\\Control\\rt|v')).toEqual(['hostsys']);
    // Wine 8 has no ControlSet001 link; a link the host made stands in for one
    expect(await onHost('link|HKLM\\SOFTWARE\\rtlinked|\\Registry\\Machine\\Software\\rt')).toEqual(['ok']);
    expect(await inVm('a', 'set|HKLM\\SOFTWARE\\rtlinked|v2|vialink', 'get|HKLM\\SOFTWARE\\rt|v2', 'get|HKLM\\SOFTWARE\\rtlinked|v')).toEqual([
      'ok',
      'vialink',
      'vma',
    ]);
    expect(await onHost('get|HKLM\\SOFTWARE\\rt|v2', 'unlink|HKLM\\SOFTWARE\\rtlinked')).toEqual(['err 2', 'st 0x00000000']);
  });

  it('a change notification on a key read from the host fires when the VM changes it', async () => {
    expect(await inVm('b', 'notify|HKLM\\SOFTWARE\\rtwatch|n|1', 'get|HKLM\\SOFTWARE\\rtwatch|n')).toEqual(['fired', '1']);
    expect(await onHost('get|HKLM\\SOFTWARE\\rtwatch|n')).toEqual(['err 2']);
  });

  // a process remembers which keys the VM's copies lack (reg_cache.c): each read below is the
  // first of a key the VM never copied, so its missing copy is remembered; a child process of
  // the VM then copies it up or deletes it (a tombstone), and the next open must look again
  it("another VM process's copy or deletion of a key this process read shows at its next open", async () => {
    expect(
      await inVm(
        'b',
        'get|HKLM\\SOFTWARE\\rtmem\\k1|v',
        'child|set|HKLM\\SOFTWARE\\rtmem\\k1|v|vmb',
        'get|HKLM\\SOFTWARE\\rtmem\\k1|v',
        'get|HKLM\\SOFTWARE\\rtmem\\k2|v',
        'child|delkey|HKLM\\SOFTWARE\\rtmem\\k2',
        'get|HKLM\\SOFTWARE\\rtmem\\k2|v',
      ),
    ).toEqual(['host1', 'ok', 'vmb', 'host2', 'ok', 'err 2']);
    expect(await onHost('get|HKLM\\SOFTWARE\\rtmem\\k1|v', 'get|HKLM\\SOFTWARE\\rtmem\\k2|v')).toEqual(['host1', 'host2']);
  });
});

describe('policy and isolation', () => {
  it("keys rules: open writes to the host, closed is denied, private starts empty and hides the host's key", async () => {
    expect(
      await inVm(
        'c',
        'set|HKLM\\SOFTWARE\\rtopen|v|vmc',
        'get|HKLM\\SOFTWARE\\rtclosed|v',
        'set|HKLM\\SOFTWARE\\rtclosed|v|x',
        'get|HKCU\\Software\\rtpriv|v',
        'enum|HKCU\\Software',
      ),
    ).toEqual(['ok', 'err 5', 'err 5', 'err 2', expect.not.stringMatching(/rtpriv/)]);
    expect(await inVm('c', 'set|HKCU\\Software\\rtpriv\\new|v|c', 'enum|HKCU\\Software\\rtpriv', 'get|HKCU\\Software\\rtpriv\\sub|v')).toEqual([
      'ok',
      'subkeys=1 values=0 keys=new vals=',
      'err 2',
    ]);
    expect(await onHost('get|HKLM\\SOFTWARE\\rtopen|v', 'enum|HKCU\\Software\\rtpriv')).toEqual(['vmc', 'subkeys=1 values=1 keys=sub vals=v']);
    await onHost('set|HKLM\\SOFTWARE\\rtopen|v|host'); // as it was, for the comparison after vm rm
  });

  it("svcdup's own keys are closed by every route; a VM cannot make a registry link, nor follow the host's into another VM's key", async () => {
    await onHost(`link|HKCU\\Software\\hostlink|\\Registry\\Machine\\Software\\svcdup\\VMs\\a`);
    expect(
      await inVm(
        'b',
        'get|HKLM\\SOFTWARE\\svcdup\\VMs\\a|Policy',
        'ntget|\\Registry\\Machine\\Software\\SVCDUP\\VMs\\a|Policy',
        'relget|\\Registry\\Machine\\Software|svcdup\\VMs\\a|Policy',
        'set|HKLM\\SOFTWARE\\svcdup\\VMs\\b|Policy|x',
        'link|HKCU\\Software\\rtlink|\\Registry\\Machine\\Software\\svcdup\\VMs\\a',
        'get|HKCU\\Software\\rtlink|Policy',
        'get|HKCU\\Software\\hostlink|Policy',
      ),
    ).toEqual(['err 5', 'st 0xc0000022', 'st 0xc0000022', 'err 5', 'err 5', 'err 2', 'err 5']);
    // the service keys of the host: a VM's write lands in its copy
    expect(
      await inVm(
        'b',
        'set|HKLM\\SYSTEM\\CurrentControlSet\\Services\\PlugPlay|ImagePath|C:\\evil.exe',
        'get|HKLM\\SYSTEM\\CurrentControlSet\\Services\\PlugPlay|ImagePath',
      ),
    ).toEqual(['ok', 'C:\\evil.exe']);
    expect(await onHost('get|HKLM\\SYSTEM\\CurrentControlSet\\Services\\PlugPlay|ImagePath', 'unlink|HKCU\\Software\\hostlink')).toEqual([
      expect.not.stringMatching(/evil/),
      'st 0x00000000',
    ]);
  });

  it('bad names: a clear status, nothing made', async () => {
    const long = 'x'.repeat(300);
    expect(await inVm('b', `mkkey|HKLM\\SOFTWARE\\rt\\${long}`, 'ntset|\\Registry\\Machine\\Software\\rt\\\\x|v|1')).toEqual(['err 87', 'st 0xc0000033']);
    expect(await onHost(`mkkey|HKLM\\SOFTWARE\\rt\\${long}`)).toEqual(['err 87']);
    expect(await inVm('b', 'enum|HKLM\\SOFTWARE\\rt')).toEqual(['subkeys=3 values=1 keys=k1,k2,k4 vals=v']);
  });
});

describe('the library: diffKeys, cloneKeys, vm rm', () => {
  it('diffKeys lists what the VM changed, as docker diff does', async () => {
    // names as the host spells them; compared without case
    const fmt = (c: KeyChange) => `${c.change[0]} ${c.key}${c.value !== undefined ? ` [${c.value}]` : ''}`.toLowerCase();
    const diff = async (vm: string) => (await diffKeys(host.backend, vm)).map(fmt).sort();
    const want = (l: string[]) => l.map((x) => x.toLowerCase()).sort();
    expect(await diff('a')).toEqual(
      want([
        `C HKU\\${sid}\\Software\\rt`,
        `C HKU\\${sid}\\Software\\rt [v]`,
        'C HKLM\\SOFTWARE\\rt',
        'C HKLM\\SOFTWARE\\rt [v]',
        'A HKLM\\SOFTWARE\\rt [v2]',
        'D HKLM\\SOFTWARE\\rt\\k1',
        'C HKLM\\SOFTWARE\\rt\\k2',
        'A HKLM\\SOFTWARE\\rt\\k2 [rel]',
        'D HKLM\\SOFTWARE\\rt\\k2 [v]',
        'A HKLM\\SOFTWARE\\rt\\k3',
        'A HKLM\\SOFTWARE\\rt\\k3 [v]',
        'C HKLM\\SYSTEM\\CurrentControlSet\\Control\\rt',
        'C HKLM\\SYSTEM\\CurrentControlSet\\Control\\rt [v]',
      ]),
    );
    expect(await diff('c')).toEqual(
      want([
        `C HKU\\${sid}\\Software\\rtpriv`,
        `D HKU\\${sid}\\Software\\rtpriv [v]`,
        `D HKU\\${sid}\\Software\\rtpriv\\sub`,
        `A HKU\\${sid}\\Software\\rtpriv\\new`,
        `A HKU\\${sid}\\Software\\rtpriv\\new [v]`,
      ]),
    );
  });

  it('cloneKeys gives a new VM the same view', async () => {
    await vms.create('d');
    await cloneKeys(host.backend, 'a', 'd');
    expect(await inVm('d', 'get|HKLM\\SOFTWARE\\rt|v', 'enum|HKLM\\SOFTWARE\\rt', 'get|HKCU\\Software\\rt|v')).toEqual([
      'vma',
      'subkeys=3 values=2 keys=k2,k3,k4 vals=v,v2',
      'vmhkcu',
    ]);
    await expect(cloneKeys(host.backend, 'b', 'd')).rejects.toThrow(/already has registry changes/);
  });

  it("vm rm deletes the private copies: the host's exports are identical to before", async () => {
    await onHost('delkey|HKLM\\SOFTWARE\\rt\\k4');
    for (const vm of ['a', 'b', 'c', 'd']) await vms.remove(vm);
    const after = await exportHives('after');
    for (const hive of HIVES) expect(after[hive], hive).toBe(before[hive]);
  });
});
