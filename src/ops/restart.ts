// Restart policies (docs/operate.md, "Restart policies"): `dup --restart no|on-failure[:N]|always`.
// Pure: parsing, the SCM's failure actions a policy is written as, and the watcher's decision.
import type { ServiceStatus } from '../backend/types.js';
import { UsageError } from '../errors.js';

export interface RestartPolicy {
  kind: 'no' | 'on-failure' | 'always';
  /** on-failure:N: at most N restarts; absent: no limit */
  max?: number;
}

/** The first delay of the exponential backoff, doubling after each restart up to BACKOFF_MAX_MS. */
export const BACKOFF_FIRST_MS = 1000;
export const BACKOFF_MAX_MS = 60_000;
/** Running this long after a restart counts as recovered: the backoff starts from the first delay again. */
export const RECOVERED_AFTER_MS = 10_000;
const MAX_LIMIT = 16; // the agent writes at most 16 failure actions (native/agent/scm.c)

export function parseRestart(text: string): RestartPolicy {
  const m = /^(no|always|on-failure)(?::(\d+))?$/.exec(text.trim());
  if (!m || (m[2] !== undefined && m[1] !== 'on-failure')) throw new UsageError(`--restart "${text}": give no, on-failure, on-failure:N or always`);
  if (m[2] === undefined) return { kind: m[1] as RestartPolicy['kind'] };
  const max = Number(m[2]);
  if (max < 1 || max > MAX_LIMIT) throw new UsageError(`--restart "${text}": N must be 1 to ${MAX_LIMIT}`);
  return { kind: 'on-failure', max };
}

export const restartText = (p: RestartPolicy): string => (p.max !== undefined ? `${p.kind}:${p.max}` : p.kind);

/** How long to wait before the restart after `streak` restarts in a row without recovering. */
export const backoffMs = (streak: number): number => Math.min(BACKOFF_FIRST_MS * 2 ** Math.min(streak, 16), BACKOFF_MAX_MS);

/** The policy as the SCM's failure actions (agent scm.failure): -1 is "after every failure". */
export function failureActions(p: RestartPolicy): { restarts: number; delayMs: number; maxDelayMs: number } {
  const restarts = p.kind === 'no' ? 0 : p.kind === 'always' ? -1 : (p.max ?? -1);
  return { restarts, delayMs: BACKOFF_FIRST_MS, maxDelayMs: BACKOFF_MAX_MS };
}

/** A STOPPED that is a failure, as Windows counts one with FailureActionsOnNonCrashFailures:
 *  a nonzero Win32 exit code (a process that died is 1066 with its exit code, svcdup-watch / svcdup-host). */
export const isFailure = (s: Pick<ServiceStatus, 'win32ExitCode'>): boolean => s.win32ExitCode !== 0;

/** The exit code to show: the service-specific one under 1066 (ERROR_SERVICE_SPECIFIC_ERROR), else the Win32 one. */
export const exitCodeOf = (s: Pick<ServiceStatus, 'win32ExitCode' | 'serviceExitCode'>): number =>
  s.win32ExitCode === 1066 ? s.serviceExitCode : s.win32ExitCode;

/** Does a duplicate that just stopped get restarted? `byUser`: svcdup stop (or undup) asked for it. */
export function shouldRestart(p: RestartPolicy, stopped: Pick<ServiceStatus, 'win32ExitCode'>, restartsSoFar: number, byUser: boolean): boolean {
  if (byUser || p.kind === 'no') return false;
  if (p.kind === 'on-failure' && !isFailure(stopped)) return false;
  return p.max === undefined || restartsSoFar < p.max;
}
