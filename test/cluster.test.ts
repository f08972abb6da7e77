// A cluster of svcdup hosts on a real 3-member etcd (issue 21): 3 homes (each its own Wine
// prefix) with a node agent each, 2 controllers, short TTLs and graces. apply places one
// replica per host and each answers; one etcd member killed changes nothing; the leading
// controller killed, the other leads; a dead host's `replace` duplicates move after the grace
// and its `wait` ones only after `node lost`; a stopped (SIGSTOP) agent's fence stops its
// duplicates before they start elsewhere, and resumed it does not start them again; a drain
// moves a PostgreSQL duplicate with its rows, and a failed move (import refused, or the target
// killed after its import) leaves it running where it was with them. After each case every
// live host's SCM is read: no duplicate runs on two hosts, none is lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { chromium } from 'playwright-core';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config.js';
import { cliFor } from './cli-helpers.js';
import { EtcdCluster } from './etcd-helpers.js';
import { nativeExe, openTestHost, testEnv, type TestHost } from './helpers.js';
import { initPgData, PG_BIN, pgClients, pgPresent, registerPg } from './pg-helpers.js';

const LONG = 300_000;
const SVC = 'svcdup-testsvc';
// PostgreSQL 15 for Windows (test/pg-helpers.ts), set up only on the hosts the drain case uses
const PGSVC = 'pgsql';
const PGPORT = 5548;
const PGDATA = 'C:\\pgdata';
/** initdb's data directory on h2, made while the node-loss cases wait on leases and graces (an error, or nothing) */
let pgData: Promise<Error | undefined> | undefined;
// the lease's TTL: its fence margin (a quarter) leaves 6.75 s to renew it, more than the test
// etcd's leader election after its leader is killed (election timeout 2 s, randomised to 4 s)
// plus a renewal's timeout: with 6 s a node fenced itself when the killed member was the leader
const TTL = 9;
const GRACE = 3;
const dir = mkdtempSync(join(tmpdir(), 'svcdup-cluster-'));
const NAMES = ['h1', 'h2', 'h3'] as const;
// the cluster key that seals `set:` values in etcd (apply and every agent get the file)
const KEY = join(dir, 'cluster.key');
writeFileSync(KEY, randomBytes(32), { mode: 0o600 });

let etcd: EtcdCluster;
const hosts: Record<string, TestHost> = {};
const agents: Record<string, ChildProcess> = {};
const controllers: Record<string, ChildProcess> = {};
const dead = new Set<string>();
const c0 = cliFor(() => hosts.h1!.paths);

/** A long-running svcdup process in its own process group (killed with it), its output in a log file. */
function daemon(label: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const log = openSync(join(dir, `${label}.log`), 'a');
  return spawn('node', [join(packageRoot, 'dist/cli.js'), ...args], { env, stdio: ['ignore', log, log], detached: true });
}
const logOf = (label: string): string => readFileSync(join(dir, `${label}.log`), 'utf8');
const killGroup = (p: ChildProcess | undefined, sig: NodeJS.Signals = 'SIGKILL') => {
  try {
    if (p?.pid) process.kill(-p.pid, sig);
  } catch {
    /* already gone */
  }
};

function startAgent(h: string, env: NodeJS.ProcessEnv = {}): void {
  agents[h] = daemon(
    `agent-${h}`,
    ['node', 'start', '--etcd', etcd.urls, '--name', h, '--ttl', String(TTL), '--renew', '1', '--resync', '2', '--secret-key', KEY],
    { ...testEnv(hosts[h]!.paths), ...env },
  );
}
function startController(id: string): void {
  controllers[id] = daemon(`ctl-${id}`, ['controller', '--etcd', etcd.urls, '--id', id, '--ttl', '3'], testEnv(hosts.h1!.paths));
}

