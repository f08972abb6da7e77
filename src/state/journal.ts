// The operation journal: every change svcdup makes to the host is a recorded sequence of
// steps, so that an interrupted operation (a failure, a kill) is rolled back by the next
// svcdup command instead of being left half-applied.
//
// A step is data (a kind and JSON args), not a closure: recovery runs in another process
// and must be able to undo it from the database alone. Each kind's `undo` must be
// idempotent and must work whether or not its `apply` ran, because a kill between
// "recorded pending" and "marked done" leaves exactly that doubt.
import type { Db } from './db.js';
import { ownerAlive, selfOwner, type Owner } from './lock.js';

export interface StepKind<C, A = unknown> {
  apply(ctx: C, args: A): Promise<void>;
  undo(ctx: C, args: A): Promise<void>;
  /**
   * An apply that throws changed nothing (one call that fails whole, as CreateService):
   * the step is then not undone. Its undo could otherwise remove what someone else made
   * (a service of the same name).
   */
  atomic?: boolean;
}

export type StepKinds<C> = Record<string, StepKind<C, any>>;

/** A step as a plan holds it (src/plan/steps.ts): data only. */
export interface PlannedStep {
  kind: string;
  args: unknown;
  /** consecutive steps with the same number are independent: applied at once */
  batch?: number;
}

export interface JournalEntry {
  id: number;
  op: string;
  target: string;
  status: 'running' | 'done' | 'rolled-back' | 'failed';
  startedAt: string;
  endedAt?: string;
  error?: string;
  /** the process that runs (or ran) it; absent in entries older than owners */
  owner?: Owner;
}

export interface RecoveryReport {
  /** operations found interrupted and rolled back */
  rolledBack: JournalEntry[];
  /** operations whose rollback itself failed: left for the next run, with the reason */
  failed: JournalEntry[];
}

const now = (): string => new Date().toISOString();

/**
 * SVCDUP_FAILPOINT=OP:SEQ:before|after kills this process (SIGKILL, no cleanup) around
 * step SEQ of operation OP: how the tests prove that every step is recoverable. With
 * `:stop` appended it stops itself instead (SIGSTOP): a command that is alive but stalled
 * in the middle of its operation, which nobody may roll back.
 */
function failpoint(op: string, seq: number, phase: 'before' | 'after'): void {
  const fp = process.env.SVCDUP_FAILPOINT;
  if (fp === `${op}:${seq}:${phase}`) process.kill(process.pid, 'SIGKILL');
  if (fp === `${op}:${seq}:${phase}:stop`) process.kill(process.pid, 'SIGSTOP');
}

export class Journal<C> {
  constructor(
    private readonly db: Db,
    private readonly kinds: StepKinds<C>,
    /** whose operations this journal records (this process, unless a test says otherwise) */
    private readonly owner: Owner = selfOwner(),
  ) {}

