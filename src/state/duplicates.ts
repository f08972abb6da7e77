// Duplicate records in the state database: the only SQL on the duplicate table.
// The journal's db.* steps (src/dup/steps.ts) write them; dup, status and the VM layer read them.
import type { Db } from './db.js';

export interface DuplicateRow {
  vm: string;
  service: string;
  scmName: string;
  createdAt: string;
  /** the PlannedService (src/plan/plan.ts) as JSON */
  plan: unknown;
}

interface Row {
  vm: string;
  service: string;
  scm_name: string;
  created_at: string;
  plan: string;
}

const fromRow = (r: Row): DuplicateRow => ({ vm: r.vm, service: r.service, scmName: r.scm_name, createdAt: r.created_at, plan: JSON.parse(r.plan) as unknown });

/** All duplicates, or one VM's, ordered by VM and service. */
export function listDuplicates(db: Db, vm?: string): DuplicateRow[] {
  const rows = vm
    ? db.prepare(`SELECT vm, service, scm_name, created_at, plan FROM duplicate WHERE vm = ? ORDER BY vm, service`).all(vm)
    : db.prepare(`SELECT vm, service, scm_name, created_at, plan FROM duplicate ORDER BY vm, service`).all();
  return (rows as Row[]).map(fromRow);
}

/** The services duplicated into a VM. */
export function duplicatedServices(db: Db, vm: string): string[] {
  return (db.prepare(`SELECT service FROM duplicate WHERE vm = ? ORDER BY service`).all(vm) as { service: string }[]).map((r) => r.service);
}

export function insertDuplicate(db: Db, d: Omit<DuplicateRow, 'createdAt'> & { createdAt?: string }, orIgnore = false): void {
  db.prepare(`INSERT ${orIgnore ? 'OR IGNORE ' : ''}INTO duplicate (vm, service, scm_name, created_at, plan) VALUES (?, ?, ?, ?, ?)`).run(
    d.vm,
    d.service,
    d.scmName,
    d.createdAt ?? new Date().toISOString(),
    JSON.stringify(d.plan),
  );
}

export function deleteDuplicate(db: Db, vm: string, service: string): void {
  db.prepare(`DELETE FROM duplicate WHERE vm = ? AND service = ?`).run(vm, service);
}

/** Every duplicate's names only, no plan to parse: what the watcher reads once a second. */
export function listDuplicateNames(db: Db): { vm: string; service: string; scmName: string }[] {
  return db.prepare(`SELECT vm, service, scm_name AS scmName FROM duplicate ORDER BY vm, service`).all() as { vm: string; service: string; scmName: string }[];
}
