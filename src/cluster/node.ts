// The node agent (`svcdup node start`): registers the host under an etcd lease, watches its
// own assignments only (/svcdup/assign/HOST/), makes the host match them with the engine of
// `svcdup up` (src/fleet/fleet.ts), and writes each duplicate's status. A fence process
// (src/cluster/fence.ts) stops the duplicates when the lease could not be renewed in time.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { Etcd3, Lease, Watcher } from 'etcd3';
import { createBackend, type ManagedBackend } from '../backend/index.js';
import { Duplicates } from '../dup/dup.js';
import { checkDrift, repairHost } from '../dup/repair.js';
import { SvcdupError } from '../errors.js';
import type { Fleet } from '../fleet/file.js';
import { fleetUp, setOwned } from '../fleet/fleet.js';
import { exportVm, sha256File } from '../portable/export.js';
import { importVm } from '../portable/import.js';
import { getVm, listVms } from '../state/vms.js';
import { nextFreeAddress } from '../net/index.js';
import { openDb, type Db } from '../state/db.js';
import { listEvents } from '../state/events.js';
import { WriterLock } from '../state/lock.js';
import { connectEtcd, etcdWhy, LeaseKeeper, type EtcdOptions } from './etcd.js';
import type { FenceArm, FenceReport } from './fence.js';
import { keys, under } from './keys.js';
import { Coalesced } from './serial.js';
import { seal, unseal, type ClusterKey } from './secret.js';
import { decryptArchive, encryptArchive } from './transfer.js';
import type { AssignmentValue, MoveValue, NodeRecord, StatusValue } from './types.js';

export interface NodeOptions extends EtcdOptions {
  name: string;
  labels: Record<string, string>;
  capacity?: number;
  /** lease TTL, seconds */
  ttl: number;
  /** renewal interval, seconds */
  renew: number;
  /** full resync (restart what stopped, refresh statuses), seconds */
  resync: number;
  backend?: string;
  /** the address other nodes fetch a drained VM's archive from (this host's, as they reach it) */
  advertise: string;
  /** the cluster key sealed `set:` values open with (src/cluster/secret.ts) */
  secretKey?: ClusterKey;
  log: (line: string) => void;
}

/** The fleet identity the node's VMs are owned under in fleets.json: what it may remove. */
export const clusterFleetId = (name: string): string => `etcd-cluster:${name}`;

const oneLine = (err: unknown): string => (err as Error).message.replace(/\s*\n\s*/g, ' ');

export class NodeNameTaken extends SvcdupError {}

/** The archive a target imports for move `id` (its name is in the VM's `vm-created` event). */
const importName = (vm: string, id: string): string => `${vm}-${id}.in.svcdup.tgz`;
/** Whether this host's copy of `vm` is the one it imported for move `id` (not an older copy of the same name). */
function importedFor(db: Db, vm: string, id: string): boolean {
  const made = listEvents(db, { vm }).filter((e) => e.kind === 'vm-created');
  return String(made.at(-1)?.detail.from ?? '').endsWith(importName(vm, id));
}

/** How long a drained VM's archive may be fetched after its export (then the move fails and the VM stays). */
const TRANSFER_TTL_MS = 10 * 60_000;

/** Fence this long before the lease would expire: the stop must be done before etcd lets it go. */
export const fenceMargin = (ttl: number): number => Math.max(1000, (ttl * 1000) / 4);

export class NodeAgent {
  private client!: Etcd3;
  private lease: Lease | undefined;
  private keeper!: LeaseKeeper;
  private leaseId = '';
  /** when the last renewal that succeeded was sent */
  private renewedAt = 0;
  private watcher: Watcher | undefined;
  private fencer: ChildProcess | undefined;
  private backend: ManagedBackend | undefined;
  private readonly converging = new Coalesced(
    () => this.converge(),
    async (err) => {
      this.o.log(`converge failed: ${(err as Error).message}`);
      await this.backend?.close().catch(() => {});
      this.backend = undefined;
    },
  );
  private running = false;
  private stopping = false;
  private timers: NodeJS.Timeout[] = [];
  private lastStatus = new Map<string, string>();
  /** what the fence stops when the lease is not renewed in time (replace), and on a clean exit (all) */
  private fenceList: { dups: [string, string][]; all: [string, string][] } = { dups: [], all: [] };
  /** drain: VMs exported for a move, kept (not owned, not started) until the target has them */
  private retained = new Map<string, { id: string; file: string; stale?: boolean }>();
  /** whether the archives a stopped agent left have been read back into `retained` */
  private recalled = false;
  /** drain: archive files served to the target, by one-time token, until they expire */
  private served = new Map<string, { file: string; until: number }>();
  private server: Server | undefined;
  /** imports that failed (by move id): not tried again, the leader gives the VM back to its source */
  private failedImports = new Set<string>();
  /** moves into this host known finished (by id): their records need not be read again */
  private settled = new Set<string>();
  private serverUrl = '';

