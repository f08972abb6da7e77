// A VM's state is portable (issue 24): vm export / vm import between two homes (each its own
// Wine prefix), refused bad archives, and a kill during an import, with the stateful test
// service (native/tests/statesvc): its files in the VM's area and its counters in the VM's
// registry copies travel with the VM. PostgreSQL's round trip is in test/pg-portable.test.ts.
import { existsSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegTree } from '../src/backend/types.js';
import { cliFor, waitState } from './cli-helpers.js';
import { nativeExe, openTestHost, testRoot, treeHash, type TestHost } from './helpers.js';

const SVC = 'svcdup-statesvc';
const LONG = 240_000;
/** host keys the VM deletes: GONE for good (a tombstone), OPAQUE to make it again (an opaque copy) */
const [GONE, OPAQUE] = ['HKLM\\Software\\svcdup-port-gone', 'HKLM\\Software\\svcdup-port-opaque'];

let h1: TestHost;
let h2: TestHost;
const c1 = cliFor(() => h1.paths);
const c2 = cliFor(() => h2.paths);
const out = join(testRoot, `portable-${process.pid}`);
const archive = `${out}-s.tgz`;

interface Report {
  dir: { name: string; text?: string }[];
  hklm: { starts: number };
  hkcu: { starts: number };
}
/** What the service sees, as a process in VM `vm` of host `h` (or the host itself). */
async function report(h: TestHost, vm?: string): Promise<Report> {
  const exe = nativeExe(h.backend, 'svcdup-statesvc.exe');
  const r = vm ? cliFor(() => h.paths).cli(['run', '--vm', vm, '--', exe, '--report']) : await h.backend.exec([exe, '--report']);
  const stdout = 'stdout' in r ? r.stdout : '';
  return JSON.parse(stdout.trim().split('\n').pop()!) as Report;
}
const stateText = (r: Report) => r.dir.find((e) => e.name === 'state.txt')?.text?.trim();

/** Everything of a home a failed import could have touched: VMs, SCM names, svcdup's key, the VMs folder. */
async function hostState(h: TestHost): Promise<string> {
  const b = h.backend;
  let key: RegTree | null = null;
  try {
    key = await b.call('reg.export', { key: 'HKLM\\SOFTWARE\\svcdup' });
  } catch {
    key = null;
  }
  const scm = (await b.call('scm.list', {})).map((s) => s.name).sort();
  const vms = cliFor(() => h.paths)
    .cliJson<{ name: string }[]>(['vm', 'ls'])
    .map((v) => v.name);
  return JSON.stringify({ key, scm, vms, files: treeHash(b.toHostPath('C:\\ProgramData\\svcdup')) });
}

beforeAll(async () => {
  [h1, h2] = await Promise.all([openTestHost('port1'), openTestHost('port2')]);
  for (const h of [h1, h2]) {
    const b = h.backend;
    expect((await b.exec([nativeExe(b, 'svcdup-statesvc.exe'), '--seed'])).code).toBe(0);
  }
  // the service exists on host 1 only, for now: host 2 is first the "service missing" case
  await h1.backend.call('scm.create', { name: SVC, imagePath: nativeExe(h1.backend, 'svcdup-statesvc.exe') });
  expect(c1.cli(['vm', 'create', 's', '--ip', '127.77.240.2']).status).toBe(0);
  // relayed: both test homes share one image folder (native/build), where a direct copy IMAGE@VM.exe
  // would be one file for both hosts (on two real hosts each has its own)
  expect(c1.cli(['dup', SVC, '--vm', 's', '--start', '--relayed']).status).toBe(0);
  // a host key (both hosts have it) the VM deletes: a tombstone in its registry copies
  for (const h of [h1, h2]) await h.backend.call('reg.set', { key: GONE, name: 'V', type: 'REG_SZ', data: 'host' });
  expect(c1.cli(['run', '--vm', 's', '--', 'reg.exe', 'delete', GONE, '/f']).status).toBe(0);
  // a host key the VM deletes and makes again: an opaque copy, which hides the host's subkeys
  // (here one that only host 2 has)
  for (const h of [h1, h2]) await h.backend.call('reg.set', { key: OPAQUE, name: 'V', type: 'REG_SZ', data: 'host' });
  await h2.backend.call('reg.set', { key: `${OPAQUE}\\HostOnly`, name: 'V', type: 'REG_SZ', data: 'host 2' });
  expect(c1.cli(['run', '--vm', 's', '--', 'reg.exe', 'delete', OPAQUE, '/f']).status).toBe(0);
  expect(c1.cli(['run', '--vm', 's', '--', 'reg.exe', 'add', OPAQUE, '/v', 'X', '/d', 'vm', '/f']).status).toBe(0);
}, LONG);

