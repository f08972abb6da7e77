// svcdup ui: a local dashboard over the library API (docs/fleet.md, "Dashboard").
// Node's own http server on 127.0.0.1; every request must carry the random token printed in
// the URL (GETs in the query, actions in a header, so another web page can neither read
// nor post); the Host header must be the loopback address we bound (no DNS rebinding).
// State is polled from the SCM and the state database every 500 ms and pushed over
// server-sent events when it changes; VM traces stream from `svcdup trace` children.
import { vmDiff } from '../vm/diff.js';
import { checkpointVm, listCheckpoints, restoreVm } from '../portable/checkpoint.js';
import { exportVm } from '../portable/export.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackend, type ManagedBackend } from '../backend/index.js';
import type { ServiceStatus } from '../backend/types.js';
import { packageRoot } from '../config.js';
import { Duplicates, duplicateMode } from '../dup/dup.js';
import { stoppedWithError } from '../dup/why.js';
import { UsageError } from '../errors.js';
import { listeningEndpoints, portMapFromRecord, type Endpoint } from '../net/index.js';
import { openDb, type Db } from '../state/db.js';
import { LockBusyError, WriterLock } from '../state/lock.js';
import { listVms } from '../state/vms.js';
import { listEvents, type SvcdupEvent } from '../state/events.js';
import { listRuntime } from '../state/runtime.js';
import { dbVmStore } from '../vm/store.js';
import { Vms, type VmProcess } from '../vm/ops.js';
import { serviceTypeName } from '../services.js';
import { metricsScraper } from '../ops/metrics.js';
import { sampleStats, type StatsSample } from '../ops/stats.js';
import type { EtcdOptions } from '../cluster/etcd.js';
import { startClusterFeed, type ClusterFeed, type ClusterView } from './cluster.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The page's files sit beside this module: src/ui in development, dist/ui once built. */
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

export interface UiDuplicate {
  vm: string;
  service: string;
  scmName: string;
  state: string;
  pid: number;
  win32ExitCode: number;
  serviceExitCode: number;
  /** the SCM's type of the duplicate, in words */
  type: string;
  startType: string;
  dependOnService: string[];
  /** direct or relayed (docs/dup.md); '-' for a service created in a VM */
  mode: string;
  createdInVm?: boolean;
  error?: string;
  /** stopped with an error: why, where svcdup can tell (src/dup/why.ts) */
  why?: string[];
  /** its restart policy and restarts, `2 (on-failure:3)` (docs/operate.md) */
  restarts?: string;
  /** its health check's state: starting, healthy, unhealthy */
  health?: string;
}

export interface UiVm {
  name: string;
  address?: string;
  portMap: Record<string, number>;
  createdAt: string;
  policyRules: number;
  processes: VmProcess[];
  endpoints: Endpoint[];
}

export interface UiState {
  at: string;
  vms: UiVm[];
  duplicates: UiDuplicate[];
  /** host services the duplicates depend on (shared with the host), with their state */
  shared: { name: string; state: string; pid: number }[];
  /** whether the library has a per-VM diff (file and registry changes) */
  diff: boolean;
  /** the latest events (svcdup events), oldest first */
  events: SvcdupEvent[];
  /** with --etcd: the cluster's nodes, groups, placement and replicas (src/ui/cluster.ts) */
  cluster?: ClusterView;
}

export interface UiOptions {
  port?: number;
  backendKind?: string;
  /** poll interval of the SCM and the state database */
  pollMs?: number;
  log?: (line: string) => void;
  /** show this etcd cluster's view too (`svcdup ui --etcd URLS`) */
  etcd?: EtcdOptions;
}