/** `svcdup ARGS --etcd URLS` (any home: the cluster commands only talk to etcd). */
const ccli = (args: string[]) => c0.cli([...args, '--etcd', etcd.urls]);
interface Row {
  group: string;
  vm: string;
  host: string;
  generation: number;
  state: string;
  note: string;
  services: { service: string; pid: number; state: string }[];
}
/** `ccli` without blocking the event loop (the test acts while the command runs). */
const ccliAsync = (args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const p = spawn('node', [join(packageRoot, 'dist/cli.js'), ...args, '--etcd', etcd.urls], { env: testEnv(hosts.h1!.paths) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
const ps = (): { rows: Row[]; leader: string | null; problem?: string } => {
  const r = ccli(['cluster', 'ps', '--json']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Every live host's SCM: which cluster duplicates run where (`vm` -> hosts). */
async function running(): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const h of NAMES) {
    if (dead.has(h)) continue;
    for (const s of await hosts[h]!.backend.call('scm.list', {})) {
      const m = /^(?:svcdup-testsvc|pgsql)@(.+)$/i.exec(s.name);
      if (!m || s.state === 'STOPPED') continue;
      out.set(m[1]!, [...(out.get(m[1]!) ?? []), h]);
    }
  }
  return out;
}
/** No VM runs on two hosts; each placed replica on a live host runs there and nowhere else. */
async function checkScm(): Promise<void> {
  const run = await running();
  for (const [vm, on] of run) expect(on, `${vm} runs on ${on.join(' and ')}`).toHaveLength(1);
  for (const r of ps().rows) if (r.host !== '-' && !dead.has(r.host)) expect(run.get(r.vm), `${r.vm} on ${r.host}`).toEqual([r.host]);
}

/**
 * The dashboard's cluster view (`svcdup ui --etcd`) in Debian's chromium: every node Ready,
 * each replica on its host RUNNING, the group's count, the replicas that cannot be placed
 * with the failing constraint; and live: a cordon shows without a reload.
 */
async function dashboard(rows: Row[]): Promise<void> {
  const ui = spawn('node', [join(packageRoot, 'dist/cli.js'), 'ui', '--json', '--etcd', etcd.urls], {
    env: testEnv(hosts.h1!.paths),
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true,
  });
  const browser = await chromium.launch({ executablePath: process.env.SVCDUP_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      ui.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
      });
      ui.on('exit', (code) => reject(new Error(`svcdup ui exited with ${code}`)));
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(url);
    const text = (sel: string) => page.locator(sel).first().textContent({ timeout: 20_000 });
    const poll = { timeout: 20_000, interval: 200 };
    for (const h of NAMES) await expect.poll(() => text(`#cluster-nodes tr[data-node="${h}"] td:nth-child(2)`), poll).toBe('Ready');
    for (const r of rows) {
      expect(await text(`#cluster-dups tr[data-vm="${r.vm}"] td.host`)).toBe(r.host);
      expect(await text(`#cluster-dups tr[data-vm="${r.vm}"] td:nth-child(4)`)).toBe('RUNNING');
    }
    expect(await text('#cluster-groups tr[data-group="web"] td:nth-child(2)')).toBe('3 / 3');
    await expect.poll(() => text('#cluster-placement li.unplaced[data-vm="big-0"]'), poll).toMatch(/labels: no ready, uncordoned node has zone=z/);
    expect(await text('#cluster-etcd')).toMatch(/controller c[ab] leads/);
    expect(ccli(['node', 'cordon', 'h3']).status).toBe(0);
    await expect.poll(() => text('#cluster-nodes tr[data-node="h3"] td:nth-child(2)'), poll).toBe('Ready,SchedulingDisabled');
    expect(ccli(['node', 'uncordon', 'h3']).status).toBe(0);
  } finally {
    await browser.close();
    killGroup(ui, 'SIGTERM');
  }
}

/** The test service's greeting, asked by a client inside VM `vm` on host `h`. */
function greet(h: string, vm: string): string {
  const r = cliFor(() => hosts[h]!.paths).cli(['run', '--vm', vm, '--', nativeExe(hosts[h]!.backend, 'svcdup-pipecall.exe'), SVC, 'hi']);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { greeting: string }).greeting;
}

const group = (name: string, replicas: number, extra: string) =>
  `  ${name}:\n    replicas: ${replicas}\n${extra}    services: { ${SVC}: { mode: relayed, set: { 'Parameters\\Greeting': hello ${name} } } }\n`;
const file = (name: string, text: string): string => {
  const f = join(dir, name);
  writeFileSync(f, `cluster:\n${text}`);
  return f;
};

beforeAll(async () => {
  etcd = await EtcdCluster.start();
  const opened = await Promise.all(NAMES.map((h) => openTestHost(`cl-${h}`)));
  for (const [i, h] of NAMES.entries()) {
    hosts[h] = opened[i]!;
    const b = opened[i]!.backend;
    await b.call('scm.create', { name: SVC, imagePath: nativeExe(b, 'svcdup-testsvc.exe') });
  }
  startController('ca');
  startController('cb');
  for (const h of NAMES) startAgent(h);
  await until('3 ready nodes', 120_000, () => {
    const r = ccli(['cluster', 'nodes', '--json']);
    const n = r.status === 0 ? (JSON.parse(r.stdout) as { nodes: { ready: boolean }[] }).nodes : [];
    return n.filter((x) => x.ready).length === 3 || undefined;
  });
}, LONG);

afterAll(async () => {
  for (const p of [...Object.values(agents), ...Object.values(controllers)]) {
    killGroup(p, 'SIGCONT');
    killGroup(p);
  }
  await Promise.all(Object.values(hosts).map((h) => h.dispose().catch(() => {})));
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
}, LONG);

describe('a cluster on etcd', () => {
  it(
    'apply places 3 replicas, one per host, and each answers; a second node with a taken name is refused',
    async () => {
      // onNodeLoss: wait (its duplicates run on through a lost quorum: the cluster never starts them elsewhere by itself)
      const f = file('web.yaml', group('web', 3, '    placement: { spread: host }\n    onNodeLoss: wait\n'));
      // set: values are never stored in etcd in clear: refused without a cluster key
      const clear = ccli(['apply', '-f', f]);
      expect(clear.status).toBe(2);
      expect(clear.stderr).toMatch(/cluster\.web: set: values would be stored in etcd in clear; give --secret-key FILE/);
      const r = ccli(['apply', '-f', f, '--wait-running', '200', '--secret-key', KEY]);
      expect(r.status, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toMatch(/all 3 replicas RUNNING/);
      const rows = ps().rows;
      expect(rows.map((x) => x.host).sort()).toEqual(['h1', 'h2', 'h3']);
      for (const x of rows) expect(greet(x.host, x.vm)).toBe('hello web');
      // ... and the greeting each answers with is nowhere in etcd
      const raw = new Etcd3({ hosts: etcd.urls.split(',') });
      const all = JSON.stringify(await raw.getAll().prefix('/svcdup/').strings());
      raw.close();
      expect(all).toContain('sealed:v1:');
      expect(all).not.toContain('hello');
      await checkScm();
      // two agents with one name: the second is refused, the first keeps it
      const dup = cliFor(() => hosts.h2!.paths).cli(['node', 'start', '--etcd', etcd.urls, '--name', 'h1', '--ttl', '6', '--renew', '1']);
      expect(dup.status).toBe(1);
      expect(dup.stdout + dup.stderr).toMatch(/node name h1 is taken: another agent holds it \(pid \d+/);
      // a file that cannot be placed says which constraint fails, for which replicas
      const bad = ccli(['apply', '-f', file('bad.yaml', group('big', 4, '    placement: { labels: { zone: z } }\n')), '--secret-key', KEY]);
      expect(bad.status).toBe(3);
      expect(bad.stdout).toMatch(/cannot place big-0: labels: no ready, uncordoned node has zone=z/);
      await dashboard(rows);
      expect(ccli(['delete', '-f', join(dir, 'bad.yaml')]).stdout).toMatch(/deleted big/);
    },
    LONG,
  );

  it(
    'SIGKILL of one etcd member changes nothing',
    async () => {
      const before = ps().rows.map((x) => [x.vm, x.host, x.generation, x.services[0]?.pid]);
      etcd.kill(0);
      await new Promise((r) => setTimeout(r, TTL * 1000));
      expect(ps().rows.map((x) => [x.vm, x.host, x.generation, x.services[0]?.pid])).toEqual(before);
      const nodes = JSON.parse(ccli(['cluster', 'nodes', '--json']).stdout) as { nodes: { ready: boolean }[] };
      expect(nodes.nodes.every((n) => n.ready)).toBe(true);
      await checkScm();
      // no agent lost its lease or fenced itself meanwhile
      for (const h of NAMES) expect(logOf(`agent-${h}`)).not.toMatch(/fenced|registering again/);
      await etcd.restart(0);
    },
    LONG,
  );

  it(
    'SIGKILL of the leading controller: the other leads, and a later apply works',
    async () => {
      const leader = ps().leader!;
      expect(['ca', 'cb']).toContain(leader);
      killGroup(controllers[leader]);
      const other = leader === 'ca' ? 'cb' : 'ca';
      await until('the other controller to lead', 30_000, () => ps().leader === other || undefined);
      // a later apply: two one-replica groups, both on h1 (the others cordoned for it)
      for (const h of ['h2', 'h3']) expect(ccli(['node', 'cordon', h]).status).toBe(0);
      const f = file('loss.yaml', group('mover', 1, `    onNodeLoss: replace\n    grace: ${GRACE}\n`) + group('keep', 1, '    onNodeLoss: wait\n'));
      const r = ccli(['apply', '-f', f, '--wait-running', '120', '--secret-key', KEY]);
      expect(r.status, r.stderr + r.stdout).toBe(0);
      for (const h of ['h2', 'h3']) expect(ccli(['node', 'uncordon', h]).status).toBe(0);
      const rows = ps().rows;
      expect(rows.filter((x) => x.group !== 'web').map((x) => `${x.vm} ${x.host}`)).toEqual(['keep-0 h1', 'mover-0 h1']);
      expect(logOf(`ctl-${other}`)).toMatch(/place mover-0 on h1/);
      await checkScm();
    },
    LONG,
  );

  it(
    'quorum lost (2 of 3 etcd members SIGKILLed): wait duplicates run on and answer, replace ones are fenced, a change fails in one line, cluster ps says why; back, it converges and the change applies',
    async () => {
      const before = await running();
      expect([...before.keys()].sort()).toEqual(['keep-0', 'mover-0', 'web-0', 'web-1', 'web-2']);
      etcd.kill(0);
      etcd.kill(1);
      const lostAt = Date.now();
      // cluster ps: one line saying why, then one member's copy
      const t0 = Date.now();
      const p = ccli(['cluster', 'ps']);
      const psMs = Date.now() - t0;
      expect(p.status, p.stderr).toBe(0);
      expect(p.stdout).toMatch(/^etcd has no quorum: 1 of 3 members given answer.*; nodes keep running what they have, changes wait$/m);
      expect(p.stdout).toMatch(/web-0/);
      // a change (web scaled to 2) fails with one line, no stack
      const f2 = file('web2.yaml', group('web', 2, '    placement: { spread: host }\n    onNodeLoss: wait\n'));
      const a = ccli(['apply', '-f', f2, '--secret-key', KEY]);
      expect(a.status).toBe(1);
      const last = a.stderr.trim().split('\n').at(-1)!;
      expect(last).toMatch(/^svcdup: etcd has no quorum: .*run the command again then$/);
      expect(a.stderr).not.toMatch(/^\s+at /m);
      console.log(`quorum lost: cluster ps answered in ${psMs} ms; apply failed in one line: ${last}`);
      // past the fence's deadline (TTL x 3/4 after the last renewal): wait ones run on, replace ones stopped
      await new Promise((r) => setTimeout(r, Math.max(0, lostAt + TTL * 1000 - Date.now())));
      const during = await running();
      for (const vm of ['web-0', 'web-1', 'web-2', 'keep-0']) expect(during.get(vm), vm).toEqual(before.get(vm));
      expect(during.has('mover-0')).toBe(false);
      // ... and answer, on every host
      for (const vm of ['web-0', 'web-1', 'web-2']) expect(greet(before.get(vm)![0]!, vm)).toBe('hello web');
      // the members back: the change applies, mover-0 runs again, web-2 goes
      await etcd.restart(0);
      await etcd.restart(1);
      const back = ccli(['apply', '-f', f2, '--wait-running', '120', '--secret-key', KEY]);
      expect(back.status, back.stderr + back.stdout).toBe(0);
      await until('web-2 removed and mover-0 running again', 60_000, async () => {
        const run = await running();
        return (!run.has('web-2') && run.get('mover-0')?.[0] === 'h1') || undefined;
      });
      expect(ps().rows.find((r) => r.vm === 'mover-0')).toMatchObject({ host: 'h1', state: 'RUNNING' });
      // etcd's new leader extended every lease: no node lost its registration
      for (const h of NAMES) expect(logOf(`agent-${h}`)).not.toMatch(/registering again/);
      await checkScm();
    },
    LONG,
  );

  it(
    'a dead host (agent and Wine SIGKILLed): replace moves after the grace, wait only after node lost',
    async () => {
      // the drain case's PostgreSQL data directory, on a host that stays up, made meanwhile (initdb: many Wine processes)
      if (pgPresent)
        pgData = initPgData(hosts.h2!.backend, PGDATA).then(
          () => undefined,
          (err: Error) => err,
        );
      // web's replicas cannot move (spread: host, 3 replicas on 3 hosts): remove the group first
      expect(ccli(['delete', '-f', join(dir, 'web.yaml')]).status).toBe(0);
      await until('web removed from every host', 60_000, async () => ![...(await running()).keys()].some((v) => v.startsWith('web-')) || undefined);
      killGroup(agents.h1);
      await hosts.h1!.backend.shutdown(); // its wineserver, with every process of the prefix
      dead.add('h1');
      const t0 = Date.now();
      const moved = await until('mover-0 running elsewhere', 90_000, () => {
        const x = ps().rows.find((r) => r.vm === 'mover-0');
        return x && x.host !== 'h1' && x.state === 'RUNNING' ? x : undefined;
      });
      // not before the lease expired and the grace ran out
      expect(Date.now() - t0).toBeGreaterThanOrEqual((TTL + GRACE - 1) * 1000);
      expect(moved.generation).toBe(2);
      expect(greet(moved.host, 'mover-0')).toBe('hello mover');
      const keep = ps().rows.find((r) => r.vm === 'keep-0')!;
      expect(keep).toMatchObject({ host: 'h1', state: 'NodeNotReady' });
      expect(keep.note).toMatch(/onNodeLoss: wait/);
      expect((await running()).has('keep-0')).toBe(false);
      await checkScm();
      const lost = ccli(['node', 'lost', 'h1']);
      expect(lost.status, lost.stderr).toBe(0);
      const kept = await until('keep-0 running elsewhere', 90_000, () => {
        const x = ps().rows.find((r) => r.vm === 'keep-0');
        return x && x.host !== 'h1' && x.state === 'RUNNING' ? x : undefined;
      });
      expect(greet(kept.host, 'keep-0')).toBe('hello keep');
      // a Ready node cannot be called lost
      expect(ccli(['node', 'lost', kept.host]).stderr).toMatch(/is Ready/);
      await checkScm();
    },
    LONG,
  );

  it(
    'a stopped agent (SIGSTOP): its fence stops its duplicates before they start elsewhere; resumed, it does not start them',
    async () => {
      const m = ps().rows.find((r) => r.vm === 'mover-0')!.host;
      const other = m === 'h2' ? 'h3' : 'h2';
      process.kill(agents[m]!.pid!, 'SIGSTOP'); // the agent only: its fence process runs on
      let stoppedAt = 0;
      let startedAt = 0;
      await until('mover-0 running on the other host', 90_000, async () => {
        const run = await running();
        const on = run.get('mover-0') ?? [];
        expect(on.length).toBeLessThanOrEqual(1);
        if (!stoppedAt && !on.includes(m)) stoppedAt = Date.now();
        if (on.includes(other)) startedAt = Date.now();
        return startedAt || undefined;
      });
      expect(stoppedAt).toBeGreaterThan(0);
      expect(stoppedAt).toBeLessThan(startedAt);
      process.kill(agents[m]!.pid!, 'SIGCONT');
      await until(`${m} registered again`, 60_000, () => /registered as .*\n(.|\n)*registered as /.test(logOf(`agent-${m}`)) || undefined);
      // a few resyncs later: it has not started mover-0 again (it removed the VM that moved away)
      await new Promise((r) => setTimeout(r, 6000));
      // the fence said what it stopped (heard by the agent once resumed)
      expect(logOf(`agent-${m}`)).toMatch(/fenced: lease not renewed in time; stopped svcdup-testsvc@mover-0/);
      expect((await running()).get('mover-0')).toEqual([other]);
      expect(greet(other, 'mover-0')).toBe('hello mover');
      await checkScm();
    },
    LONG,
  );

  it.skipIf(!pgPresent)(
    'drain moves a PostgreSQL duplicate with its rows; a failed transfer (import refused, or the target killed after its import) leaves it running where it was, with them, and the copy left on the target is removed when its agent is back',
    async () => {
      const live = NAMES.filter((h) => !dead.has(h));
      expect(live).toEqual(['h2', 'h3']);
      const t0 = Date.now();
      const phase = (what: string) => console.log(`drain case: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      // the loss groups leave: what a drain moves is the PostgreSQL duplicate only
      expect(ccli(['delete', '-f', join(dir, 'loss.yaml')]).status).toBe(0);
      // PostgreSQL on the live hosts only: one data directory made by initdb (on h2), copied to h3 as its installer would make it
      const failed0 = await (pgData ?? initPgData(hosts.h2!.backend, PGDATA));
      if (failed0) throw failed0;
      phase('initdb done');
      cpSync(hosts.h2!.backend.toHostPath(PGDATA), hosts.h3!.backend.toHostPath(PGDATA), { recursive: true });
      for (const h of live) await registerPg(hosts[h]!.backend, PGSVC, PGDATA, PGPORT);
      await until('the loss groups removed', 60_000, async () => (await running()).size === 0 || undefined);
      // relayed: both test homes share the package's bin folder, where a direct copy would be one file for both hosts
      const f = file('pg.yaml', `  pg:\n    replicas: 1\n    services: { ${PGSVC}: { mode: relayed } }\n`);
      const ap = ccli(['apply', '-f', f, '--wait-running', '240']);
      expect(ap.status, ap.stderr + ap.stdout).toBe(0);
      phase('pg-0 RUNNING');
      const from = ps().rows.find((r) => r.vm === 'pg-0')!.host;
      const to = live.find((h) => h !== from)!;
      const vmsOn = (h: string) => cliFor(() => hosts[h]!.paths).cliJson<{ name: string; address?: string }[]>(['vm', 'ls']);
      const { sql, rows, ready, disconnectAll } = pgClients(PGPORT);
      // the VM's address on that host (an import takes the next one free there)
      const at = async (h: string): Promise<string> => {
        const a = vmsOn(h).find((v) => v.name === 'pg-0')!.address!;
        await ready(a, 120_000);
        return a;
      };
      try {
        await sql(await at(from), "create table t (v text); insert into t values ('before-drain')");
        await disconnectAll();
        // the source's agent is SIGKILLed the moment the move is done, before it lets its kept copy go;
        // started again, it finds that copy by the archive it left and removes it
        const raw = new Etcd3({ hosts: etcd.urls.split(',') });
        const w = await raw.watch().key('/svcdup/moves/pg-0').create();
        let killed = false;
        w.on('put', (kv) => {
          if (killed || JSON.parse(kv.value.toString()).state !== 'done') return;
          killed = true;
          killGroup(agents[from]);
        });
        const r = await ccliAsync(['node', 'drain', from, '--timeout', '170', '--json']);
        await w.cancel();
        raw.close();
        expect(killed).toBe(true);
        expect(r.status, r.stderr + r.stdout).toBe(0);
        const res = JSON.parse(r.stdout) as { moved: { vm: string; to: string }[]; failed: unknown[] };
        expect(res).toMatchObject({ failed: [], moved: [{ vm: 'pg-0', to }] });
        expect(await rows(await at(to))).toEqual(['before-drain']);
        phase('moved, rows read on the target');
        // the dead agent's lease gone, its name is free; started again, to be killed right after its next import (SVCDUP_FAILPOINT)
        await until(`${from} NotReady`, 30_000, () => {
          const n = JSON.parse(ccli(['cluster', 'nodes', '--json']).stdout) as { nodes: { name: string; ready: boolean }[] };
          return !n.nodes.find((x) => x.name === from)?.ready || undefined;
        });
        // (the kill races the agent's next resync, every 2 s: almost always it is first and the copy is still there)
        phase(`${from}'s kept copy ${vmsOn(from).some((v) => v.name === 'pg-0') ? 'still there' : 'already removed'} when its agent starts again`);
        startAgent(from, { SVCDUP_FAILPOINT: 'drain import:after' });
        await until(`pg-0 removed from ${from}`, 60_000, () => !vmsOn(from).some((v) => v.name === 'pg-0') || undefined);
        await checkScm();

        // back the other way, to a host that lacks the service: the import fails, the VM runs where it was
        expect(ccli(['node', 'uncordon', from]).status).toBe(0);
        await hosts[from]!.backend.call('scm.delete', { name: PGSVC });
        await sql(await at(to), "insert into t values ('second')");
        await disconnectAll();
        await until(`${from} ready again`, 30_000, () => {
          const n = JSON.parse(ccli(['cluster', 'nodes', '--json']).stdout) as { nodes: { name: string; ready: boolean }[] };
          return n.nodes.find((x) => x.name === from)?.ready || undefined;
        });
        const back = ccli(['node', 'drain', to, '--timeout', '170', '--json']);
        expect(back.status).toBe(1);
        const failed = JSON.parse(back.stdout) as { failed: { vm: string; error: string }[] };
        expect(failed.failed.find((x) => x.vm === 'pg-0')?.error).toMatch(/import on .*has no service pgsql/);
        await until('pg-0 running on its old host again', 90_000, () => {
          const x = ps().rows.find((y) => y.vm === 'pg-0');
          return x?.host === to && x.state === 'RUNNING' ? x : undefined;
        });
        expect(await rows(await at(to))).toEqual(['before-drain', 'second']);
        phase('failed move back, rows read on the source');
        await checkScm();

        // once more to `from` (its service back): its agent dies (SIGKILL) right after importing, before it
        // says so; the move fails when its lease expires, the VM runs on `to` again with every row
        await registerPg(hosts[from]!.backend, PGSVC, PGDATA, PGPORT);
        await sql(await at(to), "insert into t values ('third')");
        await disconnectAll();
        const died = new Promise<NodeJS.Signals | null>((r) => agents[from]!.once('exit', (_code, sig) => r(sig)));
        const third = await ccliAsync(['node', 'drain', to, '--timeout', '240', '--json']);
        expect(await died).toBe('SIGKILL');
        expect(third.status, third.stderr + third.stdout).toBe(1);
        const lost = JSON.parse(third.stdout) as { failed: { vm: string; error: string }[] };
        expect(lost.failed.find((x) => x.vm === 'pg-0')?.error).toMatch(new RegExp(`${from} lost its lease in the middle of the transfer`));
        // the import was whole: the copy is on `from`, not started, and nobody runs it there
        expect(vmsOn(from).some((v) => v.name === 'pg-0')).toBe(true);
        await until('pg-0 running on its old host after the target died', 90_000, () => {
          const x = ps().rows.find((y) => y.vm === 'pg-0');
          return x?.host === to && x.state === 'RUNNING' ? x : undefined;
        });
        expect(await rows(await at(to))).toEqual(['before-drain', 'second', 'third']);
        phase('target killed after its import, rows read on the source');
        await checkScm();
        // its agent back: the copy it imported for a move that is no longer its own is removed; `to` runs on
        startAgent(from);
        await until(`the imported copy removed from ${from}`, 60_000, () => !vmsOn(from).some((v) => v.name === 'pg-0') || undefined);
        phase('the copy removed');
        expect(await rows(await at(to))).toEqual(['before-drain', 'second', 'third']);
        await checkScm();
      } finally {
        await disconnectAll();
      }
    },
    LONG,
  );
  if (!pgPresent) it.skip(`drain of a PostgreSQL duplicate: the package is not fetched (${PG_BIN} is missing): run scripts/fetch-thirdparty.sh`, () => {});
});
