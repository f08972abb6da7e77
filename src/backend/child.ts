// What both backends do with a program they started: collect its output, bound its time.
import type { ChildProcess } from 'node:child_process';
import type { ExecResult } from './types.js';

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
    });
    return { code, stdout, stderr };
  } finally {
    if (timer) clearTimeout(timer);
  }
}
