// A real 3-member etcd cluster on loopback ports, in a temporary folder (Debian's etcd-server,
// installed by scripts/setup.sh): for the cluster tests and bench. Members can be killed and
// restarted; stop() kills every process it started and removes the folder.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A port nothing listens on now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** PEM files of a server certificate for 127.0.0.1 and the CA that signed it (and client certificates). */
export interface EtcdTls {
  ca: string;
  cert: string;
  key: string;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate (CN `client`), made with openssl in `dir`. */
export function makeCerts(dir: string): EtcdTls & { clientCert: string; clientKey: string } {
  const run = (...a: string[]) => {
    const r = spawnSync('openssl', a, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${a.join(' ')}: ${r.stderr}`);
  };
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=svcdup-test-ca');
  for (const [name, cn, ext] of [
    ['server', '127.0.0.1', true],
    ['client', 'client', false],
  ] as const) {
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      ...(ext ? ['-extfile', 'san.cnf'] : []),
    );
  }
  return {
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}

interface Member {
  name: string;
  client: number;
  peer: number;
  proc?: ChildProcess;
}

export class EtcdCluster {
  private constructor(
    readonly dir: string,
    private readonly members: Member[],
    private readonly tls?: EtcdTls,
  ) {}

  private get scheme(): string {
    return this.tls ? 'https' : 'http';
  }

  /** Client URLs, comma-separated, as `--etcd` takes them. */
  get urls(): string {
    return this.members.map((m) => `${this.scheme}://127.0.0.1:${m.client}`).join(',');
  }

  /** `tls`: clients must speak TLS and show a certificate signed by `ca`. */
  static async start(size = 3, tls?: EtcdTls): Promise<EtcdCluster> {
    // a port freePort gave can be taken before etcd binds it (another test's etcd, any
    // outgoing connection's ephemeral port): a member that exits at start is tried again,
    // the whole cluster on new ports
    for (let attempt = 1; ; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'svcdup-etcd-'));
      const members: Member[] = [];
      for (let i = 0; i < size; i++) members.push({ name: `m${i}`, client: await freePort(), peer: await freePort() });
      const c = new EtcdCluster(dir, members, tls);
      for (const m of members) c.spawn(m, 'new');
      try {
        await c.waitHealthy();
        return c;
      } catch (err) {
        const exited = members.some((m) => m.proc && (m.proc.exitCode !== null || m.proc.signalCode !== null));
        if (!exited || attempt >= 3) throw err;
        await c.stop();
      }
    }
  }

  private spawn(m: Member, state: 'new' | 'existing'): void {
    const initial = this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peer}`).join(',');
    const log = openSync(join(this.dir, `${m.name}.log`), 'a');
    m.proc = spawn(
      'etcd',
      [
        `--name=${m.name}`,
        `--data-dir=${join(this.dir, m.name)}`,
        `--listen-client-urls=${this.scheme}://127.0.0.1:${m.client}`,
        `--advertise-client-urls=${this.scheme}://127.0.0.1:${m.client}`,
        ...(this.tls ? [`--cert-file=${this.tls.cert}`, `--key-file=${this.tls.key}`, `--trusted-ca-file=${this.tls.ca}`, '--client-cert-auth'] : []),
        `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
        `--initial-cluster=${initial}`,
        `--initial-cluster-state=${state}`,
        '--initial-cluster-token=svcdup-test',
        // a loaded 2-core machine: a little more patience than the 100/1000 ms defaults
        '--heartbeat-interval=200',
        '--election-timeout=2000',
        '--log-level=warn',
      ],
      { stdio: ['ignore', log, log] },
    );
  }

  /** Every member answers its health endpoint (the cluster has a leader); with TLS, its port is open. */
  async waitHealthy(ms = 30_000, which = this.members.filter((m) => m.proc)): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      const ok = await Promise.all(
        which.map((m) =>
          this.tls
            ? portOpen(m.client)
            : fetch(`http://127.0.0.1:${m.client}/health`)
                .then(async (r) => r.ok && ((await r.json()) as { health: string }).health === 'true')
                .catch(() => false),
        ),
      );
      if (ok.every(Boolean)) return;
      const gone = which.find((m) => m.proc && (m.proc.exitCode !== null || m.proc.signalCode !== null));
      if (gone) throw new Error(`etcd member ${gone.name} exited (logs in ${this.dir})`);
      if (Date.now() > end) throw new Error(`etcd not healthy after ${ms} ms (logs in ${this.dir})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** SIGKILL member i; its data stays for restart(i). */
  kill(i: number): void {
    const m = this.members[i]!;
    m.proc?.kill('SIGKILL');
    m.proc = undefined;
  }

  async restart(i: number): Promise<void> {
    const m = this.members[i]!;
    if (!m.proc) this.spawn(m, 'existing');
    await this.waitHealthy();
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(
        (m) =>
          new Promise<void>((resolve) => {
            const p = m.proc;
            m.proc = undefined;
            if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
