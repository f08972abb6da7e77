// The etcd connection every cluster command shares: endpoints, TLS and user from the flags,
// a deadline on every unary call (so a cluster without quorum is an error, not a hang), and
// the first contact retried with backoff, said on stderr.
import { readFileSync } from 'node:fs';
import type { Etcd3, IOptions } from 'etcd3';
import { SvcdupError, UsageError } from '../errors.js';

export interface EtcdOptions {
  /** comma-separated client URLs, e.g. http://10.0.0.1:2379,http://10.0.0.2:2379 */
  etcd: string;
  cacert?: string;
  cert?: string;
  key?: string;
  user?: string;
  /** read from SVCDUP_ETCD_PASSWORD when a user is given (never a flag: flags show in ps) */
  password?: string;
}

// etcd members are often named by IP in their certificates, and grpc-js passes that IP to
// tls.connect as the server name, which Node warns about on stderr (DEP0123) on every
// connection: the one warning dropped, so that an error stays one line.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  if (rest.includes('DEP0123') || (rest[0] as { code?: string } | undefined)?.code === 'DEP0123') return;
  (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

/** How long one etcd request may take before it counts as failed. */
export const CALL_DEADLINE_MS = 5_000;

export class EtcdUnreachableError extends SvcdupError {
  constructor(urls: string, why: string) {
    super(`etcd at ${urls} unreachable: ${why}`);
    this.name = 'EtcdUnreachableError';
  }
}

const readPem = (flag: string, file: string): Buffer => {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as Error).message}`);
  }
};

export function etcdUrls(etcd: string): string[] {
  const urls = etcd
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (!urls.length) throw new UsageError('--etcd: give the etcd client URLs, e.g. --etcd http://127.0.0.1:2379');
  for (const u of urls) if (!/^https?:\/\/[^/\s]+\/?$/.test(u)) throw new UsageError(`--etcd: "${u}" is not a URL like http://HOST:PORT`);
  return urls;
}

export function etcdClientOptions(o: EtcdOptions): IOptions {
  const hosts = etcdUrls(o.etcd);
  const opts: IOptions = {
    hosts,
    dialTimeout: CALL_DEADLINE_MS,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
  };
  if (o.cacert || o.cert || o.key) {
    if (!o.cacert) throw new UsageError('--cert/--key need --cacert (the CA that signed the etcd servers)');
    if (!!o.cert !== !!o.key) throw new UsageError('--cert and --key go together');
    if (hosts.some((h) => h.startsWith('http:'))) throw new UsageError('--cacert: give https:// etcd URLs for TLS');
    opts.credentials = {
      rootCertificate: readPem('--cacert', o.cacert),
      ...(o.cert ? { certChain: readPem('--cert', o.cert), privateKey: readPem('--key', o.key!) } : {}),
    };
  }
  if (o.user) {
    const password = o.password ?? process.env.SVCDUP_ETCD_PASSWORD;
    if (password === undefined) throw new UsageError('--etcd-user needs its password in SVCDUP_ETCD_PASSWORD');
    opts.auth = { username: o.user, password };
  }
  return opts;
}

