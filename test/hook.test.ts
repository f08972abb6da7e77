// The hook's own machinery (docs/design.md, "Where things happen in the hook"): one policy
// model that the hook and src/vm/policy.ts decide the same way, one patching module, and a
// hook that cannot be installed is named (svcdup run, svcdup doctor). Real processes under Wine.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../src/state/db.js';
import { decide, type RuleKind } from '../src/vm/policy.js';
import { dbVmStore } from '../src/vm/store.js';
import { Vms } from '../src/vm/ops.js';
import { cliFor } from './cli-helpers.js';
import { nativeExe, openTestHost, type TestHost } from './helpers.js';

let host: TestHost;
let db: Db;
let vms: Vms;
const { cli } = cliFor(() => host.paths);
const lf = (s: string) => s.replace(/\r\n/g, '\n');

beforeAll(async () => {
  host = await openTestHost('hook');
  db = openDb(host.paths.stateDb);
  vms = new Vms(host.backend, dbVmStore(db));
  await vms.create('hf');
});
afterAll(async () => {
  db?.close();
  await host?.dispose();
});

describe('one policy model', () => {
  // every verdict, the defaults, svcdup's reserved names and the relay-pipe exception, services
  const rules = [
    'open pipes shared-*',
    'closed pipes secret-*',
    'private pipes epmapper',
    'closed objects forbidden*',
    'open objects pub-*',
    'private objects pub-private',
    'open mailslots ms-open',
    'closed mailslots ms-closed',
    'open services Spooler',
    'closed services Schedule',
    // kinds and verdict for copy-on-write: accepted by the hook's grammar
    'cow files C:\\data\\*',
    'cow keys \\Registry\\Machine\\SOFTWARE\\x\\*',
  ].join('\n');
  const names = [
    'obj:pub-1',
    'obj:pub-private',
    'obj:forbidden-x',
    'obj:plain-x',
    'obj:__wine_pt',
    'obj:svcdup.pt-test',
    'pipe:shared-1',
    'pipe:SECRET-1',
    'pipe:epmapper',
    'pipe:svcctl',
    'pipe:mine-1',
    'pipe:svcdup.relay.pt-test',
    'pipe:svcdup.other-test',
    'slot:ms-open',
    'slot:ms-closed',
    'slot:ms-plain',
    'svc:Spooler',
    'svc:Schedule',
    'svc:HTTP',
    'svc:RpcSs',
  ];
  const kinds: Record<string, RuleKind> = { obj: 'objects', pipe: 'pipes', slot: 'mailslots', svc: 'services' };

  it('a VM process meets, name by name, what src/vm/policy.ts decide() says', async () => {
    const file = join(host.paths.home, 'pt.rules');
    writeFileSync(file, rules + '\n');
    const r = await host.backend.exec([
      nativeExe(host.backend, 'svcdup-policy-probe.exe'),
      'hold',
      nativeExe(host.backend, 'svcdup-run.exe'),
      host.backend.toWindowsPath(file),
      ...names,
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const seen = Object.fromEntries(
      lf(r.stdout)
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    );
    const want = Object.fromEntries(
      names.map((n) => {
        const [k, name] = n.split(/:(.*)/) as [string, string];
        // the SCM's pipe is open by policy but only to sechost's client (svcctl.c): a direct open is refused
        return [n, n === 'pipe:svcctl' ? 'denied' : decide(rules, kinds[k]!, name)];
      }),
    );
    expect(seen).toEqual(want);
    // the comparison covers every decision, so a side that always said one thing would fail
    expect(new Set(Object.values(want))).toEqual(new Set(['open', 'renamed', 'denied']));
    expect(want['pipe:svcdup.relay.pt-test']).toBe('open');
    expect(want['svc:HTTP']).toBe('open'); // a default of policy-defaults.txt
    expect(decide(rules, 'pipes', 'svcctl')).toBe('open');
  });
});

describe('the patching module', () => {
  it('hooks and refuses on its own (svcdup-hotpatch-test.exe, outside any VM)', async () => {
    const r = await host.backend.exec([nativeExe(host.backend, 'svcdup-hotpatch-test.exe')]);
    const out = lf(r.stdout);
    expect(out, out).not.toMatch(/^FAIL/m);
    expect(out).toMatch(/^ok {3}commit fails/m);
    expect(out).toMatch(/^ok {3}the detour saw it/m);
    expect(r.code).toBe(0);
  });
});

describe('a hook that cannot be installed is named', () => {
  const probe = () => nativeExe(host.backend, 'svcdup-policy-probe.exe');

  it('svcdup run: the process does not run, and svcdup-run names the part, the export and why', async () => {
    const ok = await vms.run('hf', [probe(), 'probe', 'obj:x']);
    expect(lf(ok.stdout)).toBe('obj:x renamed\n');
    const r = await vms.run('hf', [probe(), 'probe', 'obj:x'], { env: { SVCDUP_HOOK_FAIL: 'NtOpenMutant' } });
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toMatch(/obj:x/); // the image never ran
    expect(r.stderr).toMatch(/the hook could not be installed in .*: objects: NtOpenMutant: refused: SVCDUP_HOOK_FAIL/);
  });

  it('a bad policy line fails the process and is named with its line', async () => {
    const file = join(host.paths.home, 'bad.rules');
    writeFileSync(file, 'open pipes fine\nopen sockets x\n');
    const r = await host.backend.exec([
      nativeExe(host.backend, 'svcdup-run.exe'),
      '--vm',
      'hf',
      '--policy',
      host.backend.toWindowsPath(file),
      '--',
      probe(),
      'probe',
      'obj:x',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/policy: line 2: the kind is not objects, pipes/);
  });

  it('svcdup doctor checks that the hook installs in a VM process, and names the hook that does not', () => {
    const good = cli(['doctor', '--json']);
    const hook = (out: string) => (JSON.parse(out) as { checks: { name: string; ok: boolean; detail: string }[] }).checks.find((c) => c.name === 'hook');
    expect(hook(good.stdout), good.stderr).toMatchObject({ ok: true });
    const bad = cli(['doctor', '--json'], { SVCDUP_HOOK_FAIL: 'OpenServiceW' });
    expect(bad.status).toBe(1);
    expect(hook(bad.stdout)?.ok).toBe(false);
    expect(hook(bad.stdout)?.detail).toMatch(/scmclient: OpenServiceW: refused/);
  });
});
