// The controller (`svcdup controller`): any number run; they campaign in an etcd election and
// only the leader places. Every write of the leader is a transaction that first checks its
// election key still exists, so a deposed leader (its lease gone) can change nothing.
import { createHash } from 'node:crypto';
import type { Campaign, Etcd3, Watcher } from 'etcd3';
import { connectEtcd, etcdWhy, type EtcdOptions } from './etcd.js';
import type { GroupDecl } from './file.js';
import { keys } from './keys.js';
import { place, type Placed } from './place.js';
import type { AssignmentValue } from './types.js';
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
  private busy: Promise<void> = Promise.resolve();
  private dirty = false;
  private stopped = false;
  private lastPlacement = '';
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
    // grace periods run out with no change in etcd: look again every second
    this.timer = setInterval(() => this.schedule(), 1000);
    this.schedule();
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
    if (this.dirty || !this.leaderKey) return;
    this.dirty = true;
    this.busy = this.busy.then(async () => {
      this.dirty = false;
      try {
        await this.reconcile();
      } catch (err) {
        this.o.log(`placement failed: ${etcdWhy(err)}`);
      }
    });
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
    const s = await readState(this.client, { statuses: false });
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
      if (h && h.generation === a.generation && h.spec === a.spec) continue;
      const g = groups.get(a.group)!;
      const v: AssignmentValue = {
        vm: a.vm,
        group: a.group,
        replica: a.replica,
        generation: a.generation,
        spec: a.spec,
        ...(g.ports ? { ports: g.ports } : {}),
        services: g.services,
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
    if (changed) for (const u of p.unplaced) this.o.log(`cannot place ${u.vm}: ${u.constraint}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.unlead();
    await this.busy.catch(() => {});
    await this.campaign?.resign().catch(() => {});
    this.client?.close();
  }
}
