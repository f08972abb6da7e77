// Per duplicate: its restart policy and health check as given, and what the watcher saw
// (restarts, last exit code, health). The only SQL on the dup_runtime table (migration 5).
// Single statements: the watcher writes here without the writer lock, as events.ts does.
import type { Db } from './db.js';

export type HealthState = 'starting' | 'healthy' | 'unhealthy';

export interface DupRuntime {
  vm: string;
  service: string;
  /** as given: 'no', 'on-failure', 'on-failure:3', 'always' */
  restart: string;
  /** as given, with its interval and retries: 'tcp:80 interval=10 retries=3'; null: none */
  health: string | null;
  /** restarts svcdup made since the policy was set or the duplicate was last started by hand */
  restarts: number;
  /** the last exit the watcher saw: the service exit code under 1066, else the Win32 exit code */
  lastExit: number | null;
  healthState: HealthState | null;
  /** ISO 8601, when health_state last changed */
  healthAt: string | null;
}

interface Row {
  vm: string;
  service: string;
  restart: string;
  health: string | null;
  restarts: number;
  last_exit: number | null;
  health_state: string | null;
  health_at: string | null;
}

const fromRow = (r: Row): DupRuntime => ({
  vm: r.vm,
  service: r.service,
  restart: r.restart,
  health: r.health,
  restarts: r.restarts,
  lastExit: r.last_exit,
  healthState: r.health_state as HealthState | null,
  healthAt: r.health_at,
});

export function getRuntime(db: Db, vm: string, service: string): DupRuntime | undefined {
  const r = db.prepare(`SELECT * FROM dup_runtime WHERE vm = ? AND service = ?`).get(vm, service) as Row | undefined;
  return r && fromRow(r);
}

/** Every duplicate's row, or one VM's. */
export function listRuntime(db: Db, vm?: string): DupRuntime[] {
  const rows = vm
    ? db.prepare(`SELECT * FROM dup_runtime WHERE vm = ? ORDER BY vm, service`).all(vm)
    : db.prepare(`SELECT * FROM dup_runtime ORDER BY vm, service`).all();
  return (rows as Row[]).map(fromRow);
}

/** Does any duplicate have something to watch (a restart policy or a health check)? */
export function anyWatched(db: Db): boolean {
  return !!db.prepare(`SELECT 1 FROM dup_runtime WHERE restart <> 'no' OR health IS NOT NULL LIMIT 1`).get();
}

/** Set a duplicate's policy: the counters start again. */
export function setPolicy(db: Db, vm: string, service: string, p: { restart: string; health: string | null }): void {
  db.prepare(
    `INSERT INTO dup_runtime (vm, service, restart, health, restarts, last_exit, health_state, health_at) VALUES (?, ?, ?, ?, 0, NULL, NULL, NULL)
     ON CONFLICT (vm, service) DO UPDATE SET restart = excluded.restart, health = excluded.health, restarts = 0, health_state = NULL, health_at = NULL`,
  ).run(vm, service, p.restart, p.health);
}

export function deleteRuntime(db: Db, vm: string, service?: string): void {
  if (service) db.prepare(`DELETE FROM dup_runtime WHERE vm = ? AND service = ?`).run(vm, service);
  else db.prepare(`DELETE FROM dup_runtime WHERE vm = ?`).run(vm);
}

/** The watcher saw the duplicate end with this exit code. */
export function recordExit(db: Db, vm: string, service: string, exit: number): void {
  db.prepare(`UPDATE dup_runtime SET last_exit = ? WHERE vm = ? AND service = ?`).run(exit, vm, service);
}

/** The watcher restarted it: the count after this one. */
export function countRestart(db: Db, vm: string, service: string): number {
  db.prepare(`UPDATE dup_runtime SET restarts = restarts + 1 WHERE vm = ? AND service = ?`).run(vm, service);
  return getRuntime(db, vm, service)?.restarts ?? 0;
}

/** Started by hand (svcdup start, up): on-failure:N counts from here again. */
export function resetRestarts(db: Db, vm: string, service: string): void {
  db.prepare(`UPDATE dup_runtime SET restarts = 0 WHERE vm = ? AND service = ?`).run(vm, service);
}

export function setHealthState(db: Db, vm: string, service: string, state: HealthState | null, at = new Date()): void {
  db.prepare(`UPDATE dup_runtime SET health_state = ?, health_at = ? WHERE vm = ? AND service = ?`).run(state, state ? at.toISOString() : null, vm, service);
}