afterAll(async () => {
  rmSync(archive, { force: true });
  rmSync(`${out}-bad.tgz`, { force: true });
  await Promise.all([h1?.dispose(), h2?.dispose()]);
});

describe('vm export and vm import', () => {
  it(
    'export is refused while a duplicate runs; --stop stops it for the copy and starts it again',
    async () => {
      const r = c1.cli(['vm', 'export', 's', '-o', archive]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/svcdup-statesvc@s runs; .*--stop/);
      expect(existsSync(archive)).toBe(false);
      const e = c1.cliJson<{ file: string; files: number; duplicates: string[]; restarted: string[] }>(['vm', 'export', 's', '-o', archive, '--stop']);
      expect(e.duplicates).toEqual([`${SVC}@s`]);
      expect(e.restarted).toEqual([SVC]);
      expect(e.files).toBeGreaterThan(0);
      expect((await waitState(h1.backend, `${SVC}@s`, 'RUNNING', 60_000)).state).toBe('RUNNING');
      // its second start ran after the copy: the archive holds the first
      const starts = await report(h1, 's');
      expect(starts.hklm.starts).toBe(2);
    },
    LONG,
  );

  it(
    'bad archives and a missing service are clear errors, and nothing is left half-imported',
    async () => {
      const before = await hostState(h2);
      const bad = `${out}-bad.tgz`;
      const attempt = (file: string, ...args: string[]) => c2.cli(['vm', 'import', file, ...args]);
      // the service the duplicate comes from is not on host 2 yet
      let r = attempt(archive);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/this host has no service svcdup-statesvc/);
      // truncated
      writeFileSync(bad, readFileSync(archive));
      truncateSync(bad, Math.floor(statSync(bad).size / 2));
      r = attempt(bad);
      expect(r.stderr).toMatch(/not a whole svcdup VM archive \(truncated or damaged/);
      // one byte of a file's content flipped (inside the tar, gzip made anew so only the checksum can tell)
      const tarBytes = gunzipSync(readFileSync(archive));
      const at = tarBytes.indexOf('starts=');
      expect(at).toBeGreaterThan(0);
      tarBytes[at] = tarBytes[at]! ^ 0x20;
      writeFileSync(bad, gzipSync(tarBytes));
      r = attempt(bad);
      expect(r.stderr).toMatch(/does not match its manifest: .*state\.txt: checksum mismatch/);
      // a newer format
      const t2 = gunzipSync(readFileSync(archive));
      const f = t2.indexOf('"format": 1');
      expect(f).toBeGreaterThan(0);
      t2.write('"format": 9', f);
      // the tar header's checksum covers the header only: the manifest's bytes are data
      writeFileSync(bad, gzipSync(t2));
      r = attempt(bad);
      expect(r.stderr).toMatch(/format 9, newer than this svcdup reads \(1\)/);
      for (const x of [r]) expect(x.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(await hostState(h2)).toBe(before);
    },
    LONG,
  );

  it(
    'imported into another home, the duplicate starts with the files and counters it had; a taken name is refused',
    async () => {
      await h2.backend.call('scm.create', { name: SVC, imagePath: nativeExe(h2.backend, 'svcdup-statesvc.exe') });
      const hostBefore = JSON.stringify({ ...(await report(h2)), pid: 0 });
      // a kill in the middle of the import's journaled operation leaves nothing: the next command rolls it back
      const before = await hostState(h2);
      const killed = c2.cli(['vm', 'import', archive], { SVCDUP_FAILPOINT: 'vm import:3:after' });
      expect(killed.signal).toBe('SIGKILL');
      expect(c2.cli(['repair']).stderr).toMatch(/rolled back an interrupted vm import of s/);
      expect(await hostState(h2)).toBe(before);

      const r = c2.cliJson<{ vm: string; address: string; duplicates: string[] }>(['vm', 'import', archive]);
      expect(r).toMatchObject({ vm: 's', address: '127.77.240.2', duplicates: [`${SVC}@s`] });
      // the key the VM deleted stays deleted in its view (its tombstone carried), not on the host
      expect(c2.cli(['run', '--vm', 's', '--', 'reg.exe', 'query', GONE]).status).not.toBe(0);
      // the opaque key carried as opaque: the VM's value, and host 2's subkey hidden from the VM only
      expect(c2.cli(['run', '--vm', 's', '--', 'reg.exe', 'query', OPAQUE, '/v', 'X']).stdout).toMatch(/X\s+REG_SZ\s+vm/);
      expect(c2.cli(['run', '--vm', 's', '--', 'reg.exe', 'query', `${OPAQUE}\\HostOnly`]).status).not.toBe(0);
      expect((await h2.backend.call('reg.query', { key: `${OPAQUE}\\HostOnly` })).values).toHaveLength(1);
      expect((await h2.backend.call('reg.query', { key: GONE })).values).toHaveLength(1);
      // start type kept (DEMAND, as dup made it)
      expect((await h2.backend.call('scm.config', { name: `${SVC}@s` })).start).toBe('DEMAND');
      const inVm = await report(h2, 's');
      expect(inVm.hklm.starts).toBe(1);
      expect(stateText(inVm)).toMatch(/^starts=1 service=svcdup-statesvc/);
      expect(c2.cli(['start', SVC, '--vm', 's']).status).toBe(0);
      const after = await report(h2, 's');
      expect(after.hklm.starts).toBe(2);
      expect(after.hkcu.starts).toBe(2);
      // the host of home 2 never saw any of it
      expect(JSON.stringify({ ...(await report(h2)), pid: 0 })).toBe(hostBefore);
      // the name is taken now
      const again = c2.cli(['vm', 'import', archive]);
      expect(again.stderr).toMatch(/VM s exists already on this host \(give --as NAME\)/);
      // under another name and address, on the same home
      const s2 = c2.cliJson<{ vm: string; duplicates: string[] }>(['vm', 'import', archive, '--as', 's2', '--ip', '127.77.240.3']);
      expect(s2.duplicates).toEqual([`${SVC}@s2`]);
      expect((await report(h2, 's2')).hklm.starts).toBe(1);
    },
    LONG,
  );

  it(
    'checkpoint and restore bring the files and counters back; a killed restore puts back what was there; vm rm removes checkpoints',
    async () => {
      expect(c1.cli(['stop', SVC, '--vm', 's']).status).toBe(0);
      const at = (await report(h1, 's')).hklm.starts;
      const ck = c1.cliJson<{ name: string; restarted: string[] }>(['vm', 'checkpoint', 's', 'before']);
      expect(ck).toMatchObject({ name: 'before', restarted: [] });
      expect(c1.cliJson<{ name: string }[]>(['vm', 'checkpoints', 's']).map((c) => c.name)).toEqual(['before']);
      expect(c1.cli(['vm', 'checkpoint', 's', 'before']).stderr).toMatch(/has a checkpoint named before already/);
      expect(c1.cli(['start', SVC, '--vm', 's']).status).toBe(0);
      const later = await report(h1, 's');
      expect(later.hklm.starts).toBe(at + 1);
      // restore stops the running duplicate and starts it again: killed before its end, nothing changes
      const killed = c1.cli(['vm', 'restore', 's', 'before'], { SVCDUP_FAILPOINT: 'vm restore:2:after' });
      expect(killed.signal).toBe('SIGKILL');
      expect(c1.cli(['repair']).stderr).toMatch(/rolled back an interrupted vm restore of s:before/);
      expect((await report(h1, 's')).hklm.starts).toBe(at + 1);
      expect(stateText(await report(h1, 's'))).toMatch(new RegExp(`^starts=${at + 1} `));
      expect(c1.cli(['stop', SVC, '--vm', 's']).status).toBe(0);
      const r = c1.cliJson<{ restarted: string[] }>(['vm', 'restore', 's', 'before']);
      expect(r.restarted).toEqual([]);
      const back = await report(h1, 's');
      expect(back.hklm.starts).toBe(at);
      expect(back.hkcu.starts).toBe(at);
      expect(stateText(back)).toMatch(new RegExp(`^starts=${at} `));
      expect(c1.cli(['vm', 'restore', 's', 'nope']).stderr).toMatch(/VM s has no checkpoint named nope/);
      expect(c1.cli(['vm', 'rm', 's']).status).toBe(0);
      expect(existsSync(h1.backend.toHostPath('C:\\ProgramData\\svcdup\\VMs\\s'))).toBe(false);
      await expect(h1.backend.call('reg.query', { key: 'HKLM\\SOFTWARE\\svcdup\\VMs\\s' })).rejects.toThrow();
    },
    LONG,
  );

  it(
    "vm commit writes the VM's files and keys into the host; a file or key the host changed since is a conflict until --force; vm rm leaves the committed content",
    async () => {
      const b = h2.backend;
      const file = (n: string) => b.toHostPath(`C:\\svcdup-statesvc\\${n}`);
      // the host changes its journal after the VM's copy was made: a conflict
      writeFileSync(file('journal.txt'), 'host wrote this later\r\n');
      // and writes to a key the VM deleted after the VM's tombstone was made: a conflict too
      await b.call('reg.set', { key: GONE, name: 'Later', type: 'REG_SZ', data: 'host' });
      const hostFiles = treeHash(b.toHostPath('C:\\svcdup-statesvc'));
      const hostSees = JSON.stringify({ ...(await report(h2)), pid: 0 });
      // killed in the middle (host files already replaced): the next command puts them back
      const killed = c2.cli(['vm', 'commit', 's'], { SVCDUP_FAILPOINT: 'vm commit:3:after' });
      expect(killed.signal).toBe('SIGKILL');
      expect(c2.cli(['repair']).stderr).toMatch(/rolled back an interrupted vm commit of s/);
      expect(treeHash(b.toHostPath('C:\\svcdup-statesvc'))).toBe(hostFiles);
      expect(JSON.stringify({ ...(await report(h2)), pid: 0 })).toBe(hostSees);
      const dry = c2.cli(['vm', 'commit', 's', '--dry-run', '--json']);
      expect(dry.status).toBe(1);
      const plan = JSON.parse(dry.stdout) as { committed: string[]; conflicts: string[] };
      expect(plan.committed).toEqual(expect.arrayContaining(['C C:\\svcdup-statesvc\\state.txt', 'D C:\\svcdup-statesvc\\delete-me.txt']));
      expect(plan.committed.some((c) => /^A HKLM\\Software\\svcdup-statesvc$/i.test(c))).toBe(true);
      expect(
        plan.committed.some((c) => /^A HKLM\\Software\\svcdup-port-opaque \[X\]$/i.test(c)),
        dry.stdout,
      ).toBe(true);
      expect(plan.conflicts, dry.stdout).toHaveLength(2);
      expect(plan.conflicts[0]).toBe("C C:\\svcdup-statesvc\\journal.txt: the host changed it after the VM's copy was made");
      expect(plan.conflicts[1]).toMatch(/^D HKLM\\Software\\svcdup-port-gone: the host changed the key after the VM's copy was made$/i);
      expect(treeHash(b.toHostPath('C:\\svcdup-statesvc'))).toBe(hostFiles);

      const vmView = await report(h2, 's');
      const r = c2.cli(['vm', 'commit', 's']);
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/conflict C C:\\svcdup-statesvc\\journal\.txt: .*not written; --force writes it/);
      const host = await report(h2);
      expect(stateText(host)).toBe(stateText(vmView));
      expect(host.hklm.starts).toBe(vmView.hklm.starts);
      expect(host.hkcu.starts).toBe(vmView.hkcu.starts);
      expect(existsSync(file('delete-me.txt'))).toBe(false);
      expect(readFileSync(file('journal.txt'), 'utf8')).toBe('host wrote this later\r\n');
      expect((await b.call('reg.query', { key: GONE })).values).toHaveLength(2);
      // the opaque key's content is the host's now: the VM's value, the host's subkey gone
      expect((await b.call('reg.query', { key: OPAQUE })).values).toEqual([{ name: 'X', type: 'REG_SZ', data: 'vm' }]);
      await expect(b.call('reg.query', { key: `${OPAQUE}\\HostOnly` })).rejects.toThrow();
      // what was committed is no longer a difference; the conflicts still are
      const diff = c2.cliJson<{ files: { kind: string; path: string }[]; keys: { change: string; key: string }[] }>(['vm', 'diff', 's']);
      expect(diff.files).toEqual([{ kind: 'C', path: 'C:\\svcdup-statesvc\\journal.txt' }]);
      expect(diff.keys).toHaveLength(1);
      expect(diff.keys[0]!.change).toBe('Deleted');
      const gone = diff.keys[0]!.key;
      expect(gone.toLowerCase()).toBe(GONE.toLowerCase());

      const forced = c2.cliJson<{ committed: string[]; forced: boolean }>(['vm', 'commit', 's', 'C:\\svcdup-statesvc\\journal.txt', gone, '--force']);
      expect(forced).toMatchObject({ committed: ['C C:\\svcdup-statesvc\\journal.txt', `D ${gone}`], forced: true });
      expect(readFileSync(file('journal.txt'), 'utf8')).toMatch(/start svcdup-statesvc/);
      await expect(b.call('reg.query', { key: GONE })).rejects.toThrow();
      expect(c2.cliJson<{ files: unknown[]; keys: unknown[] }>(['vm', 'diff', 's'])).toMatchObject({ files: [], keys: [] });
      const committed = JSON.stringify({ ...(await report(h2)), pid: 0 });
      expect(c2.cli(['vm', 'rm', 's']).status).toBe(0);
      expect(JSON.stringify({ ...(await report(h2)), pid: 0 })).toBe(committed);
    },
    LONG,
  );
});
