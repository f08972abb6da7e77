// The cluster commands (docs/cluster.md): node agents and controllers, which run until stopped,
// and apply/delete/cluster nodes|ps/node cordon|uncordon|lost, which talk to etcd and end.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { Etcd3 } from 'etcd3';
import { applyGroups, clearLost, deleteGroups, drainNode, markLost, sealGroups, nodeRows, psRows, setCordon, waitRunning } from '../cluster/admin.js';
import { Controller } from '../cluster/controller.js';
import { connectEtcd, etcdWhy, memberClient, quorumProblem, type EtcdOptions } from '../cluster/etcd.js';
import { readClusterFile } from '../cluster/file.js';
import { readClusterKey } from '../cluster/secret.js';
import { NodeAgent } from '../cluster/node.js';
import { readState } from '../cluster/view.js';
import { SvcdupError, UsageError } from '../errors.js';
import { vmNameProblem } from '../vm/names.js';
import { DEFAULT_FLEET_FILE } from './fleet.js';
import { printJson, printTable } from './output.js';

/** How long a command (not an agent) keeps retrying an unreachable etcd. */
const COMMAND_GIVE_UP_MS = 15_000;

export interface EtcdFlags {
  etcd?: string;
  cacert?: string;
  cert?: string;
  key?: string;
  etcdUser?: string;
}

export function etcdFlags(cmd: Command): Command {
  return cmd
    .option('--etcd <urls>', 'etcd client URLs, comma-separated (default: $SVCDUP_ETCD)')
    .option('--cacert <file>', 'CA certificate of the etcd servers (TLS)')
    .option('--cert <file>', 'client certificate for etcd (TLS)')
    .option('--key <file>', 'client key for etcd (TLS)')
    .option('--etcd-user <name>', 'etcd user; its password from $SVCDUP_ETCD_PASSWORD');
}

export function etcdOptions(f: EtcdFlags): EtcdOptions {
  const etcd = f.etcd ?? process.env.SVCDUP_ETCD;
  if (!etcd) throw new UsageError('give the etcd cluster with --etcd URLS (or $SVCDUP_ETCD)');
  return {
    etcd,
    ...(f.cacert ? { cacert: f.cacert } : {}),
    ...(f.cert ? { cert: f.cert } : {}),
    ...(f.key ? { key: f.key } : {}),
    ...(f.etcdUser ? { user: f.etcdUser } : {}),
  };
}

async function withEtcd<T>(f: EtcdFlags, fn: (c: Etcd3, o: EtcdOptions) => Promise<T>): Promise<T> {
  const o = etcdOptions(f);
  const c = await connectEtcd(o, COMMAND_GIVE_UP_MS);
  try {
    return await fn(c, o);
  } catch (err) {
    if (err instanceof SvcdupError) throw err;
    // an etcd call that failed after the first contact: most often a lost quorum (a write, or a
    // linearizable read, cannot be answered); one line that says which, never gRPC's text
    const problem = await quorumProblem(o).catch(() => undefined);
    throw new SvcdupError(
      problem
        ? `${problem.text}; the change is not confirmed and nothing is placed or moved until quorum is back: run the command again then`
        : `etcd: ${etcdWhy(err)}`,
    );
  } finally {
    c.close();
  }
}

const seconds = (flag: string, v: string, min = 1): number => {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || n < min) throw new UsageError(`${flag} must be a number of seconds >= ${min}, not "${v}"`);
  return n;
};

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function parseLabels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const m = /^([a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?)=(.*)$/i.exec(l);
    if (!m) throw new UsageError(`--label ${l}: give NAME=VALUE (letters, digits, . _ - in the name)`);
    out[m[1]!] = m[3]!;
  }
  return out;
}

/** One line per event: a timestamp, who says it, what. With --json a JSON object per line. */
const logger =
  (who: string, json: boolean) =>
  (line: string): void =>
    void process.stdout.write(
      json ? `${JSON.stringify({ at: new Date().toISOString(), who, message: line })}\n` : `${new Date().toISOString()} ${who}: ${line}\n`,
    );

