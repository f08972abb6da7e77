// bench/cluster: a cluster of 3 svcdup homes (each its own Wine prefix and node agent) on a
// real 3-member etcd with 2 controllers, as test/cluster.test.ts sets it up. Figures:
// - apply -> every replica RUNNING, for N duplicates (default 3 and 30) over the 3 hosts,
//   against the same duplicates made by `svcdup up` on each host at once (N/3 each);
// - etcd writes (revisions) per duplicate placed, and per minute at rest (30 s measured);
// - watch events a node's own prefix receives while N duplicates are placed on the others
//   (it is cordoned), against what a watcher of every assignment receives;
// - controller takeover after SIGKILL of the leader (election TTL 3 s);
// - failover after a host dies (agent and Wine SIGKILLed; lease TTL 6 s, grace 3 s), split
//   into lease expiry (NotReady seen), grace (until the replica is placed elsewhere), start.
// Usage: npx tsx bench/cluster.ts [N,N,...] [--json]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { keys } from '../src/cluster/keys.js';
import { packageRoot } from '../src/config.js';
import { EtcdCluster } from '../test/etcd-helpers.js';
import { nativeExe, openTestHost, testEnv, type TestHost } from '../test/helpers.js';
import { args, onExit, report, round, say } from './lib.js';

const SIZES = (args[0] ?? '3,30')
  .split(',')
  .map(Number)
  .filter((n) => n > 0 && n % 3 === 0);
const SVC = 'svcdup-testsvc';
const TTL = 6;
const GRACE = 3;
const NAMES = ['h1', 'h2', 'h3'];
const dir = mkdtempSync(join(tmpdir(), 'svcdup-bench-cluster-'));
const hosts: Record<string, TestHost> = {};
const procs: ChildProcess[] = [];
const agents: Record<string, ChildProcess> = {};
const ctl: Record<string, ChildProcess> = {};
let etcd: EtcdCluster | undefined;
let client: Etcd3 | undefined;

