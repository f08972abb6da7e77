// The `wine` host backend: svcdup's own Wine prefix, a persistent wineserver, and the agent.
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs, closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join, delimiter, sep } from 'node:path';
import type { Paths } from '../config.js';
import { SvcdupError } from '../errors.js';
import { AgentClient } from './agent.js';
import { AgentHost } from './agent-host.js';
import { collectChild } from './child.js';
import { clonePrefix, readStamp, unsharePrefix, writeStamp } from './prefix.js';
import type { AgentOp, AgentParams, AgentResult, ExecOptions, ExecResult, HostBackend } from './types.js';

/** What a command says when the prefix's wineserver is gone under it (wineserver -k9, a crash, the host restarting). */
export const WINESERVER_DIED =
  "the Wine prefix's wineserver died: the prefix's services and svcdup's agent ended with it; the next svcdup command starts it again (svcdup repair or up then reconcile what was lost)";

export interface WineInstall {
  /** the 64-bit loader (Debian: /usr/lib/wine/wine64) */
  loader: string;
  server: string;
  version: string;
}

export class WineMissingError extends SvcdupError {
  constructor(looked: string[]) {
    super(
      `Wine is not installed (looked for ${looked.join(', ')}).\n` +
        `Install it: sudo apt-get install wine64   (Debian/Ubuntu; other systems: a 64-bit Wine 8 or newer)\n` +
        `or point SVCDUP_WINE at the wine64 loader. Then run: svcdup doctor`,
      3,
    );
    this.name = 'WineMissingError';
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** Find a 64-bit Wine: $SVCDUP_WINE, then Debian's layout, then PATH. */
export function findWine(env: NodeJS.ProcessEnv = process.env): WineInstall {
  const loaders = env.SVCDUP_WINE ? [env.SVCDUP_WINE] : ['/usr/lib/wine/wine64', onPath('wine64', env), onPath('wine', env)];
  const loader = loaders.find((p): p is string => !!p && existsSync(p));
  if (!loader) throw new WineMissingError(env.SVCDUP_WINE ? [env.SVCDUP_WINE] : ['/usr/lib/wine/wine64', 'wine64 and wine on PATH']);
  const dir = loader.slice(0, loader.lastIndexOf(sep));
  const servers = [join(dir, 'wineserver64'), join(dir, 'wineserver'), onPath('wineserver', env)];
  const server = servers.find((p): p is string => !!p && existsSync(p));
  if (!server) throw new WineMissingError([`wineserver next to ${loader}`, 'wineserver on PATH']);
  const r = spawnSync(loader, ['--version'], { encoding: 'utf8', env: { ...env, WINELOADER: loader } });
  const version = (r.stdout ?? '').trim();
  if (r.status !== 0 || !version.startsWith('wine-')) {
    throw new SvcdupError(`${loader} does not run (${(r.stderr || r.error?.message || '').trim() || `exit ${r.status}`}); is it a working Wine?`, 3);
  }
  return { loader, server, version };
}

/** A live (not zombie) process's command name, or undefined. */
function readProcComm(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const close = stat.lastIndexOf(')');
    if (/^[ZX]$/.test(stat.slice(close + 2, close + 3))) return undefined;
    return stat.slice(stat.indexOf('(') + 1, close);
  } catch {
    return undefined;
  }
}

/** Files under Wine: the copies run on the Unix side, on the prefix's files (HostFiles). */
export class WineBackend extends AgentHost implements HostBackend {
  readonly kind = 'wine' as const;
  private opening: Promise<void> | undefined;
  private serverPid: number | undefined;

  constructor(
    readonly paths: Paths,
    readonly wine: WineInstall,
  ) {
    super();
  }

