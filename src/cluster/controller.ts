// The controller (`svcdup controller`): any number run; they campaign in an etcd election and
// only the leader places. Every write of the leader is a transaction that first checks its
// election key still exists, so a deposed leader (its lease gone) can change nothing.
import { createHash } from 'node:crypto';
import type { Campaign, Etcd3, Watcher } from 'etcd3';
import { connectEtcd, etcdWhy, type EtcdOptions } from './etcd.js';
import type { GroupDecl } from './file.js';
import { keys } from './keys.js';
import { Coalesced } from './serial.js';
import { choose, place, type Placed } from './place.js';
import type { AssignmentValue, DrainValue, MoveValue } from './types.js';
import { nodeViews, readState } from './view.js';

export interface ControllerOptions extends EtcdOptions {
  /** this controller's name in the election (shown by `cluster ps`) */
  id: string;
  /** election lease TTL, seconds: how long a dead leader holds the election */
  ttl: number;
  log: (line: string) => void;
}

/** The part of a group a node acts on: a change is a new generation. */
export function specOf(g: GroupDecl): string {
  if (g.spec) return g.spec;
  return createHash('sha256')
    .update(JSON.stringify({ ports: g.ports ?? '', services: g.services }))
    .digest('hex')
    .slice(0, 16);
}

/** etcd refuses a transaction of more than 128 operations (its --max-txn-ops default). */
const TXN_OPS = 100;

export class Controller {
  private client!: Etcd3;
  private campaign: Campaign | undefined;
  private leaderKey: string | undefined;
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly placing = new Coalesced(
    () => this.reconcile(),
    (err) => this.o.log(`placement failed: ${etcdWhy(err)}`),
  );
  private stopped = false;
  private lastPlacement = '';
  /** something only time changes (a grace running out, a move under way): look again every second */
  private pending = true;
  private lastReconcile = 0;
  private moving = false;
  /** the etcd revision the last full read saw */
  private readRevision = '';
  /** etcd writes made as leader (the bench reads them from the log) */
  writes = 0;

  constructor(private readonly o: ControllerOptions) {}

  async start(): Promise<void> {
    this.client = await connectEtcd(this.o, Number.POSITIVE_INFINITY, this.o.log);
    this.campaignNow();
  }

  private campaignNow(): void {
    if (this.stopped) return;
    const c = this.client.election(keys.election, this.o.ttl).campaign(this.o.id);
    this.campaign = c;
    c.on('elected', () => void this.lead(c));
    c.on('error', (err) => {
      if (this.campaign !== c) return;
      this.o.log(`election: ${etcdWhy(err)}${this.leaderKey ? '; no longer leading' : ''}; campaigning again`);
      void this.unlead();
      this.campaign = undefined;
      setTimeout(() => this.campaignNow(), 1000);
    });
  }

  private async lead(c: Campaign): Promise<void> {
    try {
      this.leaderKey = await c.getCampaignKey();
    } catch (err) {
      this.o.log(`election: ${etcdWhy(err)}`);
      return;
    }
    this.o.log(`leading (election key ${this.leaderKey})`);
    this.watcher = await this.client
      .watch()
      .prefix(keys.nodes.replace(/nodes\/$/, ''))
      .create();
    this.watcher.on('put', (kv) => this.onChange(kv.key.toString()));
    this.watcher.on('delete', (kv) => this.onChange(kv.key.toString()));
    this.watcher.on('error', () => {});
    // every change comes by the watch; grace periods run out with none, so while one runs (or
    // a move is under way) look again every second; at rest, every 30 s, only ask whether etcd's
    // revision moved since the last full read (a change the watch did not bring): a full read
    // is ~17 MB at 50,000 VMs
    this.timer = setInterval(() => {
      if (this.pending) this.schedule();
      else if (Date.now() - this.lastReconcile > 30_000) void this.atRest();
    }, 1000);
    this.schedule();
  }

  private async atRest(): Promise<void> {
    this.lastReconcile = Date.now();
    try {
      const r = await this.client.get(keys.placement).exec();
      if (r.header.revision !== this.readRevision) this.schedule();
    } catch (err) {
      this.o.log(`placement check failed: ${etcdWhy(err)}`);
    }
  }

  private onChange(key: string): void {
    // statuses and our own placement notes do not change placement
    if (key.startsWith(keys.statuses) || key === keys.placement) return;
    this.schedule();
  }

  private async unlead(): Promise<void> {
    clearInterval(this.timer);
    this.leaderKey = undefined;
    await this.watcher?.cancel().catch(() => {});
    this.watcher = undefined;
  }

  private schedule(): void {
    if (this.leaderKey) this.placing.run();
  }

  /** A transaction guarded by the election key: false when this controller no longer leads. */
  private async fenced(
    ops: ReturnType<Etcd3['put']>[] | ReturnType<Etcd3['delete']>[] | (ReturnType<Etcd3['put']> | ReturnType<Etcd3['delete']>)[],
  ): Promise<boolean> {
    const key = this.leaderKey;
    if (!key) return false;
    const r = await this.client
      .if(key, 'Create', '>', 0)
      .then(...ops)
      .commit();
    if (!r.succeeded) {
      this.o.log('deposed: the election key is gone; no longer placing');
      await this.unlead();
      return false;
    }
    this.writes += ops.length;
    return true;
  }