  constructor(private readonly o: NodeOptions) {}

  /** Until stop(): connect, register, converge. Throws NodeNameTaken when another agent holds the name. */
  async start(): Promise<void> {
    this.client = await connectEtcd(this.o, Number.POSITIVE_INFINITY, this.o.log);
    this.keeper = new LeaseKeeper(this.o);
    try {
      await this.register();
    } catch (err) {
      this.client.close();
      this.keeper.close();
      throw err;
    }
    this.startFencer();
    this.armFence();
    this.watcher = await this.client.watch().prefix(keys.assignsOf(this.o.name)).create();
    this.watcher.on('put', () => this.schedule());
    this.watcher.on('delete', () => this.schedule());
    this.watcher.on('connected', () => this.schedule());
    this.watcher.on('error', () => {});
    this.running = true;
    this.timers.push(setInterval(() => void this.renew(), this.o.renew * 1000));
    this.timers.push(setInterval(() => this.schedule(), this.o.resync * 1000));
    this.schedule();
  }

  private startFencer(): void {
    const script = fileURLToPath(new URL('./fence.js', import.meta.url));
    this.fencer = fork(script, [], {
      env: { ...process.env, ...(this.o.backend ? { SVCDUP_BACKEND: this.o.backend } : {}) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.fencer.on('message', (m: { fence?: FenceReport }) => {
      if (!m.fence) return;
      const what = m.fence.fenced.length ? m.fence.fenced.join(', ') : 'nothing running';
      this.o.log(this.stopping ? `stopping: stopped ${what}` : `fenced: lease not renewed in time; stopped ${what}`);
      for (const e of m.fence.errors) this.o.log(`fence: ${e}`);
    });
  }

  private record(): NodeRecord {
    return {
      name: this.o.name,
      labels: this.o.labels,
      ...(this.o.capacity !== undefined ? { capacity: this.o.capacity } : {}),
      ttl: this.o.ttl,
      renew: this.o.renew,
      hostname: hostname(),
      pid: process.pid,
      startedAt: Date.now(),
    };
  }

  /** A new lease and the node key under it, only if no live agent holds the name. */
  private async register(): Promise<void> {
    for (let delay = 500; ; delay = Math.min(delay * 2, 8000)) {
      const sent = Date.now();
      try {
        const lease = this.client.lease(this.o.ttl, { autoKeepAlive: false });
        const id = await lease.grant();
        const r = await this.client
          .if(keys.node(this.o.name), 'Create', '==', 0)
          .then(
            this.client.put(keys.node(this.o.name)).value(JSON.stringify(this.record())).lease(id),
            // a host back from `node lost` is a host again (what moved away stays moved)
            this.client.delete().key(keys.lost(this.o.name)),
          )
          .else(this.client.get(keys.node(this.o.name)))
          .commit();
        if (!r.succeeded) {
          await lease.revoke().catch(() => {});
          const kv = r.responses[0]?.response_range?.kvs[0];
          const other = kv ? (JSON.parse(kv.value.toString()) as NodeRecord) : undefined;
          throw new NodeNameTaken(
            `node name ${this.o.name} is taken: another agent holds it${other ? ` (pid ${other.pid} on ${other.hostname})` : ''}; give this host another --name, or wait up to ${this.o.ttl} s if that agent is gone`,
          );
        }
        this.lease?.release();
        this.lease = lease;
        this.leaseId = id;
        this.renewedAt = sent;
        this.armFence();
        this.o.log(`registered as ${this.o.name} (lease ${id}, ttl ${this.o.ttl} s)`);
        return;
      } catch (err) {
        if (err instanceof NodeNameTaken) throw err;
        this.o.log(`cannot register (${etcdWhy(err)}); retrying in ${delay / 1000} s`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Renew the lease; a lease that expired meanwhile means registering anew (if the name is still free). */
  private renewing = false;
  private async renew(): Promise<void> {
    if (!this.lease || this.renewing) return;
    this.renewing = true;
    const sent = Date.now();
    try {
      // each member tried in turn, within one renewal period
      const ttl = await this.keeper.renew(this.leaseId, Math.max(1000, this.o.renew * 1000));
      if (ttl <= 0) throw new Error('lease expired');
      this.renewedAt = sent;
      this.armFence();
    } catch (err) {
      if (this.stopping) return;
      const expired = /expired|not found|LeaseInvalid/i.test(`${(err as Error).name} ${(err as Error).message}`);
      this.o.log(`cannot renew the lease (${etcdWhy(err)})${expired ? '; registering again' : ''}`);
      if (!expired) return;
      this.lease = undefined;
      try {
        await this.register();
        this.schedule();
      } catch (e) {
        this.o.log((e as Error).message);
        await this.stop(1);
      }
    } finally {
      this.renewing = false;
    }
  }

  /** Whether the lease is surely still alive (renewed recently enough): the only time the node may start anything. */
  private fresh(): boolean {
    return !!this.lease && Date.now() < this.renewedAt + this.o.ttl * 1000 - fenceMargin(this.o.ttl);
  }

  private armFence(): void {
    const m: FenceArm = { deadline: this.renewedAt + this.o.ttl * 1000 - fenceMargin(this.o.ttl), ...this.fenceList };
    this.fencer?.send(m);
  }

  /** Converge soon; one at a time, and one more after the current if something changed meanwhile. */
  schedule(): void {
    if (!this.stopping) this.converging.run();
  }

  private async converge(): Promise<void> {
    if (!this.fresh() || this.stopping) return;
    let assigned: AssignmentValue[];
    let revision: string;
    try {
      // linearizable: never act on a stale copy of the assignments
      const all = await this.client.getAll().prefix(keys.assignsOf(this.o.name)).exec();
      assigned = all.kvs.map((kv) => JSON.parse(kv.value.toString()) as AssignmentValue);
      revision = all.header.revision;
    } catch (err) {
      this.o.log(`cannot read assignments (${etcdWhy(err)}); keeping what runs`);
      return;
    }
    const lock = await WriterLock.acquire(createBackend({ kind: this.o.backend }).paths.home, { waitMs: 120_000, what: `node start ${this.o.name}` });
    try {
      this.backend ??= createBackend({ kind: this.o.backend });
      await this.backend.open();
      const db = openDb(this.backend.paths.stateDb);
      try {
        const dups = new Duplicates(this.backend, db);
        const rec = await dups.recover();
        for (const e of rec.rolledBack) this.o.log(`rolled back an interrupted ${e.op} of ${e.target}`);
        await checkDrift(this.backend, db);
        await repairHost(this.backend, { db });
        // drain moves first: what is being exported or has failed to import is not run here now
        const skip = await this.moves(assigned, revision, dups);
        const fleet: Fleet = {
          file: clusterFleetId(this.o.name),
          vms: assigned
            .filter((a) => !skip.has(a.vm))
            .map((a) => ({
              name: a.vm,
              ...(a.ports ? { ports: a.ports } : {}),
              // sealed set: values opened here, in memory only
              services: a.services.map((s) => ({ ...s, set: s.set.map((v) => unseal(this.o.secretKey, v)) })),
            })),
        };
        // what the fence stops: every duplicate of a VM this node holds for the cluster (assigned or
        // leaving) on a clean exit; when the lease lapses, only those the cluster may start
        // elsewhere by itself (onNodeLoss: replace): `wait` ones move only after `node lost`, so
        // they run on through a partition or a lost etcd quorum
        const fenceList = () => {
          const held = [...dups.list()].filter((d) => assigned.some((a) => a.vm === d.vm));
          const replace = new Set(assigned.filter((a) => a.onNodeLoss !== 'wait').map((a) => a.vm));
          return {
            dups: held.filter((d) => replace.has(d.vm)).map((d): [string, string] => [d.service, d.vm]),
            all: held.map((d): [string, string] => [d.service, d.vm]),
          };
        };
        this.fenceList = fenceList();
        let error: string | undefined;
        try {
          await fleetUp({ backend: this.backend, db, dups }, fleet, {
            onEvent: (e) => {
              // a start only while the lease is surely ours (an agent resumed after SIGSTOP must not start what moved)
              if (e.status === 'begin' && e.change.op === 'start' && !this.fresh()) throw new SvcdupError('lease not renewed in time: not starting');
              if (e.status !== 'begin') this.o.log(`[${e.step}/${e.of}] ${e.text}: ${e.status === 'failed' ? `FAILED: ${e.error}` : (e.state ?? 'done')}`);
            },
          });
        } catch (err) {
          error = (err as Error).message;
          this.o.log(`converge: ${error}`);
        }
        this.fenceList = fenceList();
        this.armFence();
        await this.writeStatuses(assigned, dups, error);
      } finally {
        db.close();
      }
    } finally {
      lock.release();
    }
  }

  /**
   * Drain moves on this host. As source: an assignment marked `move` is stopped, exported and
   * served once to the target; the VM is kept, not owned by the fleet (so not removed) and not
   * started, until the target has it or it comes back. As target: an assignment with
   * `importFrom` whose VM is not here is fetched, checked and imported before `up` starts it.
   * Returns the VMs `up` must leave alone this time. Moves are read at the assignments'
   * revision: a failed move's record is deleted in the transaction that gives the VM back, so a
   * newer read paired with the older assignments would take the VM for moved and remove it.
   */
  private async moves(assigned: AssignmentValue[], revision: string, dups: Duplicates): Promise<Set<string>> {
    const skip = new Set<string>();
    const b = this.backend!;
    const fleetId = clusterFleetId(this.o.name);
    const put = (m: Omit<MoveValue, 'at'>) => this.client.put(keys.move(m.vm)).value(JSON.stringify({ ...m, at: Date.now() }));
    // the move records at the assignments' revision, read once, when one matters here
    let records: Record<string, string> | undefined;
    const moveOf = async (vm: string): Promise<MoveValue | undefined> => {
      records ??= await this.client.getAll().prefix(keys.moves).revision(revision).strings();
      const v = records[keys.move(vm)];
      return v ? (JSON.parse(v) as MoveValue) : undefined;
    };
    if (!this.recalled) {
      this.recalled = true;
      // an agent that stopped in the middle of a move kept its VM stopped and unowned; the archive
      // it made (`VM-ID.svcdup.tgz`) says which move, so the VM still goes back or away below
      let names: string[] = [];
      try {
        names = readdirSync(join(b.paths.home, 'transfers'));
      } catch {
        /* none */
      }
      for (const n of names) {
        const m = /^(.+)-([0-9a-f]{12})\.svcdup\.tgz$/.exec(n);
        if (m && getVm(dups.db, m[1]!)) this.retained.set(m[1]!, { id: m[2]!, file: join(b.paths.home, 'transfers', n), stale: true });
      }
    }
    for (const a of assigned) {
      if (a.move) {
        skip.add(a.vm);
        // a kept archive whose server went with the agent that made it is made and served again
        const kept = this.retained.get(a.vm);
        if (kept?.id === a.move.id && !kept.stale) continue;
        const dir = join(b.paths.home, 'transfers');
        mkdirSync(dir, { recursive: true });
        const file = join(dir, `${a.vm}-${a.move.id}.svcdup.tgz`);
        rmSync(file, { force: true });
        try {
          setOwned(b, fleetId, a.vm, false);
          for (const d of dups.list(a.vm)) await dups.stop(d.service, a.vm);
          // the archive, then the file served: the archive encrypted under a key for this move only
          await exportVm(b, dups, a.vm, `${file}.plain`);
          const key = await encryptArchive(`${file}.plain`, file).finally(() => rmSync(`${file}.plain`, { force: true }));
          const token = randomBytes(24).toString('hex');
          this.served.set(token, { file, until: Date.now() + TRANSFER_TTL_MS });
          this.retained.set(a.vm, { id: a.move.id, file });
          await put({
            vm: a.vm,
            id: a.move.id,
            from: this.o.name,
            to: a.move.to,
            state: 'exported',
            url: `${await this.serve()}/transfer/${token}`,
            sha256: await sha256File(file),
            key: this.o.secretKey ? seal(this.o.secretKey, key) : key,
          });
          this.o.log(`drain: exported ${a.vm} for ${a.move.to}`);
        } catch (err) {
          this.o.log(`drain: export of ${a.vm} failed: ${(err as Error).message}`);
          setOwned(b, fleetId, a.vm, true);
          skip.delete(a.vm);
          await put({
            vm: a.vm,
            id: a.move.id,
            from: this.o.name,
            to: a.move.to,
            state: 'failed',
            error: `export on ${this.o.name}: ${oneLine(err)}`,
          });
        }
      } else if (a.importFrom && !getVm(dups.db, a.vm)) {
        const f = a.importFrom;
        if (this.failedImports.has(f.id)) {
          skip.add(a.vm);
          continue;
        }
        const file = join(b.paths.home, 'transfers', importName(a.vm, f.id));
        let imported = false;
        try {
          mkdirSync(join(b.paths.home, 'transfers'), { recursive: true });
          const r = await fetch(f.url, { signal: AbortSignal.timeout(600_000) });
          if (!r.ok || !r.body) throw new Error(`fetching the archive from ${f.from}: HTTP ${r.status}`);
          await pipeline(Readable.fromWeb(r.body as import('node:stream/web').ReadableStream), createWriteStream(file));
          if ((await sha256File(file)) !== f.sha256) throw new Error(`the archive from ${f.from} does not match its checksum`);
          if (f.key) {
            await decryptArchive(file, `${file}.plain`, unseal(this.o.secretKey, f.key), f.from);
            renameSync(`${file}.plain`, file);
          }
          // the group's port map, or the next address free here (the source's may be taken on this host)
          const used = listVms(dups.db).flatMap((v) => (v.address ? [v.address] : []));
          // the copy is this node's fleet's before it exists: an agent that dies between the import
          // and `up` taking it over leaves a copy that its next converge removes unless the VM is
          // still assigned here (a VM no fleet owns counts as made by hand and is never removed)
          setOwned(b, fleetId, a.vm, true);
          await importVm(b, dups, file, a.ports ? { portMap: a.ports } : { ip: nextFreeAddress(used) });
          imported = true;
          // how the test kills a target in that window (as SVCDUP_FAILPOINT does in journaled operations)
          if (process.env.SVCDUP_FAILPOINT === 'drain import:after') process.kill(process.pid, 'SIGKILL');
          await put({ vm: a.vm, id: f.id, from: f.from, to: this.o.name, state: 'done' });
          this.settled.add(f.id);
          this.o.log(`drain: imported ${a.vm} from ${f.from}`);
        } catch (err) {
          if (imported) {
            // it is here and assigned here: run it; `done` is said again below on the next converge
            this.o.log(`drain: imported ${a.vm} from ${f.from}, but cannot say so (${etcdWhy(err)}); saying it again`);
            continue;
          }
          skip.add(a.vm);
          this.failedImports.add(f.id);
          this.o.log(`drain: import of ${a.vm} failed: ${(err as Error).message}`);
          await put({ vm: a.vm, id: f.id, from: f.from, to: this.o.name, state: 'failed', error: `import on ${this.o.name}: ${oneLine(err)}` });
        } finally {
          rmSync(file, { force: true });
          rmSync(`${file}.plain`, { force: true });
        }
      } else if (a.importFrom && !this.settled.has(a.importFrom.id)) {
        // imported here but `done` never said (an agent that died, or etcd that did not answer, in
        // between): say it now, or the move waits for ever (a `wait` group's target that came back)
        const m = await moveOf(a.vm);
        if (m?.id === a.importFrom.id && m.to === this.o.name && m.state === 'exported' && importedFor(dups.db, a.vm, m.id)) {
          await put({ vm: a.vm, id: m.id, from: m.from, to: this.o.name, state: 'done' });
          this.o.log(`drain: imported ${a.vm} from ${m.from} (said again)`);
        }
        if (!m || m.id !== a.importFrom.id || m.state !== 'exported') this.settled.add(a.importFrom.id);
      }
    }
    // kept VMs: back here (the move failed) -> owned again and started; moved for good -> owned again, so up removes it
    for (const [vm, r] of this.retained) {
      const back = assigned.find((a) => a.vm === vm && !a.move);
      const m = await moveOf(vm);
      const gone = !back && (!m || m.state === 'done' || m.id !== r.id);
      if (!back && !gone) continue;
      setOwned(b, fleetId, vm, true);
      this.retained.delete(vm);
      for (const [t, f] of this.served) if (f.file === r.file) this.served.delete(t);
      rmSync(r.file, { force: true });
      this.o.log(back ? `drain: ${vm} stays here (its move failed); starting it again` : `drain: ${vm} moved; removing it here`);
    }
    return skip;
  }

  /** The transfer server: each archive under its own random token, for the target node only to fetch. */
  private async serve(): Promise<string> {
    if (this.server) return this.serverUrl;
    const server = createServer((req, res) => {
      const token = /^\/transfer\/([0-9a-f]{48})$/.exec(req.url ?? '')?.[1];
      const s = token && req.method === 'GET' ? this.served.get(token) : undefined;
      // one fetch per token, and none after it expired: a copied URL is worth nothing later
      if (token) this.served.delete(token);
      if (!s || Date.now() > s.until) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/gzip' });
      createReadStream(s.file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, this.o.advertise, resolve));
    this.server = server;
    const port = (server.address() as { port: number }).port;
    this.serverUrl = `http://${this.o.advertise.includes(':') ? `[${this.o.advertise}]` : this.o.advertise}:${port}`;
    return this.serverUrl;
  }

  private async writeStatuses(assigned: AssignmentValue[], dups: Duplicates, error: string | undefined): Promise<void> {
    const scm = new Map((await this.backend!.call('scm.list', {})).map((s) => [s.name.toLowerCase(), s]));
    const want = new Set<string>();
    for (const a of assigned) {
      const services = a.services.map((s) => {
        const rec = dups.get(a.vm, s.name);
        const st = rec && scm.get(rec.scmName.toLowerCase());
        return { service: s.name, scmName: rec?.scmName ?? `${s.name}@${a.vm}`, state: st?.state ?? 'missing', pid: st?.pid ?? 0 };
      });
      const bad = services.find((s) => s.state !== 'RUNNING');
      const v: Omit<StatusValue, 'at'> = {
        vm: a.vm,
        host: this.o.name,
        generation: a.generation,
        state: bad?.state ?? 'RUNNING',
        services,
        ...(bad && error ? { error } : {}),
      };
      const text = JSON.stringify(v);
      want.add(a.vm);
      // written only when it changed: a node at rest writes nothing but its lease renewals
      if (this.lastStatus.get(a.vm) === text) continue;
      await this.client
        .put(keys.status(this.o.name, a.vm))
        .value(JSON.stringify({ ...v, at: Date.now() }))
        .lease(this.leaseId);
      this.lastStatus.set(a.vm, text);
    }
    const old = await this.client.getAll().prefix(keys.statusOf(this.o.name)).keys();
    for (const k of old) {
      const vm = under(k, keys.statusOf(this.o.name));
      if (!want.has(vm)) {
        await this.client.delete().key(k);
        this.lastStatus.delete(vm);
      }
    }
  }

  /** Stop: the duplicates stop with the agent (a host without its agent cannot prove it holds them), the lease is revoked. */
  async stop(code = 0): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await this.converging.idle();
    await this.watcher?.cancel().catch(() => {});
    if (this.fencer?.connected) {
      await new Promise<void>((resolve) => {
        this.fencer!.once('exit', () => resolve());
        this.fencer!.send({ exit: true });
        setTimeout(resolve, 60_000).unref();
      });
    }
    await this.lease?.revoke().catch(() => {});
    this.server?.close();
    this.client?.close();
    this.keeper?.close();
    await this.backend?.close().catch(() => {});
    if (this.running) this.o.log('stopped');
    process.exitCode = code;
    if (code) process.exit(code);
  }
}