export interface UiServer {
  url: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

interface TraceChild {
  child: ChildProcess;
  stopped: boolean;
}

export async function startUi(opts: UiOptions = {}): Promise<UiServer> {
  const log = opts.log ?? (() => {});
  const backend: ManagedBackend = createBackend({ kind: opts.backendKind });
  await backend.open();
  const db: Db = openDb(backend.paths.stateDb);
  const dups = new Duplicates(backend, db);
  // the dashboard only reads until an action is asked for: it never recovers at start
  // (a live command's operation is not the dashboard's to undo: docs/design.md)
  const vms = new Vms(backend, dbVmStore(db), dups);
  const feed: ClusterFeed | undefined = opts.etcd ? await startClusterFeed(opts.etcd, log) : undefined;
  const token = randomBytes(24).toString('base64url');
  const tokenBuf = Buffer.from(token);

  let state: UiState = { at: new Date().toISOString(), vms: [], duplicates: [], shared: [], diff: true, events: [] };
  let stateJson = '';
  let slowAt = 0;
  let slowKey = '';
  let procs: VmProcess[] = [];
  let endpoints: Endpoint[] = [];
  const clients = new Set<ServerResponse>();
  const traces = new Map<string, TraceChild>();
  const traceLog: unknown[] = [];
  /** trace lines already passed on: overlapping trace children report the same decisions */
  const seen = new Set<string>();
  const seenOrder: string[] = [];
  /** every trace child still running (a replaced one runs on until its own end) */
  const retiring = new Set<ChildProcess>();
  let closed = false;
  // Agent calls are one at a time: the poll and actions take turns.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch(() => {});
    return p;
  };

  const send = (res: ServerResponse, event: string, data: unknown): void => void res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const broadcast = (event: string, data: unknown): void => {
    for (const c of clients) send(c, event, data);
  };

  // Why a duplicate stopped with an error: an analysis each, so asked once per failure (its
  // exit codes) beside the poll, and shown from the poll after.
  const whys = new Map<string, string[] | undefined>();
  function whyFor(d: ReturnType<typeof dups.list>[number], s: ServiceStatus): { why?: string[] } {
    const k = `${d.scmName}|${s.win32ExitCode}|${s.serviceExitCode}`;
    if (!whys.has(k)) {
      whys.set(k, undefined);
      void dups.whyStopped(d).then(
        (w) => {
          whys.set(k, w);
          if (w.length && !closed) void poll();
        },
        () => whys.set(k, []),
      );
    }
    const w = whys.get(k);
    return w?.length ? { why: w } : {};
  }

  async function snapshot(): Promise<UiState> {
    const records = listVms(db);
    const list = await backend.call('scm.list', {});
    const byName = new Map(list.map((s) => [s.name.toLowerCase(), s]));
    const duplicates: UiDuplicate[] = [];
    const sharedNames = new Set<string>();
    const runtime = new Map(listRuntime(db).map((r) => [`${r.vm}\0${r.service}`, r]));
    for (const d of dups.list()) {
      const s: ServiceStatus | undefined = byName.get(d.scmName.toLowerCase());
      const rt = runtime.get(`${d.vm}\0${d.service}`);
      for (const n of d.plan.dependOnService) if (!n.includes('@')) sharedNames.add(n);
      duplicates.push({
        vm: d.vm,
        service: d.service,
        scmName: d.scmName,
        state: s?.state ?? 'MISSING',
        pid: s?.pid ?? 0,
        win32ExitCode: s?.win32ExitCode ?? 0,
        serviceExitCode: s?.serviceExitCode ?? 0,
        type: s ? serviceTypeName(s.type) : '-',
        startType: d.plan.original.start,
        dependOnService: d.plan.dependOnService,
        mode: duplicateMode(d.plan),
        ...(stoppedWithError(s) ? whyFor(d, s!) : {}),
        ...(rt && rt.restart !== 'no' ? { restarts: `${rt.restarts} (${rt.restart})` } : {}),
        ...(rt?.health ? { health: rt.healthState ?? 'starting' } : {}),
      });
    }
    // Services processes in VMs created themselves: named SERVICE@VM, unknown to the state db.
    const vmNames = new Set(records.map((r) => r.name.toLowerCase()));
    const known = new Set(duplicates.map((d) => d.scmName.toLowerCase()));
    for (const s of list) {
      const at = s.name.lastIndexOf('@');
      if (at <= 0 || known.has(s.name.toLowerCase()) || !vmNames.has(s.name.slice(at + 1).toLowerCase())) continue;
      duplicates.push({
        vm: s.name.slice(at + 1),
        service: s.name.slice(0, at),
        scmName: s.name,
        state: s.state,
        pid: s.pid,
        win32ExitCode: s.win32ExitCode,
        serviceExitCode: s.serviceExitCode,
        type: serviceTypeName(s.type),
        startType: '-',
        dependOnService: [],
        mode: '-',
        createdInVm: true,
      });
    }
    // Processes and sockets cost a Wine process and an `ss` each: refreshed beside the poll
    // (refreshSlow), when the SCM or the VMs changed and every 3 s besides.
    const key = JSON.stringify([records.map((r) => r.name), duplicates.map((d) => [d.scmName, d.state, d.pid])]);
    if (key !== slowKey || Date.now() - slowAt > 3000) {
      slowKey = key;
      slowAt = Date.now();
      void refreshSlow(records);
    }
    const shared = [...sharedNames].sort().map((n) => {
      const s = byName.get(n.toLowerCase());
      return { name: n, state: s?.state ?? 'MISSING', pid: s?.pid ?? 0 };
    });
    return {
      at: new Date().toISOString(),
      vms: records.map((r) => ({
        name: r.name,
        ...(r.address ? { address: r.address } : {}),
        portMap: r.portMap,
        createdAt: r.createdAt,
        policyRules: r.policy.split('\n').filter((l) => l && !l.startsWith('#')).length,
        processes: procs.filter((p) => p.vm === r.name),
        endpoints: endpoints.filter((e) => e.vm === r.name),
      })),
      duplicates,
      shared,
      diff: true,
      events: listEvents(db, { since: new Date(Date.now() - 86_400_000) }).slice(-50),
      ...(feed?.view() ? { cluster: feed.view()! } : {}),
    };
  }

