// What the commands that serve until interrupted (ui, metrics) share: the --port option's one
// reading and its one error line, and the wait for Ctrl-C or a kill.
import { UsageError } from '../errors.js';

/** --port TEXT, or `fallback` when not given: a TCP port number, 0 for any free one. */
export function parsePort(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`--port ${text}: a TCP port number from 0 to 65535`);
  return port;
}

/** Resolves at the first SIGINT or SIGTERM. */
export function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
}
