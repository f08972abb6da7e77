// `dup --restricted-token` (docs/dup.md, docs/vm.md threat model): svcdup-host creates the
// image with CreateRestrictedToken(DISABLE_MAX_PRIVILEGE). The image's token is read from
// outside the VM by vt-tokpriv.exe (OpenProcess + OpenProcessToken + TokenPrivileges).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/backend/types.js';
import { nativeDir, openTestHost, type TestHost } from './helpers.js';
import { cliFor, imageOf, waitState } from './cli-helpers.js';

const PLAIN = 'svcdup-testsvc';
const RESTRICTED = 'svcdup-testsvc-r';
const VM = 'tk';
const LAUNCH = 'TkLaunch'; // ana-launch.exe: a service that starts a child (ana-server.exe)

let host: TestHost;
const exe = (name: string) => host.backend.toWindowsPath(join(nativeDir, name));
const { cli, cliJson } = cliFor(() => host.paths);

/** The image that the running duplicate NAME@VM runs. */
async function imagePid(service: string): Promise<number> {
  const status = await waitState(host.backend, `${service}@${VM}`, 'RUNNING');
  expect(status.state).toBe('RUNNING');
  const image = await imageOf(host.backend, status);
  expect(image, `the image of ${service}@${VM}`).toBeDefined();
  return image!.pid;
}

/** The privilege names in process pid's token. */
async function privileges(pid: number): Promise<string[]> {
  const r = await host.backend.exec([exe('vt-tokpriv.exe'), String(pid)], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .trim()
    .split(/\r?\n/)
    .map((l) => l.split(' ')[0]!)
    .sort();
}

beforeAll(async () => {
  host = await openTestHost('token');
  for (const name of [PLAIN, RESTRICTED]) await host.backend.call('scm.create', { name, displayName: name, imagePath: exe('svcdup-testsvc.exe') });
  const data = host.backend.toHostPath('C:\\tkdata');
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, 'ana-server.conf'), 'port = 47391\n');
  await host.backend.call('scm.create', {
    name: LAUNCH,
    displayName: LAUNCH,
    imagePath: `"${exe('testbin/ana-launch.exe')}" runservice -N ${LAUNCH} -D "C:\\tkdata"`,
  });
  const r = cli(['vm', 'create', VM]);
  expect(r.status, r.stderr).toBe(0);
}, 180_000);
afterAll(async () => host?.dispose());

describe('dup --restricted-token', () => {
  it('carries the flag to the ImagePath, and the dry run shows it', () => {
    const out = cliJson<{ plan: { services: { imagePath: string }[] } }>(['dup', RESTRICTED, '--vm', VM, '--restricted-token', '--dry-run']);
    expect(out.plan.services[0]!.imagePath).toMatch(/svcdup-host\.exe.* --service svcdup-testsvc-r --restricted-token$/);
  });

  it('runs the image with SeChangeNotifyPrivilege only; without the flag the image keeps the usual privileges', async () => {
    // one at a time: svcdup-testsvc holds a single-instance mutex in its VM
    const plain = cliJson<{ status: ServiceStatus }>(['dup', PLAIN, '--vm', VM, '--relayed', '--start']);
    expect(plain.status.state).toBe('RUNNING');
    const usual = await privileges(await imagePid(PLAIN));
    expect(usual).toContain('SeChangeNotifyPrivilege');
    expect(usual.length).toBeGreaterThan(1);
    expect(cli(['undup', PLAIN, '--vm', VM]).status).toBe(0);

    const restricted = cliJson<{ status: ServiceStatus }>(['dup', RESTRICTED, '--vm', VM, '--restricted-token', '--start']);
    expect(restricted.status.state).toBe('RUNNING');
    expect(await privileges(await imagePid(RESTRICTED))).toEqual(['SeChangeNotifyPrivilege']);
    // removable as any duplicate
    expect(cli(['undup', RESTRICTED, '--vm', VM]).status).toBe(0);
    expect(cliJson<unknown[]>(['status', '--vm', VM])).toEqual([]);
  }, 240_000);

  it("the image's child gets the restricted token too (the kernel's inheritance, not the hook)", async () => {
    const out = cliJson<{ status: ServiceStatus }>(['dup', LAUNCH, '--vm', VM, '--restricted-token', '--start', '--force']);
    expect(out.status.state).toBe('RUNNING');
    const image = await imagePid(LAUNCH);
    const end = Date.now() + 20_000;
    let child: number | undefined;
    while (!child && Date.now() < end) {
      child = (await host.backend.call('proc.list', {})).find((p) => p.ppid === image && p.image.toLowerCase() === 'ana-server.exe')?.pid;
      if (!child) await new Promise((r) => setTimeout(r, 200));
    }
    expect(child, 'ana-server.exe, the child of the image').toBeDefined();
    expect(await privileges(child!)).toEqual(['SeChangeNotifyPrivilege']);
    expect(cli(['undup', LAUNCH, '--vm', VM]).status).toBe(0);
  }, 240_000);
});