  let slowRunning = false;
  let slowAgain = false;
  async function refreshSlow(records: ReturnType<typeof listVms>): Promise<void> {
    if (slowRunning) {
      slowAgain = true;
      return;
    }
    slowRunning = true;
    try {
      procs = records.length ? await vms.ps().catch(() => procs) : [];
      endpoints = records.length ? readEndpoints(backend, records) : [];
    } finally {
      slowRunning = false;
    }
    if (slowAgain && !closed) {
      slowAgain = false;
      slowAt = 0;
    }
    if (!closed) void poll();
  }

  async function poll(): Promise<void> {
    try {
      const s = await serial(snapshot);
      const json = JSON.stringify({ ...s, at: '' });
      state = s;
      if (json !== stateJson) {
        stateJson = json;
        broadcast('state', s);
      }
      syncTraces();
    } catch (err) {
      log(`svcdup ui: poll failed: ${(err as Error).message}`);
    }
  }

  /** One `svcdup trace` child per VM while a page listens; each runs 60 s at most and is renewed. */
  function syncTraces(): void {
    const want = new Set(clients.size && !closed ? state.vms.map((v) => v.name) : []);
    if (!want.size) for (const c of retiring) killGroup(c);
    for (const [vm, t] of traces) {
      if (!want.has(vm)) {
        t.stopped = true;
        killGroup(t.child);
        traces.delete(vm);
      }
    }
    for (const vm of want) if (!traces.has(vm)) startTrace(vm);
  }

