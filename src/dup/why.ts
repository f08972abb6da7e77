// Why a duplicate stopped while starting, in words, when svcdup can tell: its image is
// missing, or the analyzer finds what stands in its way (the host's instance holding its
// port on the wildcard address, told as explainBindConflict tells it; a refusal's reason).
// Asked only after a start failed, and for `status` of a stopped duplicate with an error.
import { existsSync } from 'node:fs';
import type { ManagedBackend } from '../backend/index.js';
import type { ServiceStatus } from '../backend/types.js';
import { analyzeService } from '../analyze/service.js';
import { explainBindConflict, type PortMapping } from '../net/index.js';
import { imageOf } from '../plan/image.js';
import type { PlannedService } from '../plan/plan.js';

/** Win32 exit codes that say nothing went wrong: 0, and ERROR_SERVICE_NEVER_STARTED (1077). */
const QUIET = new Set([0, 1077]);

/** A stopped duplicate whose last start ended in an error. */
export const stoppedWithError = (s: ServiceStatus | undefined): boolean => !!s && s.state === 'STOPPED' && !QUIET.has(s.win32ExitCode);

const wildcard = (a: string | undefined): boolean => !a || a === '*' || a === '0.0.0.0' || a === '::' || a === '[::]' || a === '+';

/** The reasons svcdup finds (none when it finds none); each one line. */
export async function whyStopped(
  backend: ManagedBackend,
  d: { vm: string; service: string; plan: PlannedService },
  vm: { address?: string; portMap: readonly PortMapping[] },
): Promise<string[]> {
  const out: string[] = [];
  const image = d.plan.direct?.copy ?? (d.plan.original.serviceDll || imageOf(d.plan.original.imagePath));
  let missing = false;
  try {
    missing = !!image && !existsSync(backend.toHostPath(image));
  } catch {
    /* not a path this host can look at: the analysis below may say more */
  }
  if (missing) out.push(`its image ${image} does not exist on the host`);
  let report: Awaited<ReturnType<typeof analyzeService>>;
  try {
    report = await analyzeService(d.service, backend);
  } catch {
    return out;
  }
  for (const r of report.verdict.reasons) {
    if (r.code === 'port-taken') {
      const mapped = new Set(vm.portMap.filter((m) => m.proto === 'tcp').map((m) => m.from));
      for (const p of report.footprint?.ports ?? [])
        if (wildcard(p.address) && !mapped.has(p.port))
          out.push(
            explainBindConflict({ vm: d.vm, proto: 'tcp', address: vm.address ?? '127.0.0.1', port: p.port, platform: backend.kind, hostWildcard: true }),
          );
    } else if (!(missing && (r.code === 'image-missing' || r.code === 'service-dll-missing'))) out.push(`${r.text}${r.fix ? ` (fix: ${r.fix})` : ''}`);
  }
  return [...new Set(out)];
}
