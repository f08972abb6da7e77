// Whether a duplicate the SCM calls RUNNING still has its process. Wine's SCM does not notice
// a service process that dies (docs/design.md, Wine facts): a killed svcdup-host, or a killed
// direct image (which is the service process itself), stays RUNNING with its old pid there.
// status shows such a duplicate as STOPPED, with the reason.
import type { HostBackend, ServiceStatus } from '../backend/types.js';

export interface Gone {
  /** why it is shown STOPPED though the SCM says RUNNING */
  reason: string;
}

/** For each status RUNNING whose pid is not a live process: the reason it is really stopped. */
export async function goneProcesses(
  backend: Pick<HostBackend, 'call'>,
  items: readonly { status?: ServiceStatus; direct: boolean }[],
): Promise<(Gone | undefined)[]> {
  const running = items.filter((i) => i.status && i.status.state !== 'STOPPED' && i.status.pid);
  if (!running.length) return items.map(() => undefined);
  const live = new Set((await backend.call('proc.list', {})).map((p) => p.pid));
  return items.map((i) => {
    const s = i.status;
    if (!s || s.state === 'STOPPED' || !s.pid || live.has(s.pid)) return undefined;
    return {
      reason: i.direct
        ? `its image (pid ${s.pid}) is gone: killed or crashed; the SCM still says ${s.state}`
        : `its svcdup-host (pid ${s.pid}) is gone: killed or crashed; the SCM still says ${s.state}`,
    };
  });
}

/** The status as it really is: STOPPED when its process is gone. */
export function asObserved(s: ServiceStatus, gone: Gone | undefined): ServiceStatus {
  return gone ? { ...s, state: 'STOPPED', pid: 0 } : s;
}
