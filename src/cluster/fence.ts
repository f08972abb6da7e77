// The node agent's fence: a separate process, so that an agent that cannot run (SIGSTOP, a
// hung event loop) still stops its duplicates before the cluster may start them elsewhere.
// The agent tells it, after each lease renewal, the time by which it must have heard again
// and what to stop then; if that time passes (or the agent dies), it stops them, and keeps
// them stopped until the agent renews again (an agent resumed mid-start cannot leave one
// running). Started by src/cluster/node.ts with child_process.fork.
import { createBackend, type ManagedBackend } from '../backend/index.js';
import { Duplicates } from '../dup/dup.js';
import { openDb } from '../state/db.js';

export interface FenceArm {
  /** ms since the epoch: fence when no newer message came by then */
  deadline: number;
  /** the duplicates to stop then, `[service, vm]`: those the cluster may start elsewhere on its own (onNodeLoss: replace) */
  dups: [string, string][];
  /** the duplicates a clean agent exit stops: every one it holds for the cluster */
  all: [string, string][];
}
export interface FenceReport {
  fenced: string[];
  errors: string[];
}

let armed: FenceArm | undefined;
let fenced = false;
let timer: NodeJS.Timeout | undefined;
let backend: ManagedBackend | undefined;

async function stopAll(which: 'dups' | 'all' = 'dups'): Promise<FenceReport> {
  const report: FenceReport = { fenced: [], errors: [] };
  if (!armed) return report;
  try {
    backend ??= createBackend({ kind: process.env.SVCDUP_BACKEND });
    await backend.open();
    const db = openDb(backend.paths.stateDb);
    try {
      const dups = new Duplicates(backend, db);
      const running = new Set((await backend.call('scm.list', {})).filter((s) => s.state !== 'STOPPED').map((s) => s.name.toLowerCase()));
      for (const [service, vm] of armed[which]) {
        const rec = dups.get(vm, service);
        if (!rec || !running.has(rec.scmName.toLowerCase())) continue;
        try {
          await dups.stop(service, vm);
          report.fenced.push(rec.scmName);
        } catch (err) {
          report.errors.push(`${rec.scmName}: ${(err as Error).message}`);
        }
      }
    } finally {
      db.close();
    }
  } catch (err) {
    report.errors.push((err as Error).message);
    await backend?.close().catch(() => {});
    backend = undefined;
  }
  return report;
}

/** Fenced: stop now, and again every second while no renewal comes (an agent resumed mid-start). */
async function fence(): Promise<void> {
  const first = !fenced;
  fenced = true;
  const r = await stopAll();
  if (first || r.fenced.length) process.send?.({ fence: r });
  if (fenced) timer = setTimeout(() => void fence(), 1000);
}

process.on('message', (m: FenceArm | { exit: true }) => {
  if ('exit' in m) {
    // a clean agent exit: stop everything now, answer, leave
    clearTimeout(timer);
    void stopAll('all').then((r) => {
      process.send?.({ fence: r }, () => process.exit(0));
    });
    return;
  }
  armed = m;
  fenced = false;
  clearTimeout(timer);
  timer = setTimeout(() => void fence(), Math.max(0, m.deadline - Date.now()));
});
// the agent died (SIGKILL): nothing renews any more (`wait` duplicates run on: the cluster
// never starts them elsewhere until `svcdup node lost` says this host is gone)
process.on('disconnect', () => {
  clearTimeout(timer);
  void stopAll().then(async () => {
    await backend?.close().catch(() => {});
    process.exit(0);
  });
});
