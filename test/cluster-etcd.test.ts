// The cluster commands against an etcd that wants TLS client certificates, then etcd users
// (issue 21, security): they connect with --cacert/--cert/--key and --etcd-user (password in
// $SVCDUP_ETCD_PASSWORD), and say in one line what is wrong otherwise; an etcd nobody answers
// at is retried with backoff, saying so, then given up in one line. No Wine: the cluster
// commands only talk to etcd.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config.js';
import { EtcdCluster, makeCerts } from './etcd-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'svcdup-etcd-tls-'));
let etcd: EtcdCluster;
let certs: ReturnType<typeof makeCerts>;

const svcdup = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync('node', [join(packageRoot, 'dist/cli.js'), ...args], { env: { ...process.env, SVCDUP_ETCD: '', ...env }, encoding: 'utf8', timeout: 60_000 });
const tls = () => ['--etcd', etcd.urls, '--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey];

/** `svcdup cluster nodes` against a loopback port nothing listens on, started at once: it takes its 15 s beside the other cases. */
let unreachable: Promise<{ status: number | null; stderr: string; ms: number }>;

beforeAll(async () => {
  const closed = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
  const t0 = Date.now();
  unreachable = new Promise((resolve) => {
    const p = spawn('node', [join(packageRoot, 'dist/cli.js'), 'cluster', 'nodes', '--etcd', `http://127.0.0.1:${closed}`], {
      env: { ...process.env, SVCDUP_ETCD: '' },
    });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stderr, ms: Date.now() - t0 }));
  });
  certs = makeCerts(dir);
  etcd = await EtcdCluster.start(1, certs);
});
afterAll(async () => {
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('etcd TLS and users', () => {
  it('TLS: the client certificate and CA given, the commands work; TLS flags with an http URL are refused', () => {
    const r = svcdup(['cluster', 'nodes', ...tls(), '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ nodes: [] });
    const bad = svcdup(['cluster', 'nodes', '--etcd', 'http://127.0.0.1:1', '--cacert', certs.ca]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('svcdup: --cacert: give https:// etcd URLs for TLS');
  });

  it('users: with --etcd-user and its password the commands work; a wrong password or no user is refused in one line', async () => {
    const admin = new Etcd3({
      hosts: etcd.urls,
      credentials: { rootCertificate: readFileSync(certs.ca), certChain: readFileSync(certs.clientCert), privateKey: readFileSync(certs.clientKey) },
    });
    await admin.role('root').create();
    await admin.user('root').create('s3cret');
    await admin.user('root').addRole('root');
    await admin.auth.authEnable({});
    admin.close();
    const ok = svcdup(['cluster', 'ps', ...tls(), '--etcd-user', 'root', '--json'], { SVCDUP_ETCD_PASSWORD: 's3cret' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ rows: [] });
    const wrong = svcdup(['cluster', 'ps', ...tls(), '--etcd-user', 'root'], { SVCDUP_ETCD_PASSWORD: 'nope' });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr.trim()).toMatch(/^svcdup: etcd at https:\/\/127\.0\.0\.1:\d+ refused us: .*authentication failed/);
    // the client certificate's CN (client) is no user: permission denied, not a retry loop
    const none = svcdup(['cluster', 'ps', ...tls()]);
    expect(none.status).toBe(1);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    expect(none.stderr).toMatch(/refused us: .*(permission denied|user name)/i);
    const nopw = svcdup(['cluster', 'ps', ...tls(), '--etcd-user', 'root']);
    expect(nopw.stderr.trim()).toBe('svcdup: --etcd-user needs its password in SVCDUP_ETCD_PASSWORD');
  });

  it('etcd unreachable: a command retries with backoff, saying so, and gives up in one line once the next wait would pass 15 s', async () => {
    const r = await unreachable;
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    const waits = lines.slice(0, -1).map((l) => /^svcdup: etcd at http:\/\/127\.0\.0\.1:\d+ unreachable \(.+\); retrying in ([\d.]+) s$/.exec(l)?.[1]);
    expect(waits).toEqual(['0.5', '1', '2', '4']);
    expect(lines.at(-1)).toMatch(/^svcdup: etcd at http:\/\/127\.0\.0\.1:\d+ unreachable: .*ECONNREFUSED/);
    expect(r.ms).toBeGreaterThanOrEqual(7_500);
    expect(r.ms).toBeLessThan(30_000);
  });
});
