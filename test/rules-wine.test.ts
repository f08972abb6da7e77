// A VM's rules text is kept in two places: its Policy value (read by svcdup-host and direct
// images) and $SVCDUP_HOME/vms/<vm>/policy.rules (handed to svcdup-run). After every path
// that changes it (vm create, dup, run, undup) the two must be the same bytes, and hold
// everything the VM is made of: the user's policy, what its duplicates need, its net lines
// and the file aliases of the Wine prefix's drive C.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileAliasRules } from '../src/vm/files.js';
import { openTestHost, type TestHost } from './helpers.js';
import { cliFor, storedRules } from './cli-helpers.js';

let host: TestHost;
const { cli } = cliFor(() => host.paths);
const VM = 'rules1';

beforeAll(async () => {
  host = await openTestHost('rules');
});
afterAll(async () => {
  cli(['vm', 'rm', VM]);
  await host?.dispose();
});

const stored = (vm: string) => storedRules(host.backend, host.paths, vm);

function ok(args: string[]) {
  const r = cli(args);
  expect(r.status, `svcdup ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

describe("a VM's rules, kept as its Policy value and its rules file", () => {
  it('are byte-equal after vm create, dup, run and undup, and always carry the net lines and file aliases', async () => {
    const policy = join(host.paths.home, 'policy.json');
    writeFileSync(policy, JSON.stringify({ version: 1, closed: { pipes: ['secret-*'] } }));
    const aliases = fileAliasRules(host.backend);
    expect(aliases).toMatch(/^alias files C: /);

    ok(['vm', 'create', VM, '--policy', policy, '--ip', '127.77.9.9']);
    const created = await stored(VM);
    expect(created).toContain('closed pipes secret-*');
    expect(created).toContain('net address 127.77.9.9');
    expect(created.endsWith(aliases)).toBe(true);

    ok(['dup', 'RpcSs', '--vm', VM]);
    const dupped = await stored(VM);
    expect(dupped).toContain('private pipes epmapper');
    expect(dupped).toContain('net address 127.77.9.9');
    expect(dupped.endsWith(aliases)).toBe(true);

    ok(['run', '--vm', VM, '--', 'cmd', '/c', 'exit', '0']);
    expect(await stored(VM)).toBe(dupped);

    ok(['undup', 'RpcSs', '--vm', VM]);
    expect(await stored(VM)).toBe(created);
  });
});
