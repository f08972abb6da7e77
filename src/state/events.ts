// Events: what happened to VMs and duplicates (created, started, crashed, limit, ...), kept in the
// state database so `svcdup events`, the dashboard and metrics read one ordered record.
// The only SQL on the event table. Writers need no writer lock: one INSERT is atomic under WAL.
import type { Db } from './db.js';

/** What an event says happened. Add kinds here, never reuse one for another meaning. */
export type EventKind =
  | 'vm-created'
  | 'vm-removed'
  | 'created'
  | 'removed'
  | 'started'
  | 'stopped'
  | 'crashed'
  | 'restarted'
  | 'healthy'
  | 'unhealthy'
  | 'limit';

export interface SvcdupEvent {
  id: number;
  /** ISO 8601, UTC */
  at: string;
  kind: EventKind;
  vm: string | null;
  /** the host service's name, for a duplicate's events */
  service: string | null;
  /** kind-specific facts (exit code, limit name and value, ...) */
  detail: Record<string, unknown>;
}

interface Row {
  id: number;
  at: string;
  kind: string;
  vm: string | null;
  service: string | null;
  detail: string;
}

export function recordEvent(db: Db, e: { kind: EventKind; vm?: string | null; service?: string | null; detail?: Record<string, unknown>; at?: Date }): number {
  const r = db
    .prepare(`INSERT INTO event (at, kind, vm, service, detail) VALUES (?, ?, ?, ?, ?)`)
    .run((e.at ?? new Date()).toISOString(), e.kind, e.vm ?? null, e.service ?? null, JSON.stringify(e.detail ?? {}));
  return Number(r.lastInsertRowid);
}

/** Events in the order they happened; `afterId` is for following (`events -f`), `since` for `--since`. */
export function listEvents(db: Db, opts: { since?: Date; afterId?: number; vm?: string; limit?: number } = {}): SvcdupEvent[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (opts.since) {
    where.push('at >= ?');
    args.push(opts.since.toISOString());
  }
  if (opts.afterId !== undefined) {
    where.push('id > ?');
    args.push(opts.afterId);
  }
  if (opts.vm) {
    where.push('vm = ?');
    args.push(opts.vm);
  }
  const sql = `SELECT id, at, kind, vm, service, detail FROM event ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id${opts.limit ? ` LIMIT ${Math.floor(opts.limit)}` : ''}`;
  return (db.prepare(sql).all(...args) as Row[]).map((r) => ({ ...r, kind: r.kind as EventKind, detail: JSON.parse(r.detail) as Record<string, unknown> }));
}
