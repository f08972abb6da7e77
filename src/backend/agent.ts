// Client side of the agent protocol (docs/agent-protocol.md): JSON lines over a child's stdio;
// the agent runs requests concurrently, so replies come as they finish and are matched by id.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { AgentError, SvcdupError, Win32 } from '../errors.js';
import type { AgentOp, AgentParams, AgentResult } from './types.js';

/** SCM queries that are asked again when their answer is lost (see readScm). */
const SCM_READS: ReadonlySet<string> = new Set(['scm.status', 'scm.config', 'scm.list', 'scm.wait']);
const SCM_READ_TIMEOUT_MS = 30_000;
const SCM_READ_TRIES = 3;
/**
 * ERROR_INVALID_HANDLE from an SCM call on handles the same agent request opened a moment
 * before: seen under Wine 8 with many calls in flight (1 of 500 StartService calls in
 * bench/density, and a QueryServiceConfig before), when the call evidently went out on an
 * RPC connection of another association than the one its handle belongs to. The SCM
 * refused it without acting, so it can be asked again.
 */
const SCM_LOST_HANDLE = Win32.ERROR_INVALID_HANDLE;

interface Pending {
  op: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Response {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { op?: string; code?: number; message?: string };
}

export class AgentClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffer = '';
  private stderrTail = '';
  private exited: Error | undefined;
  readonly exitPromise: Promise<void>;

  constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    /** why the agent ended when it was not its own doing (under Wine: the prefix's wineserver died), asked once it has */
    private readonly cause?: () => string | undefined,
  ) {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onData(chunk));
    child.stderr.setEncoding('utf8');
    // Keep the last few lines: they explain an agent that dies.
    child.stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    this.exitPromise = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        // What the agent (or the Wine loader) said last may still be in the stderr pipe when
        // 'exit' comes: wait for its end, briefly (a process it started could hold the pipe).
        const report = (): void => {
          if (this.exited) return;
          const tail = this.stderrTail.trim();
          const why = this.cause?.();
          this.exited = new SvcdupError(
            why
              ? `${why} (svcdup-agent exited, ${signal ?? `code ${code}`})`
              : `svcdup-agent exited (${signal ?? `code ${code}`})${tail ? `: ${tail.split('\n').slice(-3).join(' | ')}` : ''}`,
          );
          for (const p of this.pending.values()) p.reject(this.exited);
          this.pending.clear();
          resolve();
        };
        if (child.stderr.readableEnded || child.stderr.destroyed) return report();
        child.stderr.once('end', report);
        setTimeout(report, 250); // not unref: pending calls must hear of the exit
      });
      child.on('error', (err) => {
        this.exited = new SvcdupError(`cannot run svcdup-agent: ${err.message}`);
        for (const p of this.pending.values()) p.reject(this.exited);
        this.pending.clear();
        resolve();
      });
    });
    child.stdin.on('error', () => {
      /* reported through 'exit' */
    });
  }

  get alive(): boolean {
    return this.exited === undefined;
  }

  /** Why it ended (undefined while it runs). */
  get exitError(): Error | undefined {
    return this.exited;
  }

  /** End it now, failing every pending call with `err` (its host went away under it). */
  abort(err: Error): void {
    if (this.exited) return;
    this.exited = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.child.kill('SIGKILL');
  }

  call<K extends AgentOp>(op: K, params: AgentParams<K>): Promise<AgentResult<K>> {
    if (!SCM_READS.has(op)) return this.send(op, params);
    return this.readScm(op, params, SCM_READ_TRIES);
  }

  /**
   * The SCM's read-only queries, asked again when no answer comes: under concurrent use,
   * Wine 8's rpcrt4 has been seen to lose the reply to one call (the agent's thread waits
   * on its connection for ever, the SCM's waits for the next request: bench/density,
   * GetServiceDisplayNameW). A query is safe to repeat; the stuck thread stays behind.
   */
  private readScm<K extends AgentOp>(op: K, params: AgentParams<K>, tries: number): Promise<AgentResult<K>> {
    const id = this.nextId;
    const call = this.send(op, params);
    let timer: NodeJS.Timeout | undefined;
    const lost = new Promise<'lost'>((resolve) => {
      timer = setTimeout(() => resolve('lost'), SCM_READ_TIMEOUT_MS);
    });
    return Promise.race([call, lost]).then(
      (r) => {
        clearTimeout(timer);
        if (r !== 'lost') return r;
        this.pending.delete(id); // a late answer is dropped
        if (tries <= 1) throw new SvcdupError(`svcdup-agent: no answer to ${op} within ${SCM_READ_TIMEOUT_MS / 1000} s, ${SCM_READ_TRIES} times`);
        return this.readScm(op, params, tries - 1);
      },
      (err: unknown) => {
        clearTimeout(timer);
        // refused for a handle the SCM does not know, that the request itself had just opened:
        // the same race in Wine's rpcrt4 (see SCM_LOST_HANDLE); nothing was done, ask again
        if (err instanceof AgentError && err.code === SCM_LOST_HANDLE && tries > 1) return this.readScm(op, params, tries - 1);
        throw err;
      },
    );
  }

  private send<K extends AgentOp>(op: K, params: AgentParams<K>): Promise<AgentResult<K>> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { op, resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin.write(JSON.stringify({ id, op, params }) + '\n');
    });
  }

  /** Ask the agent to exit and wait for it; kill it if it does not go within the grace period. */
  async close(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    this.child.stdin.write(JSON.stringify({ id: this.nextId++, op: 'exit', params: {} }) + '\n');
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
    // A process the agent started may still hold the other end of these pipes.
    this.child.stdout.destroy();
    this.child.stderr.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let msg: Response;
    try {
      msg = JSON.parse(line) as Response;
    } catch {
      this.stderrTail = (this.stderrTail + `\n[non-JSON stdout] ${line}`).slice(-2000);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new AgentError(msg.error?.op ?? p.op, msg.error?.code ?? -1, msg.error?.message ?? 'unknown error'));
  }
}
