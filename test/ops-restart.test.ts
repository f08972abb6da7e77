// Restart policies, health checks, events and the watcher under real Wine (docs/operate.md): the
// test service crashing on its own (--crash: RUNNING, then ExitProcess(3)) and one whose port stops
// answering (control 200 closes its listeners); no CLI command runs while the watcher acts.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../src/config.js';
import type { UiState } from '../src/ui/server.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/backend/types.js';
import type { SvcdupEvent } from '../src/state/events.js';
import { ownerAlive } from '../src/state/lock.js';
import { stopWatcher, watcherRunning } from '../src/watch/daemon.js';
import { parseHealth, probe, resolveProbe } from '../src/ops/health.js';
import { nativeExe, openTestHost, testEnv, type TestHost } from './helpers.js';
import { cliFor, waitState } from './cli-helpers.js';

let host: TestHost;
const { cli, cliJson } = cliFor(() => host.paths);
const IMAGE = 'C:\\svcdup-ops\\svcdup-testsvc.exe';
const CRASHY = 'svcdup-crashy';
const TCP = 'svcdup-tcpsvc';
const PORT = 7710;

interface Status {
  scmName: string;
  status?: ServiceStatus;
  restart?: string;
  restarts?: number;
  lastExit?: number | null;
  health?: { check: string; state: string | null };
}

const statusOf = (vm: string, service: string): Status => cliJson<Status[]>(['status', '--vm', vm]).find((d) => d.scmName === `${service}@${vm}`)!;
const events = (service: string): SvcdupEvent[] => cliJson<SvcdupEvent[]>(['events']).filter((e) => e.service === service);

/** Poll until `ok` holds (the time is up: the caller's expect says what was seen). */
async function until<T>(what: () => T, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = what();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  host = await openTestHost('opsr');
  const b = host.backend;
  // direct duplicates write IMAGE@VM.exe beside the image: a copy in this prefix, not the build folder
  mkdirSync(dirname(b.toHostPath(IMAGE)), { recursive: true });
  copyFileSync(b.toHostPath(nativeExe(b, 'svcdup-testsvc.exe')), b.toHostPath(IMAGE));
  await b.call('scm.create', { name: CRASHY, imagePath: `${IMAGE} --name ${CRASHY} --crash` });
  await b.call('scm.create', { name: TCP, imagePath: `${IMAGE} --name ${TCP} --tcp ${PORT}` });
  // one test service per VM: their singleton mutex would collide in one
  expect(cli(['vm', 'create', 'r1', '--ip', '127.77.210.2']).status).toBe(0);
  expect(cli(['vm', 'create', 'r2', '--ip', '127.77.210.3']).status).toBe(0);
  expect(cli(['vm', 'create', 'r3', '--port-map', '80:18080']).status).toBe(0);
}, 180_000);
afterAll(async () => {
  if (host) await stopWatcher(host.paths.home);
  await host?.dispose();
});

/** Three restarts, then STOPPED for good: the events of one round, in order. */
async function threeRestartsThenStopped(staysMs: number): Promise<void> {
  // 0.5 s up, then 1 + 2 + 4 s of backoff between the crashes
  const s = await until(
    () => statusOf('r1', CRASHY),
    (s) => s.restarts === 3 && s.status?.state === 'STOPPED',
    60_000,
  );
  expect(s).toMatchObject({ restart: 'on-failure:3', restarts: 3, lastExit: 3 });
  expect(s.status).toMatchObject({ state: 'STOPPED', win32ExitCode: 1066, serviceExitCode: 3 });
  // and it stays so: past the next backoff (8 s) nothing restarts it
  await new Promise((r) => setTimeout(r, staysMs));
  expect(statusOf('r1', CRASHY)).toMatchObject({ restarts: 3, status: { state: 'STOPPED' } });
}

