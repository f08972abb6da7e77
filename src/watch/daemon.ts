// The watcher as a process of its own: started detached (`svcdup host watch`, its output in
// HOME/watcher.log), one per home (an exclusive SQLite lock on HOME/watcher.lock, released by the
// kernel when it dies), found through HOME/watcher.pid (pid + start time, so a reused pid is not
// taken for it). It ends with its Wine: when the agent's wineserver is gone it exits rather than
// start a new one (`host stop` means stopped; the next `host start` or command starts both again).
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedBackend } from '../backend/index.js';
import { packageRoot } from '../config.js';
import { AgentError, SvcdupError } from '../errors.js';
import { openDb } from '../state/db.js';
import { ownerAlive, ownerOf, selfOwner, type Owner } from '../state/lock.js';
import { Watcher } from './watcher.js';

const pidFile = (home: string) => join(home, 'watcher.pid');
export const watcherLog = (home: string) => join(home, 'watcher.log');

/** The running watcher of this home, or undefined. */
export function watcherRunning(home: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(pidFile(home), 'utf8')) as Owner;
    return ownerAlive(o) ? o : undefined;
  } catch {
    return undefined;
  }
}

/** Start the watcher unless it runs; its pid. */
export async function ensureWatcher(home: string, backendKind: string): Promise<number> {
  const running = watcherRunning(home);
  if (running) return running.pid;
  mkdirSync(home, { recursive: true });
  const out = openSync(watcherLog(home), 'a');
  const child = spawn(process.execPath, [join(packageRoot, 'dist', 'cli.js'), '--backend', backendKind, 'host', 'watch'], {
    detached: true,
    stdio: ['ignore', out, out],
    env: process.env,
  });
  closeSync(out);
  child.unref();
  // up when it has written its pid file (after taking the lock): a second one started at once exits
  for (let i = 0; i < 100; i++) {
    const o = watcherRunning(home);
    if (o) return o.pid;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const o = watcherRunning(home);
  if (o) return o.pid;
  throw new SvcdupError(`the watcher did not start (see ${watcherLog(home)})`);
}

/** End the watcher, if one runs; its pid. */
export async function stopWatcher(home: string): Promise<number | undefined> {
  const o = watcherRunning(home);
  if (!o) return undefined;
  try {
    process.kill(o.pid, 'SIGTERM');
  } catch {
    return o.pid;
  }
  for (let i = 0; i < 50 && ownerAlive(o); i++) await new Promise((r) => setTimeout(r, 100));
  if (ownerAlive(o)) process.kill(o.pid, 'SIGKILL');
  return o.pid;
}

/** The watcher's own loop (`svcdup host watch`): returns when told to stop or when its Wine is gone. */
export async function runWatcher(backend: ManagedBackend): Promise<void> {
  const home = backend.paths.home;
  mkdirSync(home, { recursive: true });
  const lock = new Database(join(home, 'watcher.lock'), { timeout: 0 });
  try {
    lock.exec('BEGIN EXCLUSIVE');
  } catch {
    lock.close();
    return; // another watcher has this home
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const db = openDb(backend.paths.stateDb);
  try {
    await backend.open();
    writeFileSync(pidFile(home), JSON.stringify(selfOwner()));
    const w = new Watcher(backend, db, { scmRestarts: backend.kind === 'windows', log });
    log(`${new Date().toISOString()} watcher ${process.pid} started`);
    while (!stop && existsSync(home)) {
      try {
        await w.tick();
      } catch (err) {
        // one duplicate's trouble (a Win32 error, a stop that timed out) is logged and the loop goes
        // on; with its Wine gone the watcher ends rather than start a new one under `host stop`
        log(`${new Date().toISOString()} ${(err as Error).message}`);
        if (
          !(err instanceof AgentError) &&
          !(await backend.call('ping', {}).then(
            () => true,
            () => false,
          ))
        )
          throw err;
      }
      await new Promise((r) => setTimeout(r, w.nextDue() - Date.now()));
    }
  } catch (err) {
    log(`${new Date().toISOString()} watcher ends: ${(err as Error).message}`);
  } finally {
    log(`${new Date().toISOString()} watcher ${process.pid} stopped`);
    try {
      const o = JSON.parse(readFileSync(pidFile(home), 'utf8')) as Owner;
      if (o.pid === process.pid && o.start === ownerOf(process.pid).start) rmSync(pidFile(home), { force: true });
    } catch {
      /* gone with the home */
    }
    db.close();
    await backend.close().catch(() => undefined);
    lock.close();
  }
}
