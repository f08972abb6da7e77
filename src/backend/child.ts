// What both backends do with a program they started: collect its output, bound its time.
import type { ChildProcess } from 'node:child_process';
import type { ExecResult } from './types.js';

const CLOSE_GRACE_MS = 300;

/** Wait for `child` to end; its stdout and stderr (when piped) are collected as text. */
export async function collectChild(child: ChildProcess, timeoutMs?: number): Promise<ExecResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = timeoutMs ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : undefined;
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
      // A process the child started (a COM server, `cmd /c start X`) may hold the pipes
      // open long after the child exited: once it has, read what is there, then stop waiting.
      child.on('exit', (c, signal) => {
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          resolve(c ?? (signal ? 128 : 1));
        }, CLOSE_GRACE_MS).unref();
      });
    });
    return { code, stdout, stderr };
  } finally {
    if (timer) clearTimeout(timer);
  }
}