const cleanup = onExit(async () => {
  for (const p of procs)
    try {
      if (p.pid) process.kill(-p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  client?.close();
  await Promise.all(Object.values(hosts).map((h) => h.dispose().catch(() => {})));
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function daemon(label: string, a: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const log = openSync(join(dir, `${label}.log`), 'a');
  const p = spawn('node', [join(packageRoot, 'dist/cli.js'), ...a], { env, stdio: ['ignore', log, log], detached: true });
  procs.push(p);
  return p;
}
const cli = (h: string, a: string[]) => {
  const r = spawnSync('node', [join(packageRoot, 'dist/cli.js'), ...a], { env: testEnv(hosts[h]!.paths), encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) throw new Error(`svcdup ${a.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
const ccli = (a: string[]) => cli('h1', [...a, '--etcd', etcd!.urls]);
const revision = async (): Promise<number> => Number((await client!.get('/svcdup/').exec()).header.revision);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ms: number, fn: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}
interface Row {
  vm: string;
  host: string;
  state: string;
}
const rows = (): Row[] => (JSON.parse(ccli(['cluster', 'ps', '--json'])) as { rows: Row[] }).rows;
const group = (name: string, n: number, extra = '') =>
  `cluster:\n  ${name}:\n    replicas: ${n}\n    placement: { spread: none }\n${extra}    services: { ${SVC}: { mode: relayed } }\n`;

try {
  etcd = await EtcdCluster.start();
  client = new Etcd3({ hosts: etcd.urls.split(',') });
  const opened = await Promise.all(NAMES.map((h) => openTestHost(`bench-cl-${h}`)));
  for (const [i, h] of NAMES.entries()) {
    hosts[h] = opened[i]!;
    await opened[i]!.backend.call('scm.create', { name: SVC, imagePath: nativeExe(opened[i]!.backend, 'svcdup-testsvc.exe') });
  }
  for (const id of ['ca', 'cb']) ctl[id] = daemon(`ctl-${id}`, ['controller', '--etcd', etcd.urls, '--id', id, '--ttl', '3'], testEnv(hosts.h1!.paths));
  for (const h of NAMES)
    agents[h] = daemon(
      `agent-${h}`,
      ['node', 'start', '--etcd', etcd.urls, '--name', h, '--ttl', String(TTL), '--renew', '1', '--resync', '5'],
      testEnv(hosts[h]!.paths),
    );
  await until(
    '3 ready nodes',
    120_000,
    () => (JSON.parse(ccli(['cluster', 'nodes', '--json'])) as { nodes: { ready: boolean }[] }).nodes.filter((n) => n.ready).length === 3,
  );

  const sizes: Record<string, unknown>[] = [];
  for (const n of SIZES) {
    const f = join(dir, `g${n}.yaml`);
    writeFileSync(f, group(`g${n}`, n));
    const rev0 = await revision();
    let t = Date.now();
    ccli(['apply', '-f', f, '--wait-running', '900']);
    const applyMs = Date.now() - t;
    const writes = (await revision()) - rev0;
    ccli(['delete', '-f', f]);
    await until('the group removed', 600_000, async () => (await client!.getAll().prefix(keys.statuses).keys()).length === 0);
    // the same duplicates with `svcdup up`, each host its third, the three at once
    const per = n / 3;
    t = Date.now();
    await Promise.all(
      NAMES.map((h, i) => {
        const vf = join(dir, `up-${h}-${n}.yaml`);
        writeFileSync(vf, `vms:\n${Array.from({ length: per }, (_, k) => `  u${i}-${k}: { services: { ${SVC}: { mode: relayed } } }\n`).join('')}`);
        return new Promise<void>((resolve, reject) => {
          const p = spawn('node', [join(packageRoot, 'dist/cli.js'), 'up', '-f', vf], { env: testEnv(hosts[h]!.paths), stdio: 'ignore' });
          p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`up on ${h}: exit ${code}`))));
        });
      }),
    );
    const upMs = Date.now() - t;
    for (const h of NAMES) cli(h, ['down', '-f', join(dir, `up-${h}-${n}.yaml`)]);
    sizes.push({ n, applyToRunningMs: applyMs, upPerHostMs: upMs, ratio: round(applyMs / upMs), etcdWritesPerDuplicate: round(writes / n) });
    say(
      `N=${n}: apply -> all RUNNING ${applyMs} ms; up on each host at once ${upMs} ms (${round(applyMs / upMs)}x); ${round(writes / n)} etcd writes per duplicate`,
    );
  }

  // at rest
  const r0 = await revision();
  await sleep(30_000);
  const restPerMinute = ((await revision()) - r0) * 2;
  say(`at rest: ${restPerMinute} etcd writes per minute`);

  // watch fan-out: h1 cordoned, 6 duplicates placed on h2/h3
  let mine = 0;
  let all = 0;
  const w1 = await client.watch().prefix(keys.assignsOf('h1')).create();
  const wa = await client.watch().prefix(keys.assigns).create();
  w1.on('data', (r) => (mine += r.events.length));
  wa.on('data', (r) => (all += r.events.length));
  ccli(['node', 'cordon', 'h1']);
  const wf = join(dir, 'watch.yaml');
  writeFileSync(wf, group('w', 6));
  ccli(['apply', '-f', wf, '--wait-running', '600']);
  ccli(['delete', '-f', wf]);
  await until('w removed', 300_000, async () => (await client!.getAll().prefix(keys.assigns).keys()).length === 0);
  await sleep(1000);
  await w1.cancel();
  await wa.cancel();
  ccli(['node', 'uncordon', 'h1']);
  say(`watch: h1's prefix got ${mine} events while 6 duplicates were placed and removed elsewhere (all assignments: ${all})`);

  // controller takeover
  const leader = (JSON.parse(ccli(['cluster', 'ps', '--json'])) as { leader: string }).leader;
  const other = leader === 'ca' ? 'cb' : 'ca';
  let t = Date.now();
  process.kill(-ctl[leader]!.pid!, 'SIGKILL');
  await until('takeover', 60_000, () => (JSON.parse(ccli(['cluster', 'ps', '--json'])) as { leader: string }).leader === other);
  const takeoverMs = Date.now() - t;
  say(`controller takeover: ${takeoverMs} ms (election TTL 3 s)`);

  // failover
  const ff = join(dir, 'fo.yaml');
  writeFileSync(ff, group('fo', 1, `    onNodeLoss: replace\n    grace: ${GRACE}\n`));
  ccli(['apply', '-f', ff, '--wait-running', '300']);
  const victim = rows().find((r) => r.vm === 'fo-0')!.host;
  t = Date.now();
  process.kill(-agents[victim]!.pid!, 'SIGKILL');
  await hosts[victim]!.backend.shutdown();
  let notReady = 0;
  let placed = 0;
  await until('fo-0 running elsewhere', 120_000, () => {
    const r = rows().find((x) => x.vm === 'fo-0')!;
    if (!notReady && r.state === 'NodeNotReady') notReady = Date.now();
    if (!placed && r.host !== victim) placed = Date.now();
    return r.host !== victim && r.state === 'RUNNING';
  });
  const running = Date.now();
  const failover = { totalMs: running - t, leaseExpiryMs: notReady - t, graceMs: placed - notReady, startMs: running - placed, ttlS: TTL, graceS: GRACE };
  say(
    `failover: ${failover.totalMs} ms = lease expiry ${failover.leaseExpiryMs} + grace ${failover.graceMs} + start ${failover.startMs} (TTL ${TTL} s, grace ${GRACE} s)`,
  );
  const load = loadavg().map((x) => round(x));
  say(`load average ${load.join(' ')}`);
  report({ sizes, etcdWritesPerMinuteAtRest: restPerMinute, watchEventsOnIdleNode: mine, watchEventsAllAssignments: all, takeoverMs, failover, load });
} finally {
  await cleanup();
}