  private async reconcile(): Promise<void> {
    this.lastReconcile = Date.now();
    this.pending = true;
    const s = await readState(this.client, { statuses: false });
    this.readRevision = s.revision;
    // a drain step that wrote something: place from the next read
    if (await this.drainStep(s)) return;
    const now = Date.now();
    const views = nodeViews(s);
    type Op = ReturnType<Etcd3['put']> | ReturnType<Etcd3['delete']>;
    const notes: Op[] = [];
    // NotReady since: written once, so a new leader counts the grace from the same moment
    for (const v of views) {
      if (!v.ready && !s.notReadySince.has(v.name) && s.assigns.some((a) => a.host === v.name)) {
        notes.push(this.client.put(keys.notReady(v.name)).value(String(now)));
        v.notReadySince = now;
        this.o.log(`node ${v.name} NotReady`);
      }
      if (v.ready && s.notReadySince.has(v.name)) {
        notes.push(this.client.delete().key(keys.notReady(v.name)));
        this.o.log(`node ${v.name} Ready again`);
      }
    }
    const current: Placed[] = s.assigns.map((a) => ({ host: a.host, vm: a.vm, group: a.group, replica: a.replica, generation: a.generation, spec: a.spec }));
    const p = place(s.groups, views, current, now, specOf);
    const groups = new Map(s.groups.map((g) => [g.name, g]));
    const at = (x: { host: string; vm: string }) => `${x.host}/${x.vm}`;
    const want = new Map(p.assignments.map((a) => [at(a), a]));
    const have = new Map(current.map((a) => [at(a), a]));
    // per VM: its delete and its put go in one transaction (a move is atomic)
    const byVm = new Map<string, Op[]>();
    const add = (vm: string, op: Op) => {
      if (!byVm.has(vm)) byVm.set(vm, []);
      byVm.get(vm)!.push(op);
    };
    for (const [k, a] of have)
      if (!want.has(k)) {
        add(a.vm, this.client.delete().key(keys.assign(a.host, a.vm)));
        const to = p.assignments.find((x) => x.vm === a.vm);
        this.o.log(to ? `move ${a.vm}: ${a.host} -> ${to.host} (generation ${to.generation})` : `remove ${a.vm} from ${a.host}`);
      }
    for (const [k, a] of want) {
      const h = have.get(k);
      const g = groups.get(a.group)!;
      // a changed onNodeLoss is rewritten in place (same generation): it only changes what the node fences
      const policy = s.assigns.find((x) => x.host === a.host && x.vm === a.vm)?.onNodeLoss ?? 'replace';
      if (h && h.generation === a.generation && h.spec === a.spec && policy === g.onNodeLoss) continue;
      const v: AssignmentValue = {
        vm: a.vm,
        group: a.group,
        replica: a.replica,
        generation: a.generation,
        spec: a.spec,
        ...(g.ports ? { ports: g.ports } : {}),
        services: g.services,
        onNodeLoss: g.onNodeLoss,
      };
      add(a.vm, this.client.put(keys.assign(a.host, a.vm)).value(JSON.stringify(v)));
      if (!current.some((x) => x.vm === a.vm)) this.o.log(`place ${a.vm} on ${a.host} (generation ${a.generation})`);
    }
    const placement = JSON.stringify({ unplaced: p.unplaced, waiting: p.waiting });
    const changed = placement !== this.lastPlacement;
    if (changed) notes.push(this.client.put(keys.placement).value(JSON.stringify({ unplaced: p.unplaced, waiting: p.waiting, leader: this.o.id, at: now })));
    let batch: Op[] = [...notes];
    for (const ops of byVm.values()) {
      if (batch.length + ops.length > TXN_OPS) {
        if (!(await this.fenced(batch))) return;
        batch = [];
      }
      batch.push(...ops);
    }
    if (batch.length && !(await this.fenced(batch))) return;
    this.lastPlacement = placement;
    this.pending = p.waiting.length > 0 || notes.length > 0 || this.moving;
    if (changed) for (const u of p.unplaced) this.o.log(`cannot place ${u.vm}: ${u.constraint}`);
  }

