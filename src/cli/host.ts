// Commands about the host itself: doctor, services, host exec, host stop.
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createBackend, type ManagedBackend } from '../backend/index.js';
import { resolvePaths } from '../config.js';
import { listServices, serviceTypeName } from '../services.js';
import { printJson, printTable } from './output.js';
import { DamagedDbError, openDb } from '../state/db.js';
import { checkDrift } from '../dup/repair.js';
import { ensureWatcher, runWatcher, stopWatcher, watcherLog } from '../watch/daemon.js';

/** Run `fn` with an opened backend; the agent is closed afterwards, the wineserver stays up. */
export async function withBackend<T>(program: Command, fn: (b: ManagedBackend) => Promise<T>): Promise<T> {
  const backend = createBackend({ kind: program.opts<{ backend?: string }>().backend });
  try {
    await backend.open();
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** Does svcdup-hook.dll install in a VM process here? svcdup-run starts itself in a scratch
 *  VM with every part of the hook; a part that cannot be installed is named. */
async function hookCheck(backend: ManagedBackend, nativeDir: string): Promise<Check> {
  const r = await backend.exec([backend.toWindowsPath(join(nativeDir, 'svcdup-run.exe')), '--self-check']);
  let res: { ok?: boolean; vm?: string; failed?: string; exitCode?: number; error?: number } = {};
  try {
    res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as typeof res;
  } catch {
    /* reported below */
  }
  if (r.code === 0 && res.ok) return { name: 'hook', ok: true, detail: `installs in a VM process (scratch VM ${res.vm})` };
  const why = res.failed
    ? `cannot be installed: ${res.failed}`
    : res.error !== undefined
      ? `a VM process cannot be started: Win32 error ${res.error}`
      : res.exitCode !== undefined
        ? `the VM process exited with 0x${(res.exitCode >>> 0).toString(16)}`
        : `svcdup-run --self-check failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`;
  return { name: 'hook', ok: false, detail: why };
}

/** Is the state database readable (PRAGMA quick_check)? A damaged one names svcdup repair. */
function stateCheck(path: string): Check {
  if (!existsSync(path)) return { name: 'state', ok: true, detail: `${path}: none yet` };
  try {
    openDb(path).close();
    return { name: 'state', ok: true, detail: `${path}: quick_check ok` };
  } catch (err) {
    return { name: 'state', ok: false, detail: err instanceof DamagedDbError ? err.message : `${path}: ${(err as Error).message}` };
  }
}

/** Does the database know the host's VMs (an emptied or replaced one does not)? Only when the database is readable. */
async function driftCheck(backend: ManagedBackend, path: string): Promise<Check | undefined> {
  let db: ReturnType<typeof openDb>;
  try {
    db = openDb(path);
  } catch {
    return undefined; // reported by the state check
  }
  try {
    await checkDrift(backend, db);
    return { name: 'state/host', ok: true, detail: 'the database knows the VMs the host has' };
  } catch (err) {
    return { name: 'state/host', ok: false, detail: (err as Error).message };
  } finally {
    db.close();
  }
}

export function registerHostCommands(program: Command): void {
  program
    .command('doctor')
    .description('check what svcdup needs: Wine, the native build, the prefix, the agent, the hook in a VM process')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const checks: Check[] = [];
      const paths = resolvePaths();
      checks.push({ name: 'node', ok: true, detail: process.version });
      const mingw = spawnSync('x86_64-w64-mingw32-gcc', ['--version'], { encoding: 'utf8' });
      checks.push({
        name: 'mingw-w64',
        ok: mingw.status === 0,
        detail: mingw.status === 0 ? (mingw.stdout.split('\n')[0] ?? '') : 'not found (needed only to build: apt-get install mingw-w64)',
      });
      const agentExe = join(paths.nativeDir, 'svcdup-agent.exe');
      checks.push({ name: 'native build', ok: existsSync(agentExe), detail: existsSync(agentExe) ? paths.nativeDir : `${agentExe} missing: npm run build` });
      checks.push(stateCheck(paths.stateDb));
      let info: Record<string, unknown> = {};
      try {
        const backend = createBackend({ kind: program.opts<{ backend?: string }>().backend });
        info = await backend.describe();
        if (backend.kind === 'wine')
          checks.push({ name: 'wine', ok: true, detail: `${(info.wine as { version: string }).version} (${(info.wine as { loader: string }).loader})` });
        try {
          await backend.open();
          info = await backend.describe();
          const agent = info.agent as { version: string; windowsVersion: string; wineVersion?: string };
          checks.push({ name: 'prefix', ok: true, detail: paths.prefix });
          checks.push({
            name: 'agent',
            ok: true,
            detail: `svcdup-agent ${agent.version} on Windows ${agent.windowsVersion}${agent.wineVersion ? ` (Wine ${agent.wineVersion})` : ''}`,
          });
          checks.push(await hookCheck(backend, paths.nativeDir));
          const drift = await driftCheck(backend, paths.stateDb);
          if (drift) checks.push(drift);
        } catch (err) {
          checks.push({ name: 'agent', ok: false, detail: (err as Error).message });
        } finally {
          await backend.close();
        }
      } catch (err) {
        checks.push({ name: 'backend', ok: false, detail: (err as Error).message });
      }
      const ok = checks.every((c) => c.ok);
      if (opts.json) printJson({ ok, checks, backend: info });
      else for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(13)} ${c.detail}\n`);
      if (!ok) process.exitCode = 1;
    });

  program
    .command('services')
    .description("list the host's services with state, pid, type and image path")
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const services = await withBackend(program, listServices);
      if (opts.json) return printJson(services);
      printTable(
        ['NAME', 'STATE', 'PID', 'TYPE', 'IMAGE'],
        services.map((s) => [s.name, s.state, s.pid || '-', serviceTypeName(s.type), s.serviceDll ? `${s.imagePath}  [${s.serviceDll}]` : s.imagePath]),
      );
    });

  const host = program.command('host').description('the host backend itself, outside any VM');
  host
    .command('exec')
    .description('run a Windows command on the host backend, outside any VM (e.g. svcdup host exec -- sc query RpcSs)')
    .argument('<command...>', 'the command and its arguments')
    .action(async (argv: string[]) => {
      const r = await withBackend(program, (b) => b.exec(argv, { inherit: true }));
      process.exitCode = r.code;
    });
  host
    .command('start')
    .description('start the host backend (under Wine: the wineserver and the prefix, whose AUTO services start) and the watcher (docs/operate.md)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const kind = program.opts<{ backend?: string }>().backend;
      const backend = createBackend({ kind });
      await backend.open();
      await backend.close();
      const watcher = await ensureWatcher(backend.paths.home, backend.kind);
      if (opts.json) printJson({ backend: backend.kind, watcher: { pid: watcher, log: watcherLog(backend.paths.home) } });
      else process.stdout.write(`host started (${backend.kind}); watcher pid ${watcher} (log ${watcherLog(backend.paths.home)})\n`);
    });
  host
    .command('watch')
    .description('run the watcher in the foreground (what host start runs in the background): restart policies, health checks, events')
    .action(async () => {
      await runWatcher(createBackend({ kind: program.opts<{ backend?: string }>().backend }));
    });
  host
    .command('stop')
    .description('end the host backend: under Wine, the wineserver and every process of the prefix; and the watcher')
    .action(async () => {
      const backend = createBackend({ kind: program.opts<{ backend?: string }>().backend });
      // the watcher first: it would see every duplicate end as a crash
      await stopWatcher(backend.paths.home);
      await backend.shutdown();
    });
}
