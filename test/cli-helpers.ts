// What the end-to-end tests share: the CLI run against a test home, and waiting on the SCM.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { HostBackend, ProcessInfo, ServiceStatus } from '../src/backend/types.js';
import { packageRoot, type Paths } from '../src/config.js';
import { AgentError } from '../src/errors.js';
import { vmKey } from '../src/plan/keys.js';
import { rulesFile } from '../src/vm/rules.js';
import { testEnv } from './helpers.js';

/** `svcdup ARGS` (node dist/cli.js, rebuilt from the sources by test/build-setup.ts) against the home `paths()` names, and its --json form. */
export function cliFor(paths: () => Paths) {
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync('node', [join(packageRoot, 'dist/cli.js'), ...args], { env: { ...testEnv(paths()), ...env }, encoding: 'utf8', timeout: 180_000 });
  const cliJson = <T>(args: string[]): T => {
    const r = cli([...args, '--json']);
    expect(r.status, `svcdup ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  return { cli, cliJson };
}

/** Poll the SCM until `name` is in `state` (or the time is up: the caller asserts). */
export async function waitState(backend: HostBackend, name: string, state: ServiceStatus['state'], ms = 20_000): Promise<ServiceStatus> {
  const end = Date.now() + ms;
  for (;;) {
    const s = await backend.call('scm.status', { name });
    if (s.state === state || Date.now() > end) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The real image a duplicate runs: the child of its svcdup-host (the SCM's pid). */
export async function imageOf(backend: HostBackend, status: ServiceStatus): Promise<ProcessInfo | undefined> {
  const procs = await backend.call('proc.list', {});
  // a direct duplicate: the SCM's process is the image itself; a relayed one: svcdup-host's child
  const own = procs.find((p) => p.pid === status.pid);
  if (own && own.image.toLowerCase() !== 'svcdup-host.exe') return own;
  return procs.find((p) => p.ppid === status.pid && p.image.toLowerCase() !== 'conhost.exe');
}

/** The Win32 code an agent call fails with, 0 when it succeeds. */
export async function win32Code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    if (e instanceof AgentError) return e.code;
    throw e;
  }
}

/** A VM's rules as kept: its Policy value and its rules file, which must be the same bytes (composeVmRules makes both). */
export async function storedRules(backend: HostBackend, paths: Paths, vm: string): Promise<string> {
  const value = await backend.call('reg.get', { key: vmKey(vm), name: 'Policy' });
  const file = readFileSync(rulesFile(paths.home, vm), 'utf8');
  expect(value.type).toBe('REG_SZ');
  expect(file).toBe(value.data);
  return file;
}