/** One line for an etcd failure: gRPC's messages are long and name internals. */
let lastReal = '';
export function etcdWhy(err: unknown): string {
  const e = err as Error;
  let m = (e?.message ?? String(err)).split('\n')[0]!;
  m = m
    .replace(/^\d+ [A-Z_]+: /, '')
    .replace(/^No connection established\. Last error: (Error: )?/, '')
    .replace(/\.? ?Resolution note: ?$/, '');
  // the client's circuit breaker stands for the failure that opened it
  if (/circuit breaker is open/.test(m)) m = lastReal ? `${lastReal}, still` : 'no member answers';
  else lastReal = m.replace(/^\d+ [A-Z_]+: /, '');
  // gRPC's text after it is timings of its internals
  if (/DeadlineExceeded|deadline/i.test(e?.name + m)) return `no answer within ${CALL_DEADLINE_MS / 1000} s`;
  return m.replace(/^\d+ [A-Z_]+: /, '');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// etcd3 (gRPC, protobuf, OpenTelemetry) takes most of a second to load: loaded when a cluster
// command first connects, not by every svcdup command (`dup --start` paid it on each run)
let etcd3: typeof import('etcd3') | undefined;
const loadEtcd3 = async (): Promise<typeof import('etcd3')> => (etcd3 ??= await import('etcd3'));

/** A client of the one member that answers on its own (its copy, perhaps stale), or `client` itself. */
export function memberClient(client: Etcd3, o: EtcdOptions, q: QuorumProblem | undefined): { client: Etcd3; close(): void } {
  if (!q?.member) return { client, close: () => {} };
  // etcd3 is loaded: `client` came from connectEtcd
  const one = new etcd3!.Etcd3(etcdClientOptions({ ...o, etcd: q.member }));
  return { client: one, close: () => one.close() };
}

/**
 * A client that has answered once. Retries with backoff (0.5 s doubling to 8 s), each retry
 * said on stderr; gives up after `giveUpMs` (commands) or never (agents: Infinity).
 */
export async function connectEtcd(o: EtcdOptions, giveUpMs: number, say: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<Etcd3> {
  const { Etcd3 } = await loadEtcd3();
  const client = new Etcd3(etcdClientOptions(o));
  const end = Date.now() + giveUpMs;
  for (let delay = 500; ; delay = Math.min(delay * 2, 8_000)) {
    try {
      await client.get('/svcdup/').serializable(true).string();
      return client;
    } catch (err) {
      if (/auth|permission|Unauthenticated/i.test((err as Error).name + (err as Error).message)) {
        client.close();
        throw new SvcdupError(`etcd at ${o.etcd} refused us: ${etcdWhy(err)}`);
      }
      if (Date.now() + delay > end) {
        client.close();
        throw new EtcdUnreachableError(o.etcd, etcdWhy(err));
      }
      say(`svcdup: etcd at ${o.etcd} unreachable (${etcdWhy(err)}); retrying in ${delay / 1000} s`);
      await sleep(delay);
    }
  }
}

/** etcd without quorum: what to say, and a member that answers on its own (to read its copy from). */
export interface QuorumProblem {
  text: string;
  member?: string;
}

/**
 * Whether etcd has quorum: a linearizable read (goes through the raft leader) answered. When
 * not, how many members answer on their own: what `cluster ps` says instead of hanging.
 * Every member is asked at once and once (one 5 s deadline in all): etcd3 retries a call three
 * times by default, and a member without quorum holds a linearizable read until its deadline,
 * so through the command's client each retry cost 5 s more (`cluster ps` took 21 s with 2 of 3
 * members gone). The first member that answers through the leader settles it.
 */
export async function quorumProblem(o: EtcdOptions): Promise<QuorumProblem | undefined> {
  const probe = await quorumProbe(o);
  try {
    return await probe.check();
  } finally {
    probe.close();
  }
}

/** quorumProblem's clients kept for repeated checks (the dashboard's cluster feed, every 2 s). */
export async function quorumProbe(o: EtcdOptions): Promise<{ check(): Promise<QuorumProblem | undefined>; close(): void }> {
  const urls = etcdUrls(o.etcd);
  const { Etcd3 } = await loadEtcd3();
  const { noop } = await import('cockatiel'); // etcd3's own fault-handling library, loaded with it
  const clients = urls.map((u) => new Etcd3({ ...etcdClientOptions({ ...o, etcd: u }), faultHandling: { global: noop } }));
  async function check(): Promise<QuorumProblem | undefined> {
    const asked = clients.map((one, i) => {
      const url = urls[i] as string;
      const alone = one.get('/svcdup/').serializable(true).string();
      const quorum = one.get('/svcdup/quorum-probe').string();
      // settled by the early answer or a close: not an unhandled rejection
      for (const p of [alone, quorum]) p.catch(() => {});
      return { url, alone, quorum };
    });
    const anyQuorum = await Promise.any(asked.map((a) => a.quorum)).then(
      () => true,
      () => false,
    );
    if (anyQuorum) return undefined;
    const answers = await Promise.all(
      asked.map(async (a) => {
        const [alone, quorum] = await Promise.allSettled([a.alone, a.quorum]);
        return { url: a.url, alone: alone.status === 'fulfilled', why: quorum.status === 'rejected' ? quorum.reason : undefined };
      }),
    );
    const answering = answers.filter((a) => a.alone).length;
    // why, as a member that answers on its own says it (a dead member's reason says less)
    const alone = answers.find((a) => a.alone);
    return {
      text: `etcd has no quorum: ${answering} of ${urls.length} members given answer, and a write or a linearizable read fails (${etcdWhy(alone?.why ?? answers[0]?.why)}); nodes keep running what they have, changes wait`,
      ...(alone ? { member: alone.url } : {}),
    };
  }
  return {
    check,
    close: () => {
      for (const c of clients) c.close();
    },
  };
}

/**
 * Lease renewals that survive a dead member. etcd3's keepaliveOnce opens its stream to one
 * member and does not try another when that member is gone, and a stream has no deadline;
 * this renews through one client per member, each attempt bounded by `timeoutMs`: first the
 * member that answered last, and when it does not answer, all the others at once (one after
 * the other, a dead member and a leader election after it could take the whole fence margin:
 * a node fenced itself when one etcd member of three was killed). A renewal that fails
 * everywhere starts with the next member the next time.
 */
export class LeaseKeeper {
  private readonly clients: Etcd3[];
  private good = 0;

  /** after connectEtcd, which loads etcd3 */
  constructor(o: EtcdOptions) {
    if (!etcd3) throw new Error('LeaseKeeper before connectEtcd');
    const { Etcd3 } = etcd3;
    this.clients = etcdUrls(o.etcd).map((u) => new Etcd3(etcdClientOptions({ ...o, etcd: u })));
  }

  /** Renew lease `id` (decimal string); the TTL left, 0 when the lease is gone. */
  async renew(id: string, timeoutMs: number): Promise<number> {
    const first = this.good;
    try {
      return await once(this.clients[first]!, id, timeoutMs);
    } catch (err) {
      const others = this.clients.map((c, i) => ({ c, i })).filter(({ i }) => i !== first);
      if (!others.length) throw err;
      try {
        return await Promise.any(
          others.map(async ({ c, i }) => {
            const ttl = await once(c, id, timeoutMs);
            this.good = i;
            return ttl;
          }),
        );
      } catch (all) {
        this.good = (first + 1) % this.clients.length;
        throw (all as AggregateError).errors?.[0] ?? err;
      }
    }
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

async function once(client: Etcd3, id: string, timeoutMs: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  let stream: Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>> | undefined;
  try {
    return await Promise.race([
      (async () => {
        stream = await client.leaseClient.leaseKeepAlive();
        const s = stream;
        return await new Promise<number>((resolve, reject) => {
          s.on('data', (r: { TTL: string }) => resolve(Number(r.TTL)));
          s.on('error', (err: Error) => reject(err));
          s.write({ ID: id });
        });
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    stream?.end();
  }
}