describe('--restart on-failure:3', () => {
  it('brings a crashing duplicate back 3 times with growing delays, then leaves it STOPPED; events list it in order', async () => {
    const r = cli(['dup', CRASHY, '--vm', 'r1', '--restart', 'on-failure:3', '--start']);
    expect(r.status, r.stderr).toBe(0);
    // written as the SCM's failure actions (3 restarts, then none); Wine 8 takes them, but not the flag
    expect(await host.backend.call('scm.failure', { name: `${CRASHY}@r1`, restarts: 3 })).toEqual({ actions: 4, flag: false });
    // the watcher runs, outside Wine, though no command does
    expect(watcherRunning(host.paths.home)).toBeDefined();
    await threeRestartsThenStopped(9000);
    const ev = events(CRASHY);
    expect(ev.map((e) => e.kind)).toEqual(['created', 'started', 'crashed', 'restarted', 'crashed', 'restarted', 'crashed', 'restarted', 'crashed']);
    expect(ev.filter((e) => e.kind === 'crashed').every((e) => e.detail.exitCode === 3)).toBe(true);
    const restarted = ev.filter((e) => e.kind === 'restarted');
    expect(restarted.map((e) => [e.detail.restarts, e.detail.afterMs])).toEqual([
      [1, 1000],
      [2, 2000],
      [3, 4000],
    ]);
    // the delays seen: each restart at least its backoff after the crash before it
    for (const e of restarted) {
      const crash = ev[ev.indexOf(e) - 1]!;
      expect(Date.parse(e.at) - Date.parse(crash.at)).toBeGreaterThanOrEqual((e.detail.afterMs as number) - 100);
    }
    // ids and times in order
    expect(ev.map((e) => e.id)).toEqual([...ev.map((e) => e.id)].sort((a, b) => a - b));
    expect(cli(['status', '--vm', 'r1']).stdout).toMatch(/3 \(on-failure:3, last exit 3\)/);
  }, 180_000);

  it('keeps working after `host stop` and a fresh `host start`, with no command running', async () => {
    const before = watcherRunning(host.paths.home)!;
    expect(cli(['host', 'stop']).status).toBe(0);
    expect(ownerAlive(before)).toBe(false);
    const started = cliJson<{ watcher: { pid: number } }>(['host', 'start']);
    expect(started.watcher.pid).not.toBe(before.pid);
    expect(watcherRunning(host.paths.home)?.pid).toBe(started.watcher.pid);
    // started by hand: on-failure:3 counts from 0 again
    expect(cli(['start', CRASHY, '--vm', 'r1']).status).toBe(0);
    await threeRestartsThenStopped(1000);
    const kinds = events(CRASHY).map((e) => e.kind);
    expect(kinds.slice(-8)).toEqual(['started', 'crashed', 'restarted', 'crashed', 'restarted', 'crashed', 'restarted', 'crashed']);
  }, 180_000);

  it('svcdup stop is not a failure: an `always` duplicate stopped by svcdup stays stopped', async () => {
    expect(cli(['dup', TCP, '--vm', 'r1', '--restart', 'always', '--start']).status).toBe(0);
    const stopped = cliJson<ServiceStatus>(['stop', TCP, '--vm', 'r1']);
    expect(stopped.state).toBe('STOPPED');
    await new Promise((r) => setTimeout(r, 3000));
    expect(statusOf('r1', TCP)).toMatchObject({ restarts: 0, status: { state: 'STOPPED' } });
    expect(events(TCP).map((e) => e.kind)).toEqual(['created', 'started', 'stopped']);
    expect(cli(['undup', TCP, '--vm', 'r1']).status).toBe(0);
  }, 120_000);
});

