// The `windows` host backend: the same native binaries, run directly on Windows.
// It cannot be tested on the Linux testbed; it is kept to the minimum that differs from Wine.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Paths } from '../config.js';
import { SvcdupError } from '../errors.js';
import { AgentClient } from './agent.js';
import { AgentHost } from './agent-host.js';
import { collectChild } from './child.js';
import type { AgentOp, AgentParams, AgentResult, ExecOptions, ExecResult, HostBackend } from './types.js';

/** Files on Windows through Node's fs (HostFiles): written, never run (no Windows on the test bed). */
export class WindowsBackend extends AgentHost implements HostBackend {
  readonly kind = 'windows' as const;

  constructor(readonly paths: Paths) {
    super();
  }

  async open(): Promise<void> {
    if (this.agent?.alive) return;
    if (process.platform !== 'win32') throw new SvcdupError('the windows backend runs only on Windows; use --backend wine');
    const exe = join(this.paths.nativeDir, 'svcdup-agent.exe');
    if (!existsSync(exe)) throw new SvcdupError(`native binaries are not built (${exe} is missing): run npm run build`);
    this.agent = new AgentClient(spawn(exe, [], { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true }));
    await this.agent.call('ping', {});
  }

  call<K extends AgentOp>(op: K, params: AgentParams<K>): Promise<AgentResult<K>> {
    if (!this.agent?.alive) return this.open().then(() => this.agent!.call(op, params));
    return this.agent.call(op, params);
  }

  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const [cmd, ...args] = argv;
    if (!cmd) throw new SvcdupError('exec: no command given');
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: opts.inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    return collectChild(child, opts.timeoutMs);
  }

  toWindowsPath(path: string): string {
    return path;
  }

  toHostPath(winPath: string): string {
    return winPath.replace(/%(\w+)%/g, (m, v: string) => process.env[v] ?? m);
  }

  async shutdown(): Promise<void> {
    await this.close();
  }

  async describe(): Promise<Record<string, unknown>> {
    return { backend: 'windows', ...(await this.describeAgent()) };
  }
}