/** Run an agent until SIGINT/SIGTERM, then stop it cleanly. */
async function runUntilSignal(start: () => Promise<void>, stop: () => Promise<void>): Promise<void> {
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    void stop().then(() => process.exit(process.exitCode ?? 0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await start();
  await new Promise(() => {}); // until a signal
}

export function registerClusterCommands(program: Command): void {
  const node = program.command('node').description('a host of a svcdup cluster: its agent, and cordon/uncordon/drain/lost');
  etcdFlags(
    node
      .command('start')
      .description("run this host's node agent: register under an etcd lease, run what the cluster assigns to it (until stopped)")
      .option('--name <host>', 'node name (default: the machine name)')
      .option('--label <k=v>', 'a label placement can ask for (repeatable)', collect, [])
      .option('--capacity <n>', 'most VMs this node takes')
      .option('--ttl <seconds>', 'lease TTL: NotReady this long after the agent stops renewing', '40')
      .option('--renew <seconds>', 'lease renewal interval', '10')
      .option('--resync <seconds>', 'how often to check the host against its assignments even with no change', '10')
      .option('--advertise <addr>', 'the address other nodes fetch a drained VM from (this host as they reach it)', '127.0.0.1')
      .option('--secret-key <file>', 'the cluster key that opens sealed set: values (the file apply was given)')
      .option('--json', 'JSON lines'),
  ).action(
    async (
      f: EtcdFlags & {
        name?: string;
        label: string[];
        capacity?: string;
        ttl: string;
        renew: string;
        resync: string;
        advertise: string;
        secretKey?: string;
        json?: boolean;
      },
    ) => {
      const name = (f.name ?? hostname()).toLowerCase();
      const problem = vmNameProblem(name);
      if (problem) throw new UsageError(`node name ${JSON.stringify(name)}: ${problem} (give one with --name)`);
      const ttl = seconds('--ttl', f.ttl, 2);
      const renew = seconds('--renew', f.renew, 0.2);
      if (renew * 2 > ttl) throw new UsageError(`--renew ${renew} must be at most half of --ttl ${ttl}: one lost renewal must not expire the lease`);
      let capacity: number | undefined;
      if (f.capacity !== undefined) {
        capacity = Number(f.capacity);
        if (!/^\d+$/.test(f.capacity)) throw new UsageError(`--capacity must be a whole number, not "${f.capacity}"`);
      }
      const agent = new NodeAgent({
        ...etcdOptions(f),
        name,
        labels: parseLabels(f.label),
        ...(capacity !== undefined ? { capacity } : {}),
        ttl,
        renew,
        resync: seconds('--resync', f.resync, 0.5),
        advertise: f.advertise,
        ...(f.secretKey ? { secretKey: readClusterKey(f.secretKey) } : {}),
        ...(program.opts<{ backend?: string }>().backend ? { backend: program.opts<{ backend?: string }>().backend } : {}),
        log: logger(`node ${name}`, !!f.json),
      });
      await runUntilSignal(
        () => agent.start(),
        () => agent.stop(),
      );
    },
  );
  for (const [verb, what] of [
    ['cordon', 'no new duplicates on HOST (those there stay)'],
    ['uncordon', 'HOST takes new duplicates again'],
    ['lost', 'HOST is gone with its disks: its `wait` duplicates start elsewhere'],
  ] as const) {
    etcdFlags(node.command(`${verb} <host>`).description(what).option('--json', 'print the result as JSON')).action(
      async (host: string, f: EtcdFlags & { json?: boolean }) => {
        await withEtcd(f, async (c) => {
          if (verb === 'lost') await markLost(c, host);
          else await setCordon(c, host, verb === 'cordon');
          if (verb === 'uncordon') await clearLost(c, host).catch(() => {});
          if (f.json) printJson({ node: host, [verb]: true });
          else process.stdout.write(`${host}: ${verb === 'cordon' ? 'cordoned' : verb === 'uncordon' ? 'uncordoned' : 'marked lost'}\n`);
        });
      },
    );
  }

  etcdFlags(
    node
      .command('drain <host>')
      .description('cordon HOST and move each of its VMs, with its state (vm export/import), to another node; a failed move leaves it running on HOST')
      .option('--timeout <seconds>', 'give up waiting after SECONDS (the drain goes on)', '600')
      .option('--json', 'print the result as JSON'),
  ).action(async (host: string, f: EtcdFlags & { timeout: string; json?: boolean }) => {
    await withEtcd(f, async (c) => {
      const r = await drainNode(c, host, seconds('--timeout', f.timeout) * 1000, (vm, to) => {
        if (!f.json) process.stdout.write(`moved ${vm} to ${to}\n`);
      });
      if (f.json) printJson(r);
      else for (const x of r.failed) process.stdout.write(`not moved ${x.vm} (runs on ${host}): ${x.error}\n`);
      if (!f.json)
        process.stdout.write(`${host} drained: ${r.moved.length} moved, ${r.failed.length} failed; it stays cordoned (svcdup node uncordon ${host})\n`);
      if (r.failed.length) process.exitCode = 1;
    });
  });

  etcdFlags(
    program
      .command('controller')
      .description('run a cluster controller (until stopped): the elected one places duplicates on nodes')
      .option('--id <name>', "this controller's name in the election", `${hostname()}-${process.pid}`)
      .option('--ttl <seconds>', 'election lease TTL: how long a dead leader blocks the next', '15')
      .option('--json', 'JSON lines'),
  ).action(async (f: EtcdFlags & { id: string; ttl: string; json?: boolean }) => {
    const c = new Controller({ ...etcdOptions(f), id: f.id, ttl: seconds('--ttl', f.ttl, 2), log: logger(`controller ${f.id}`, !!f.json) });
    await runUntilSignal(
      () => c.start(),
      () => c.stop(),
    );
  });

  etcdFlags(
    program
      .command('apply')
      .description("store a fleet file's cluster: groups in etcd; the controller places them")
      .option('-f, --file <file>', 'the fleet file', DEFAULT_FLEET_FILE)
      .option('--wait-running <seconds>', 'then wait until every replica runs (fail after SECONDS)')
      .option('--secret-key <file>', 'cluster key sealing set: values in etcd (32+ random bytes; the same file to every node agent)')
      .option('--json', 'print the result as JSON'),
  ).action(async (f: EtcdFlags & { file: string; waitRunning?: string; secretKey?: string; json?: boolean }) => {
    const groups = sealGroups(readClusterFile(f.file), f.secretKey ? readClusterKey(f.secretKey) : undefined);
    await withEtcd(f, async (c) => {
      const r = await applyGroups(c, groups);
      const rows = f.waitRunning !== undefined ? await waitRunning(c, r.groups, seconds('--wait-running', f.waitRunning, 0) * 1000) : undefined;
      if (f.json) return printJson({ ...r, ...(rows ? { running: rows } : {}) });
      process.stdout.write(
        `applied ${r.groups.length} group${r.groups.length === 1 ? '' : 's'} (${groups.reduce((n, g) => n + g.replicas, 0)} replicas): ${r.groups.join(', ')}\n`,
      );
      for (const u of r.unplaced) process.stdout.write(`cannot place ${u.vm}: ${u.constraint}\n`);
      if (rows) process.stdout.write(`all ${rows.length} replicas RUNNING\n`);
      // unplaced at apply time but all running after --wait-running (a node registered meanwhile): done
      if (r.unplaced.length && !rows) process.exitCode = 3;
    });
  });

  etcdFlags(
    program
      .command('delete')
      .description("remove a fleet file's cluster: groups; their duplicates are removed from the nodes")
      .option('-f, --file <file>', 'the fleet file', DEFAULT_FLEET_FILE)
      .option('--json', 'print the result as JSON'),
  ).action(async (f: EtcdFlags & { file: string; json?: boolean }) => {
    const groups = readClusterFile(f.file);
    await withEtcd(f, async (c) => {
      const r = await deleteGroups(c, groups);
      if (f.json) return printJson(r);
      process.stdout.write(`deleted ${r.deleted.length ? r.deleted.join(', ') : 'nothing'}${r.absent.length ? ` (not there: ${r.absent.join(', ')})` : ''}\n`);
    });
  });

  const cluster = program.command('cluster').description('the cluster as etcd holds it');
  etcdFlags(cluster.command('nodes').description('nodes: ready, lease, labels, capacity, duplicates').option('--json', 'print as JSON')).action(
    async (f: EtcdFlags & { json?: boolean }) => {
      await withEtcd(f, async (c, o) => {
        const q = await quorumProblem(o);
        const problem = q?.text;
        const m = memberClient(c, o, q);
        let rows: Awaited<ReturnType<typeof nodeRows>>;
        try {
          rows = await nodeRows(m.client, await readState(m.client, { serializable: !!q, statuses: false }), !q);
        } finally {
          m.close();
        }
        if (f.json) return printJson({ nodes: rows, ...(problem ? { problem } : {}) });
        if (problem) process.stdout.write(`${problem}\n(what follows is one member's copy, perhaps stale)\n`);
        printTable(
          ['NAME', 'STATUS', 'LEASE', 'DUPLICATES', 'CAPACITY', 'LABELS'],
          rows.map((r) => [
            r.name,
            r.status,
            r.leaseLeft === null ? '-' : `${r.leaseLeft}s`,
            r.duplicates,
            r.capacity ?? '-',
            Object.entries(r.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',') || '-',
          ]),
        );
      });
    },
  );
  etcdFlags(cluster.command('ps').description('every replica: its host, generation, state as its node reports').option('--json', 'print as JSON')).action(
    async (f: EtcdFlags & { json?: boolean }) => {
      await withEtcd(f, async (c, o) => {
        const q = await quorumProblem(o);
        const problem = q?.text;
        const m = memberClient(c, o, q);
        const rows = psRows(await readState(m.client, { serializable: !!q }).finally(() => m.close()));
        let leader: string | undefined;
        try {
          leader = problem ? undefined : await c.election('svcdup-controller').leader();
        } catch {
          leader = undefined;
        }
        if (f.json) return printJson({ rows, leader: leader ?? null, ...(problem ? { problem } : {}) });
        if (problem) process.stdout.write(`${problem}\n(what follows is one member's copy, perhaps stale)\n`);
        else if (!leader) process.stdout.write('no controller leads: nothing is placed or moved until one runs (svcdup controller)\n');
        printTable(
          ['GROUP', 'VM', 'HOST', 'GEN', 'STATE', 'NOTE'],
          rows.map((r) => [r.group, r.vm, r.host, r.generation || '-', r.state, r.note || '-']),
        );
      });
    },
  );
}