describe('--health', () => {
  it('a port that stops answering marks the duplicate unhealthy, and its restart policy restarts it', async () => {
    const r = cli(['dup', TCP, '--vm', 'r2', '--health', `tcp:${PORT}`, '--interval', '1', '--retries', '2', '--restart', 'on-failure', '--start']);
    expect(r.status, r.stderr).toBe(0);
    const healthy = await until(
      () => statusOf('r2', TCP),
      (s) => s.health?.state === 'healthy',
      20_000,
    );
    expect(healthy.health).toMatchObject({ check: `tcp:${PORT}`, state: 'healthy' });
    const pid = healthy.status!.pid;
    // the service stays RUNNING; its listener closes
    await host.backend.call('scm.control', { name: `${TCP}@r2`, code: 200 });
    const again = await until(
      () => statusOf('r2', TCP),
      (s) => s.restarts === 1 && s.health?.state === 'healthy',
      30_000,
    );
    expect(again).toMatchObject({ restarts: 1, health: { state: 'healthy' }, status: { state: 'RUNNING' } });
    expect(again.status!.pid).not.toBe(pid);
    const ev = events(TCP).filter((e) => e.vm === 'r2');
    expect(ev.map((e) => e.kind)).toEqual(['created', 'started', 'healthy', 'unhealthy', 'restarted', 'healthy']);
    expect(ev[4]!.detail).toMatchObject({ reason: 'unhealthy', restarts: 1 });
    expect((await waitState(host.backend, `${TCP}@r2`, 'RUNNING')).pid).toBe(again.status!.pid);
  }, 120_000);

  it('pipe: and cmd: probes: true for a pipe served in the VM and a program that exits 0 in the VM, false otherwise', async () => {
    const vm = cliJson<{ name: string; address: string; portMap: Record<string, number> }[]>(['vm', 'ls']).find((v) => v.name === 'r2')!;
    const rec = { ...vm, createdAt: '', policy: '' };
    const ph = {
      backend: host.backend,
      runInVm: async (name: string, argv: string[]) => cli(['run', '--vm', name, '--', ...argv]).status ?? -1,
    };
    const check = (spec: string) => probe(resolveProbe(parseHealth(spec), rec), 'r2', ph, 2000);
    // the test service's own pipe, as the VM names it (svcdup.r2.svcdup-testsvc on the host)
    expect(await check('pipe:svcdup-testsvc')).toBe(true);
    expect(await check('pipe:svcdup-nosuchpipe')).toBe(false);
    const pipecall = nativeExe(host.backend, 'svcdup-pipecall.exe');
    expect(await check(`cmd:"${pipecall}" svcdup-testsvc`)).toBe(true);
    expect(await check(`cmd:"${pipecall}" svcdup-nosuchpipe`)).toBe(false);
  }, 60_000);

  it('the dashboard shows health, restarts and the events', async () => {
    const ui = spawn('node', [join(packageRoot, 'dist/cli.js'), 'ui', '--json'], { env: testEnv(host.paths), stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const first = await new Promise<string>((resolve) => ui.stdout.once('data', (d: Buffer) => resolve(d.toString())));
      const { url } = JSON.parse(first) as { url: string };
      const u = new URL(url);
      let state: UiState | undefined;
      // the first poll fills the state
      for (let i = 0; i < 40 && !state?.duplicates.length; i++) {
        if (i) await new Promise((r) => setTimeout(r, 500));
        state = (await (await fetch(`${u.origin}/api/state?token=${u.searchParams.get('token')}`)).json()) as UiState;
      }
      if (!state) throw new Error('no state');
      const d = state.duplicates.find((x) => x.scmName === `${TCP}@r2`);
      expect(d).toMatchObject({ health: 'healthy', restarts: '1 (on-failure)' });
      expect(state.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['unhealthy', 'restarted', 'crashed']));
    } finally {
      ui.kill('SIGTERM');
    }
  }, 60_000);

  it('a health check on a port the VM does not own is one clear line naming it, and nothing is registered', () => {
    const r = cli(['dup', TCP, '--vm', 'r3', '--health', `tcp:${PORT}`]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`health check tcp:${PORT}: VM r3 does not own port ${PORT}`);
    expect(cliJson<unknown[]>(['status', '--vm', 'r3'])).toEqual([]);
    const bad = cli(['dup', TCP, '--vm', 'r3', '--restart', 'sometimes']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--restart "sometimes"');
  });
});