  /**
   * Run `body` as one journaled operation. `step(kind, args)` records the step, applies it,
   * and marks it done; `batch(steps)` does the same for steps that do not depend on one
   * another: all are recorded first, then applied at once. If anything throws, the done
   * (and pending) steps are undone in reverse order and the error is rethrown.
   */
  async run<T>(
    op: string,
    target: string,
    ctx: C,
    body: (step: <A>(kind: string, args: A) => Promise<void>, batch: (steps: readonly PlannedStep[]) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    const id = Number(
      this.db
        .prepare(`INSERT INTO journal (op, target, status, started_at, owner_pid, owner_start) VALUES (?, ?, 'running', ?, ?, ?)`)
        .run(op, target, now(), this.owner.pid, this.owner.start).lastInsertRowid,
    );
    let seq = 0;
    const record = this.db.prepare(`INSERT INTO journal_step (journal_id, seq, kind, args, status) VALUES (?, ?, ?, ?, 'pending')`);
    const markDone = this.db.prepare(`UPDATE journal_step SET status = 'done' WHERE journal_id = ? AND seq = ?`);
    const markUndone = this.db.prepare(`UPDATE journal_step SET status = 'undone' WHERE journal_id = ? AND seq = ?`);
    const kindOf = (kind: string): StepKind<C> => {
      const k = this.kinds[kind];
      if (!k) throw new Error(`journal: unknown step kind ${kind}`);
      return k;
    };
    const step = async <A>(kind: string, args: A): Promise<void> => {
      const k = kindOf(kind);
      const s = seq++;
      this.durable(() => record.run(id, s, kind, JSON.stringify(args)));
      failpoint(op, s, 'before');
      try {
        await k.apply(ctx, args);
      } catch (err) {
        // on the disk: lost, recovery would undo what a failed atomic step did not make (another's service)
        if (k.atomic) this.durable(() => markUndone.run(id, s));
        throw err;
      }
      failpoint(op, s, 'after');
      markDone.run(id, s);
    };
    const batch = async (steps: readonly PlannedStep[]): Promise<void> => {
      if (steps.length === 1) return step(steps[0]!.kind, steps[0]!.args);
      const ks = steps.map((s) => kindOf(s.kind));
      const first = seq;
      seq += steps.length;
      // one transaction: the whole batch is on record (on the disk) before any of it is applied
      this.durable(() => {
        for (const [i, s] of steps.entries()) record.run(id, first + i, s.kind, JSON.stringify(s.args));
      });
      for (let i = 0; i < steps.length; i++) failpoint(op, first + i, 'before');
      const results = await Promise.allSettled(steps.map((s, i) => ks[i]!.apply(ctx, s.args)));
      for (let i = 0; i < steps.length; i++) failpoint(op, first + i, 'after');
      const marks = (): void => {
        for (const [i, r] of results.entries()) {
          if (r.status === 'fulfilled') markDone.run(id, first + i);
          else if (ks[i]!.atomic) markUndone.run(id, first + i);
        }
      };
      // a failed atomic step's mark is synced (as in `step`); marks of steps done need not be
      if (results.some((r, i) => r.status === 'rejected' && ks[i]!.atomic)) this.durable(marks);
      else this.db.transaction(marks)();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    };
    try {
      const result = await body(step, batch);
      this.db.prepare(`UPDATE journal SET status = 'done', ended_at = ? WHERE id = ?`).run(now(), id);
      return result;
    } catch (err) {
      await this.rollback(id, ctx, (err as Error).message);
      throw err;
    }
  }

  /**
   * `fn` in one transaction synced to the disk (synchronous = FULL for its commit, which
   * syncs the log up to it: every commit before it too), whatever the connection's setting.
   * For the records of steps, written before the step changes the host: a host that loses
   * power then keeps the record of every change it may have (recovery undoes it). Marks of
   * steps done, the operation's end and rollbacks need no sync: lost on a power loss, they
   * leave steps pending, which recovery undoes (undo works whether or not apply ran), so the
   * operation is still all or nothing.
   */
  private durable(fn: () => void): void {
    const was = this.db.pragma('synchronous', { simple: true }) as number;
    if (was >= 2) {
      this.db.transaction(fn)();
      return;
    }
    this.db.pragma('synchronous = FULL');
    try {
      this.db.transaction(fn)();
    } finally {
      this.db.pragma(`synchronous = ${was}`);
    }
  }

  /**
   * Apply a planned list of steps as one operation: all or nothing. Consecutive steps
   * with the same `batch` number are applied at once (see `run`).
   */
  async runSteps(op: string, target: string, ctx: C, steps: readonly PlannedStep[]): Promise<void> {
    await this.run(op, target, ctx, async (_step, batch) => {
      for (let i = 0; i < steps.length; ) {
        let j = i + 1;
        const b = steps[i]!.batch;
        if (b !== undefined) while (j < steps.length && steps[j]!.batch === b) j++;
        await batch(steps.slice(i, j));
        i = j;
      }
    });
  }

  /**
   * Roll back every operation whose owner died while it was 'running', and retry those
   * whose rollback failed before. An operation of a live process (a stopped one too) is
   * left alone: it may resume, and its owner rolls it back itself on a failure. Only a
   * holder of the writer lock (src/state/lock.ts) may call this.
   */
  async recover(ctx: C): Promise<RecoveryReport> {
    const report: RecoveryReport = { rolledBack: [], failed: [] };
    for (const id of this.orphans()) {
      const ok = await this.rollback(id, ctx, 'interrupted');
      (ok ? report.rolledBack : report.failed).push(this.entry(id));
    }
    return report;
  }

  /** Whether any operation is still to be recovered. Cheap: every writer asks. */
  pending(): boolean {
    return this.orphans().length > 0;
  }

  /** Operations to recover: newest first. */
  private orphans(): number[] {
    const rows = this.db.prepare(`SELECT id, status, owner_pid, owner_start FROM journal WHERE status IN ('running', 'failed') ORDER BY id DESC`).all() as {
      id: number;
      status: string;
      owner_pid: number | null;
      owner_start: string | null;
    }[];
    return rows.filter((r) => r.status === 'failed' || !r.owner_pid || !ownerAlive({ pid: r.owner_pid, start: r.owner_start ?? '' })).map((r) => r.id);
  }

  entries(limit = 50): JournalEntry[] {
    return (this.db.prepare(`SELECT id FROM journal ORDER BY id DESC LIMIT ?`).all(limit) as { id: number }[]).map((r) => this.entry(r.id));
  }

  steps(id: number): { seq: number; kind: string; args: unknown; status: string }[] {
    return (
      this.db.prepare(`SELECT seq, kind, args, status FROM journal_step WHERE journal_id = ? ORDER BY seq`).all(id) as {
        seq: number;
        kind: string;
        args: string;
        status: string;
      }[]
    ).map((r) => ({ ...r, args: JSON.parse(r.args) as unknown }));
  }

  private entry(id: number): JournalEntry {
    const r = this.db.prepare(`SELECT id, op, target, status, started_at, ended_at, error, owner_pid, owner_start FROM journal WHERE id = ?`).get(id) as {
      id: number;
      op: string;
      target: string;
      status: JournalEntry['status'];
      started_at: string;
      ended_at: string | null;
      error: string | null;
      owner_pid: number | null;
      owner_start: string | null;
    };
    return {
      id: r.id,
      op: r.op,
      target: r.target,
      status: r.status,
      startedAt: r.started_at,
      ...(r.ended_at ? { endedAt: r.ended_at } : {}),
      ...(r.error ? { error: r.error } : {}),
      ...(r.owner_pid ? { owner: { pid: r.owner_pid, start: r.owner_start ?? '' } } : {}),
    };
  }

  /** Undo the steps of one operation in reverse; true when all are undone. */
  private async rollback(id: number, ctx: C, reason: string): Promise<boolean> {
    const steps = this.db
      .prepare(`SELECT seq, kind, args FROM journal_step WHERE journal_id = ? AND status IN ('pending', 'done') ORDER BY seq DESC`)
      .all(id) as {
      seq: number;
      kind: string;
      args: string;
    }[];
    for (const s of steps) {
      try {
        const k = this.kinds[s.kind];
        if (!k) throw new Error(`unknown step kind ${s.kind}`);
        await k.undo(ctx, JSON.parse(s.args));
        this.db.prepare(`UPDATE journal_step SET status = 'undone' WHERE journal_id = ? AND seq = ?`).run(id, s.seq);
      } catch (err) {
        this.db
          .prepare(`UPDATE journal SET status = 'failed', error = ? WHERE id = ?`)
          .run(`rollback of step ${s.seq} (${s.kind}) failed: ${(err as Error).message}`, id);
        return false;
      }
    }
    this.db.prepare(`UPDATE journal SET status = 'rolled-back', ended_at = ?, error = ? WHERE id = ?`).run(now(), reason, id);
    return true;
  }
}