  /** The environment every Wine process of this backend runs with. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      WINEPREFIX: this.paths.prefix,
      WINELOADER: this.wine.loader,
      WINEDEBUG: process.env.SVCDUP_WINEDEBUG ?? '-all',
      // no Gecko/Mono install dialogs in a headless prefix
      WINEDLLOVERRIDES: 'mscoree,mshtml=',
      ...extra,
    };
  }

  async open(): Promise<void> {
    if (this.agent?.alive) return;
    this.opening ??= this.doOpen().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    await this.ensurePrefix();
    // Persistent: services (and duplicates) outlive the svcdup command that started them.
    // Exit 2: a wineserver already runs for this prefix (it exits quietly when it cannot take the lock).
    // stdio ignored: the daemon would inherit our pipes and spawnSync would wait for it forever.
    const r = spawnSync(this.wine.server, ['-p'], { env: this.env(), stdio: 'ignore' });
    if (r.status !== 0 && r.status !== 2) throw new SvcdupError(`cannot start wineserver ${this.wine.server}: exit ${r.status ?? r.signal}`);
    if (r.status === 0) {
      // Boot the prefix (services.exe, rpcss, ...) from a process whose stdio is /dev/null:
      // those long-lived processes inherit the first process's stdio and would hold our pipes open.
      spawnSync(this.wine.loader, ['cmd', '/c', 'exit'], { env: this.env(), stdio: 'ignore', timeout: 120_000 });
    }
    const exe = join(this.paths.nativeDir, 'svcdup-agent.exe');
    if (!existsSync(exe)) throw new SvcdupError(`native binaries are not built (${exe} is missing): run npm run build`);
    const child = spawn(this.wine.loader, [this.toWindowsPath(exe)], { env: this.env(), stdio: ['pipe', 'pipe', 'pipe'] });
    const agent = new AgentClient(child, () => (this.serverAlive() ? undefined : WINESERVER_DIED));
    this.agent = agent;
    // A wineserver killed under a call: every Wine process of the prefix should end with it, but a
    // call must not wait on a process that does not; checked every 2 s while the agent runs.
    const watch = setInterval(() => {
      if (!this.serverAlive()) agent.abort(new SvcdupError(WINESERVER_DIED));
    }, 2000);
    watch.unref();
    void agent.exitPromise.then(() => clearInterval(watch));
    const info = await this.agent.call('ping', {});
    if (!info.wine) throw new SvcdupError('the agent does not report Wine: is SVCDUP_WINE a real Wine?');
  }

  /** Make the template once (wineboot), then the prefix as a clone of it. */
  async ensurePrefix(): Promise<{ created: boolean; ms: number }> {
    const t0 = performance.now();
    const stamp = readStamp(this.paths.prefix);
    if (stamp && existsSync(join(this.paths.prefix, 'system.reg'))) {
      if (stamp.wineVersion !== this.wine.version) {
        // Wine will update this prefix in place on its next start: break links to the template first.
        await unsharePrefix(this.paths.prefix);
        await writeStamp(this.paths.prefix, this.wine.version);
      }
      return { created: false, ms: performance.now() - t0 };
    }
    await fs.mkdir(this.paths.home, { recursive: true });
    await this.ensureTemplate();
    // A prefix without a stamp is a leftover of an interrupted clone: replace it.
    await fs.rm(this.paths.prefix, { recursive: true, force: true });
    await clonePrefix(this.paths.template, this.paths.prefix);
    await writeStamp(this.paths.prefix, this.wine.version);
    return { created: true, ms: performance.now() - t0 };
  }

  async ensureTemplate(): Promise<void> {
    const t = this.paths.template;
    const stamp = readStamp(t);
    if (stamp?.wineVersion === this.wine.version) return;
    const tmp = `${t}.tmp-${process.pid}`;
    await fs.rm(tmp, { recursive: true, force: true });
    await fs.mkdir(join(tmp, '..'), { recursive: true });
    const env = this.env({ WINEPREFIX: tmp });
    // Output to a file, not a pipe: the wineserver wineboot starts would hold a pipe open.
    const log = join(t + '.log');
    const fd = openSync(log, 'w');
    const boot = spawnSync(this.wine.loader, ['wineboot', '--init'], { env, stdio: ['ignore', fd, fd], timeout: 300_000 });
    closeSync(fd);
    // Wait until the template's wineserver (and every process of it) is gone: the files are then final.
    spawnSync(this.wine.server, ['-w'], { env, timeout: 120_000 });
    if (boot.status !== 0 || !existsSync(join(tmp, 'system.reg'))) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw new SvcdupError(`wineboot could not create a Wine prefix (exit ${boot.status ?? boot.signal}): see ${log}`);
    }
    await writeStamp(tmp, this.wine.version);
    await fs.rm(log, { force: true });
    await fs.rm(t, { recursive: true, force: true });
    try {
      await fs.rename(tmp, t);
    } catch (err) {
      // Another svcdup made it at the same time: keep theirs.
      await fs.rm(tmp, { recursive: true, force: true });
      if (readStamp(t)?.wineVersion !== this.wine.version) throw err;
    }
  }

  call<K extends AgentOp>(op: K, params: AgentParams<K>): Promise<AgentResult<K>> {
    if (!this.agent?.alive) {
      // the prefix's wineserver died under this command: its services, its agent and whatever
      // the command was doing are gone; starting a fresh Wine in the middle of it would hide that
      if (this.agent && !this.serverAlive()) return Promise.reject(this.agent.exitError ?? new SvcdupError(WINESERVER_DIED));
      return this.open().then(() => this.agent!.call(op, params));
    }
    return this.agent.call(op, params);
  }