  /**
   * Drains (src/cluster/node.ts moves()): one VM at a time per drained host. Mark its
   * assignment `move` (the source stops and exports it); once exported, move the assignment to
   * the target with `importFrom` (generation + 1); when the target says done, forget the move;
   * when either side says failed, give the VM back to the source (generation + 1), where it
   * still is, and note the failure in the drain.
   */
  private async drainStep(s: Awaited<ReturnType<typeof readState>>): Promise<boolean> {
    const [movesRaw, drainsRaw] = await Promise.all([
      this.client.getAll().prefix(keys.moves).revision(s.revision).strings(),
      this.client.getAll().prefix(keys.drains).revision(s.revision).strings(),
    ]);
    const moves = Object.values(movesRaw).map((v) => JSON.parse(v) as MoveValue);
    const drains = new Map(Object.entries(drainsRaw).map(([k, v]) => [k.slice(keys.drains.length), JSON.parse(v) as DrainValue]));
    this.moving = moves.length > 0 || drains.size > 0;
    const groups = new Map(s.groups.map((g) => [g.name, g]));
    const value = (a: AssignmentValue): AssignmentValue => {
      const { move: _m, importFrom: _i, host: _h, ...rest } = a as AssignmentValue & { host?: string };
      return rest;
    };
    const ready = new Set(s.nodes.keys());
    for (const m0 of moves) {
      let m = m0;
      const a = s.assigns.find((x) => x.vm === m.vm);
      if ((m.state === 'asked' || m.state === 'exported') && a?.move?.id !== m.id && a?.importFrom?.id !== m.id) {
        // a record no assignment points to (the source wrote `exported` after the move was given back): forget it
        return this.fenced([this.client.delete().key(keys.move(m.vm))]);
      }
      // the target died (its lease expired) before it said done: the VM goes back to its source,
      // which kept it, stopped, with its data. A `replace` target's fence has stopped anything it
      // started before its lease could expire; a `wait` one may run on, so it waits for `node lost`.
      if ((m.state === 'asked' || m.state === 'exported') && !ready.has(m.to) && ready.has(m.from) && (a?.onNodeLoss !== 'wait' || s.lost.has(m.to))) {
        m = {
          ...m,
          state: 'failed',
          error: `${m.to} lost its lease in the middle of the transfer (${m.state === 'asked' ? 'before' : 'after'} ${m.from} exported it)`,
        };
      }
      if (m.state === 'done') {
        this.o.log(`drain: ${m.vm} moved ${m.from} -> ${m.to}`);
        return this.fenced([this.client.delete().key(keys.move(m.vm))]);
      }
      if (m.state === 'failed') {
        this.o.log(`drain: ${m.vm} stays on ${m.from}: ${m.error}`);
        const d = drains.get(m.from) ?? { at: Date.now(), failed: [] };
        const ops = [
          this.client.delete().key(keys.move(m.vm)),
          this.client.put(keys.drain(m.from)).value(JSON.stringify({ ...d, failed: [...d.failed, { vm: m.vm, error: m.error ?? 'failed' }] })),
        ];
        if (a) {
          if (a.host !== m.from) ops.push(this.client.delete().key(keys.assign(a.host, a.vm)));
          ops.push(this.client.put(keys.assign(m.from, a.vm)).value(JSON.stringify({ ...value(a), generation: a.generation + 1 })));
        }
        return this.fenced(ops);
      }
      if (m.state === 'exported' && a && a.host === m.from && a.move?.id === m.id) {
        const next: AssignmentValue = {
          ...value(a),
          generation: a.generation + 1,
          importFrom: { url: m.url!, sha256: m.sha256!, from: m.from, id: m.id, ...(m.key ? { key: m.key } : {}) },
        };
        this.o.log(`drain: ${m.vm} exported on ${m.from}; importing on ${m.to} (generation ${next.generation})`);
        return this.fenced([this.client.delete().key(keys.assign(a.host, a.vm)), this.client.put(keys.assign(m.to, a.vm)).value(JSON.stringify(next))]);
      }
    }
    for (const [host, d] of drains) {
      if (moves.some((m) => m.from === host)) continue;
      const a = s.assigns.find((x) => x.host === host && !x.move && !d.failed.some((f) => f.vm === x.vm));
      if (!a) continue;
      const g = groups.get(a.group);
      const views = nodeViews(s).filter((n) => n.name !== host);
      const load = new Map<string, number>();
      for (const x of s.assigns) load.set(x.host, (load.get(x.host) ?? 0) + 1);
      const others = new Set(s.assigns.filter((x) => x.group === a.group && x.vm !== a.vm).map((x) => x.host));
      const r = g ? choose(g, views, load, others) : { constraint: 'its group is gone' };
      if ('constraint' in r) {
        this.o.log(`drain: ${a.vm} cannot leave ${host}: ${r.constraint}`);
        return this.fenced([
          this.client.put(keys.drain(host)).value(JSON.stringify({ ...d, failed: [...d.failed, { vm: a.vm, error: `no target: ${r.constraint}` }] })),
        ]);
      }
      const id = createHash('sha256').update(`${a.vm}/${a.generation}/${Date.now()}`).digest('hex').slice(0, 12);
      this.o.log(`drain: moving ${a.vm} ${host} -> ${r.host}`);
      return this.fenced([
        this.client.put(keys.assign(host, a.vm)).value(JSON.stringify({ ...value(a), move: { to: r.host, id } })),
        this.client.put(keys.move(a.vm)).value(JSON.stringify({ vm: a.vm, id, from: host, to: r.host, state: 'asked', at: Date.now() } satisfies MoveValue)),
      ]);
    }
    return false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.unlead();
    await this.placing.idle();
    await this.campaign?.resign().catch(() => {});
    this.client?.close();
  }
}