  function startTrace(vm: string): void {
    const child = spawn(
      process.execPath,
      [join(packageRoot, 'dist', 'cli.js'), ...(opts.backendKind ? ['--backend', opts.backendKind] : []), 'trace', '--vm', vm, '--seconds', '60'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
        detached: true,
        env: process.env,
      },
    );
    retiring.add(child);
    child.on('exit', () => retiring.delete(child));
    const t: TraceChild = { child, stopped: false };
    traces.set(vm, t);
    // The next child starts while this one still runs (they overlap by 10 s, duplicates
    // dropped below), so no decision falls between two of them.
    const renew = setTimeout(() => {
      if (traces.get(vm) === t && !t.stopped && !closed) {
        traces.delete(vm);
        startTrace(vm);
      }
    }, 50_000);
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line || seen.has(line)) continue;
        seen.add(line);
        seenOrder.push(line);
        if (seenOrder.length > 5000) seen.delete(seenOrder.shift()!);
        try {
          const ev = { vm, ...(JSON.parse(line) as object) };
          traceLog.push(ev);
          if (traceLog.length > 1000) traceLog.shift();
          broadcast('trace', ev);
        } catch {
          /* not a JSON line: ignore */
        }
      }
    });
    child.on('exit', () => {
      clearTimeout(renew);
      if (traces.get(vm) === t) traces.delete(vm);
    });
  }

  // what changes the host runs under the writer lock like any command (30 s wait), after recovery
  const run = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    serial(async () => {
      const lock = await WriterLock.acquire(backend.paths.home, { waitMs: 30_000, what: `ui ${what}` });
      try {
        await dups.recover();
        return await fn();
      } finally {
        lock.release();
      }
    });

  async function act(body: { action?: string; vm?: string; service?: string; confirm?: boolean; checkpoint?: string }): Promise<unknown> {
    const { action, vm, service } = body;
    if (!vm || typeof vm !== 'string') throw new UsageError('vm is required');
    if ((action === 'undup' || action === 'vm.rm' || action === 'vm.restore') && body.confirm !== true) throw new UsageError(`${action} needs confirm: true`);
    switch (action) {
      case 'start':
        return run(`start ${need(service)} --vm ${vm}`, () => dups.start(need(service), vm));
      case 'stop':
        return run(`stop ${need(service)} --vm ${vm}`, () => dups.stop(need(service), vm));
      case 'undup':
        return run(`undup ${need(service)} --vm ${vm}`, () => dups.undup(need(service), vm));
      case 'vm.rm':
        return run(`vm rm ${vm}`, () => vms.remove(vm));
      // issue 24.5: a VM's checkpoints from the dashboard (restore asks for confirmation)
      case 'vm.checkpoint':
        return run(`vm checkpoint ${vm}`, () => checkpointVm(backend, dups, vm, body.checkpoint || undefined));
      case 'vm.restore':
        return run(`vm restore ${vm}`, () => restoreVm(backend, dups, vm, need(body.checkpoint)));
      default:
        throw new UsageError(`unknown action ${JSON.stringify(action)} (start, stop, undup, vm.rm, vm.checkpoint, vm.restore)`);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const code = err instanceof UsageError ? 400 : err instanceof LockBusyError ? 503 : 500;
      if (!res.headersSent) json(res, code, { error: (err as Error).message });
      else res.end();
    });
  });

  let port = 0;
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    const hostOk = req.headers.host === `127.0.0.1:${port}` || req.headers.host === `localhost:${port}`;
    // GETs carry the token in the query (EventSource cannot set headers); actions only in a header.
    const given = req.method === 'GET' ? url.searchParams.get('token') : req.headers['x-svcdup-token'];
    const ok = typeof given === 'string' && given.length === token.length && timingSafeEqual(Buffer.from(given), tokenBuf);
    if (!hostOk || !ok) return json(res, 403, { error: 'forbidden: open the URL svcdup ui printed (it carries the token)' });

    const page = STATIC[url.pathname];
    if (req.method === 'GET' && page) {
      res.setHeader('Content-Security-Policy', "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:");
      res.writeHead(200, { 'Content-Type': page.type });
      const body = readFileSync(join(here, page.file));
      // the page's own links carry the token (base64url: nothing to escape)
      res.end(page.file === 'index.html' ? body.toString('utf8').replaceAll('__TOKEN__', token) : body);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/state') return json(res, 200, state);
    // Prometheus text, the same as svcdup metrics (a scraper passes the token as a query parameter)
    if (req.method === 'GET' && url.pathname === '/metrics') {
      const m = await serial(scrape);
      res.writeHead(200, { 'Content-Type': m.contentType });
      res.end(m.text);
      return;
    }
    // the stats history of the last minutes, for the dashboard's small charts
    if (req.method === 'GET' && url.pathname === '/api/stats') return json(res, 200, statsHistory);
    if (req.method === 'GET' && url.pathname === '/api/events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', Connection: 'keep-alive' });
      clients.add(res);
      send(res, 'state', state);
      for (const ev of traceLog.slice(-200)) send(res, 'trace', ev);
      req.on('close', () => {
        clients.delete(res);
        syncTraces();
      });
      syncTraces();
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/analyze') {
      const service = url.searchParams.get('service') ?? '';
      if (!/^[^\\/:*?"<>|]{1,256}$/.test(service)) throw new UsageError('analyze: give a service name');
      const { analyzeService, renderReport } = await import('../analyze/index.js');
      const report = await serial(() => analyzeService(service, backend));
      return json(res, 200, { report, text: renderReport(report) });
    }
    if (req.method === 'GET' && url.pathname === '/api/diff') {
      const vm = url.searchParams.get('vm') ?? '';
      vms.require(vm);
      return json(res, 200, await serial(() => vmDiff(backend, vm)));
    }
    if (req.method === 'GET' && url.pathname === '/api/checkpoints') {
      const vm = url.searchParams.get('vm') ?? '';
      vms.require(vm);
      return json(res, 200, await serial(() => listCheckpoints(backend, dups, vm)));
    }
    if (req.method === 'GET' && url.pathname === '/api/export') {
      // the archive of vm export --stop, written to a temporary file and sent as a download
      const vm = url.searchParams.get('vm') ?? '';
      vms.require(vm);
      const dir = await mkdtemp(join(tmpdir(), 'svcdup-export-'));
      try {
        const r = await run(`vm export ${vm} --stop`, () => exportVm(backend, dups, vm, join(dir, `${vm}.svcdup.tgz`), { stop: true }));
        res.writeHead(200, { 'Content-Type': 'application/gzip', 'Content-Disposition': `attachment; filename="${vm}.svcdup.tgz"`, 'Content-Length': r.bytes });
        await pipeline(createReadStream(r.file), res);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/action') {
      if (!String(req.headers['content-type']).startsWith('application/json')) throw new UsageError('actions are JSON');
      const body = parseBody(await readBody(req));
      const result = await act(body);
      await poll();
      return json(res, 200, { ok: true, result });
    }
    json(res, 404, { error: 'not found' });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  port = (server.address() as AddressInfo).port;
  await poll();
  const timer = setInterval(() => void poll(), opts.pollMs ?? 500);
  // stats every 5 s while a dashboard is open: 60 samples, five minutes of history
  const scrape = metricsScraper(backend, db);
  const statsHistory: StatsSample[] = [];
  const statsTimer = setInterval(() => {
    if (clients.size === 0 || closed) return;
    void serial(() => sampleStats(backend, db, statsHistory.length ? { prev: statsHistory.at(-1)! } : {})).then(
      (s) => {
        statsHistory.push(s);
        if (statsHistory.length > 60) statsHistory.shift();
        broadcast('stats', s);
      },
      () => {},
    );
  }, 5000);
  const url = `http://127.0.0.1:${port}/?token=${token}`;
  return {
    url,
    token,
    port,
    async close() {
      closed = true;
      clearInterval(timer);
      clearInterval(statsTimer);
      for (const c of clients) c.end();
      clients.clear();
      syncTraces();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
      await queue.catch(() => {});
      await feed?.close();
      db.close();
      await backend.close();
    },
  };
}

function need(service: string | undefined): string {
  if (!service || typeof service !== 'string') throw new UsageError('service is required');
  return service;
}

/** An action's body: a JSON object of strings (and confirm); anything else is the client's error (400). */
function parseBody(text: string): { action?: string; vm?: string; service?: string; confirm?: boolean } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError('the body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError('the body must be a JSON object');
  const o = v as Record<string, unknown>;
  for (const k of ['action', 'vm', 'service']) if (o[k] !== undefined && typeof o[k] !== 'string') throw new UsageError(`${k} must be a string`);
  if (o.confirm !== undefined && typeof o.confirm !== 'boolean') throw new UsageError('confirm must be true or false');
  return o as { action?: string; vm?: string; service?: string; confirm?: boolean };
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage, max = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      s += c;
      if (s.length > max) reject(new UsageError('request too large'));
    });
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

/** End a trace child and the Wine process it started (same process group). */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
}

/** Listening sockets on the VMs' addresses and mapped ports (under Wine: the Linux host's sockets). */
function readEndpoints(backend: ManagedBackend, records: ReturnType<typeof listVms>): Endpoint[] {
  if (backend.kind !== 'wine') return [];
  const r = spawnSync('ss', ['-H', '-ltun'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return listeningEndpoints(
    r.stdout,
    records.map((v) => ({ name: v.name, ...(v.address ? { address: v.address } : {}), portMap: portMapFromRecord(v.portMap) })),
  );
}
