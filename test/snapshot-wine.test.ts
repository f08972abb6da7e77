// No torn views (issue 10, docs/state.md): the folders a service is known to write are
// snapshotted into the VM's file area when its duplicate is made. A host process that keeps
// rewriting a file there while a VM process reads it: the VM never sees the host's later
// content. A folder not snapshotted (read through to the host) shows why: there the VM does.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config.js';
import { COW_POLICY, nativeExe, openTestHost, testEnv, type TestHost } from './helpers.js';
import { cliFor } from './cli-helpers.js';

let host: TestHost;
const { cli } = cliFor(() => host.paths);
const SVC = 'svcdup-snapsvc';
const SNAP = 'C:\\snapdata';
const LAZY = 'C:\\lazydata';

/** `svcdup ARGS` without blocking the event loop, so that a host writer runs beside it. */
function cliAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn('node', [join(packageRoot, 'dist/cli.js'), ...args], { env: testEnv(host.paths) });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

beforeAll(async () => {
  host = await openTestHost('snapshot');
  const b = host.backend;
  for (const dir of [SNAP, LAZY]) {
    mkdirSync(b.toHostPath(dir), { recursive: true });
    writeFileSync(b.toHostPath(`${dir}\\f.txt`), 'at dup time');
  }
  // Its ImagePath names a file in C:\snapdata (so that folder is snapshotted) and not C:\lazydata.
  await b.call('scm.create', { name: SVC, imagePath: `${nativeExe(b, 'svcdup-ft.exe')} hold ${SNAP}\\f.txt 1000` });
  await b.close();
  for (const vm of ['v', 'w']) expect(cli(['vm', 'create', vm, '--policy', COW_POLICY]).status).toBe(0);
});

afterAll(async () => {
  if (!host) return;
  for (const vm of ['v', 'w']) cli(['vm', 'rm', vm]);
  await host.dispose();
});

describe('the folders a service writes are snapshotted when its duplicate is made', () => {
  it('dup --dry-run lists the snapshot step and changes nothing', () => {
    const r = cli(['dup', SVC, '--vm', 'v', '--dry-run', '--relayed', '--force']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /files\.snapshot +snapshot folder C:\\snapdata \(0\.0 MB\) into VM v's files: C:\\ProgramData\\svcdup\\VMs\\v\\files\\C\\snapdata/,
    );
    expect(r.stdout).toMatch(/undo: delete C:\\ProgramData\\svcdup\\VMs\\v\\files\\C\\snapdata/);
    expect(r.stdout).not.toMatch(/lazydata/);
    expect(existsSync(host.backend.toHostPath('C:\\ProgramData\\svcdup\\VMs\\v\\files\\C\\snapdata'))).toBe(false);
  });

  it('a dup that fails after the snapshot leaves no copy behind (the journal undoes it)', async () => {
    const b = host.backend;
    // the duplicate's SCM name is taken: its scm.create fails after the snapshot step ran
    await b.call('scm.create', { name: `${SVC}@w`, imagePath: 'C:\\windows\\system32\\cmd.exe' });
    const r = cli(['dup', SVC, '--vm', 'w', '--relayed', '--force']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/1073|exists/i);
    expect(existsSync(b.toHostPath('C:\\ProgramData\\svcdup\\VMs\\w\\files\\C\\snapdata'))).toBe(false);
    await b.call('scm.delete', { name: `${SVC}@w` });
    await b.close();
  });

  it("a host process rewriting a file in the snapshotted folder: the VM reader never sees the host's later content", async () => {
    const r = cli(['dup', SVC, '--vm', 'v', '--relayed', '--force']);
    expect(r.status, r.stderr).toBe(0);
    const ft = nativeExe(host.backend, 'svcdup-ft.exe');
    // the host writer starts first and outlives the VM readers
    const writer = cliAsync(['host', 'exec', '--', ft, 'rewrite', `${SNAP}\\f.txt`, '9000']);
    await new Promise((res) => setTimeout(res, 1500));
    const snap = await cliAsync(['run', '--vm', 'v', '--', ft, 'hold', `${SNAP}\\f.txt`, '3000']);
    const w = await writer;
    expect(w.stdout, w.stderr).toMatch(/^rewrites=[1-9]\d*$/m);
    expect(snap.stdout, snap.stderr).toMatch(/^reads=[1-9]\d* changed=0$/m);
    const inVm = cli(['run', '--vm', 'v', '--', ft, 'read', `${SNAP}\\f.txt`]);
    expect(inVm.stdout).toMatch(/^text=at dup time$/m);
    // the host's file is the writer's, untouched by the VM
    expect(readFileSync(host.backend.toHostPath(`${SNAP}\\f.txt`), 'utf8')).toMatch(/^host \d+$/);
  });

  it('a folder that is not snapshotted reads through to the host: there a host writer is seen (why snapshots exist)', async () => {
    const ft = nativeExe(host.backend, 'svcdup-ft.exe');
    const writer = cliAsync(['host', 'exec', '--', ft, 'rewrite', `${LAZY}\\f.txt`, '6000']);
    await new Promise((res) => setTimeout(res, 1500));
    const lazy = await cliAsync(['run', '--vm', 'v', '--', ft, 'hold', `${LAZY}\\f.txt`, '3000']);
    await writer;
    expect(lazy.stdout, lazy.stderr).toMatch(/^reads=[1-9]\d* changed=[1-9]\d*$/m);
  });

  it("vm rm deletes the VM's copy; the host's folder keeps the host writer's content", () => {
    expect(cli(['vm', 'rm', 'v']).status).toBe(0);
    expect(existsSync(host.backend.toHostPath('C:\\ProgramData\\svcdup\\VMs\\v'))).toBe(false);
    expect(readFileSync(host.backend.toHostPath(`${SNAP}\\f.txt`), 'utf8')).toMatch(/^host \d+$/);
  });
});