  /**
   * Every live process of this prefix, the wineserver among them: on Linux the processes whose
   * environment holds its WINEPREFIX (what every Wine process of it inherits). Empty where
   * there is no /proc.
   */
  prefixProcesses(): { pid: number; comm: string }[] {
    const want = `WINEPREFIX=${this.paths.prefix}`;
    const wineDir = this.wine.loader.slice(0, this.wine.loader.lastIndexOf(sep) + 1);
    const out: { pid: number; comm: string }[] = [];
    let pids: string[];
    try {
      pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
    } catch {
      return out;
    }
    for (const pid of pids) {
      try {
        if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(want)) continue;
        // Wine's own programs only (the loader, its preloader, the server): not a shell that has WINEPREFIX set
        if (!readlinkSync(`/proc/${pid}/exe`).startsWith(wineDir)) continue;
        const comm = readProcComm(Number(pid));
        if (comm !== undefined) out.push({ pid: Number(pid), comm }); // else ended, not yet reaped
      } catch {
        /* gone meanwhile, or not ours to read */
      }
    }
    return out;
  }

  /** Whether the prefix's wineserver runs (true where that cannot be told: no /proc). */
  serverAlive(): boolean {
    if (!existsSync('/proc/self/environ')) return true;
    // the server found last time, if it still runs: one read instead of a scan of /proc
    if (this.serverPid !== undefined && readProcComm(this.serverPid)?.startsWith('wineserver')) return true;
    this.serverPid = this.prefixProcesses().find((p) => p.comm.startsWith('wineserver'))?.pid;
    return this.serverPid !== undefined;
  }

  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new SvcdupError('exec: no command given');
    await this.open();
    const child = spawn(this.wine.loader, argv, {
      env: this.env(opts.env),
      cwd: opts.cwd,
      stdio: opts.inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    });
    return collectChild(child, opts.timeoutMs);
  }

  /** Wine maps the whole Unix file system as Z:. */
  toWindowsPath(path: string): string {
    return 'Z:' + path.replace(/\//g, '\\');
  }

  /**
   * A Windows path of this prefix as a Unix path: drive letters through dosdevices,
   * environment strings expanded, and each component matched case-insensitively as Wine does.
   */
  toHostPath(winPath: string): string {
    const expanded = winPath
      .replace(/^\\\?\?\\/, '')
      .replace(/%(SystemRoot|windir)%/gi, 'C:\\windows')
      .replace(/%ProgramFiles%/gi, 'C:\\Program Files')
      .replace(/^\\SystemRoot\\/i, 'C:\\windows\\')
      .replace(/^system32\\/i, 'C:\\windows\\system32\\');
    const m = /^([a-zA-Z]):\\?(.*)$/.exec(expanded);
    if (!m) throw new SvcdupError(`not an absolute Windows path: ${winPath}`);
    // dosdevices/c: links to ../drive_c, z: to /
    let dir = join(this.paths.prefix, 'dosdevices', `${m[1]!.toLowerCase()}:`);
    try {
      statSync(dir);
    } catch {
      throw new SvcdupError(`drive ${m[1]}: is not mapped in the Wine prefix (${winPath})`);
    }
    for (const part of (m[2] ?? '').split('\\').filter(Boolean)) {
      const exact = join(dir, part);
      if (existsSync(exact)) {
        dir = exact;
        continue;
      }
      let hit: string | undefined;
      try {
        hit = readdirSync(dir).find((n) => n.toLowerCase() === part.toLowerCase());
      } catch {
        /* not a directory */
      }
      dir = join(dir, hit ?? part);
    }
    return dir;
  }

  /**
   * Close, then end the wineserver and every Wine process of the prefix (services included).
   * `wineserver -k` ends the processes its server knows; those a dead wineserver left behind
   * (wineserver -k9, a crash) it does not know, so whatever still carries the prefix's
   * WINEPREFIX afterwards is killed by pid.
   */
  async shutdown(): Promise<void> {
    await this.close();
    if (!existsSync(this.paths.prefix)) return;
    spawnSync(this.wine.server, ['-k'], { env: this.env(), timeout: 30_000, stdio: 'ignore' });
    spawnSync(this.wine.server, ['-w'], { env: this.env(), timeout: 30_000, stdio: 'ignore' });
    for (let i = 0; i < 20; i++) {
      const left = this.prefixProcesses().filter((p) => p.pid !== process.pid);
      if (!left.length) return;
      for (const p of left) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async describe(): Promise<Record<string, unknown>> {
    const stamp = readStamp(this.paths.prefix);
    const tstamp = readStamp(this.paths.template);
    const out: Record<string, unknown> = {
      backend: 'wine',
      wine: this.wine,
      home: this.paths.home,
      template: { path: this.paths.template, ready: tstamp?.wineVersion === this.wine.version, ...(tstamp ? { createdAt: tstamp.createdAt } : {}) },
      prefix: { path: this.paths.prefix, exists: !!stamp, ...(stamp ? { createdAt: stamp.createdAt } : {}) },
      ...(await this.describeAgent()),
    };
    return out;
  }
}
