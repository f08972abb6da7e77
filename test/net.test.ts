// Network identity per VM (docs/network.md), with real processes under Wine: echo
// services on one fixed port on the host and in three VMs, clients in each VM, on the
// host and on Linux; http.sys URLs in two VMs; cross-VM binds denied.
// Needs svcdup-hook.dll with native/hook/net.c in it. SVCDUP_NATIVE_DIR points the
// test at another build of the native binaries (default native/build).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WineBackend } from '../src/backend/wine.js';
import { netRules, planIdentity, type NetIdentity } from '../src/net/index.js';
import { nativeDir, openTestHost, type TestHost } from './helpers.js';
import { linuxHttp, linuxTcpFirstLine, linuxTcpReaches, linuxUdp } from './net-clients.js';

const dir = process.env.SVCDUP_NATIVE_DIR ?? nativeDir;
const TCP = 27100;
const UDP = 27200;
const HTTP = 27600;
const VMS = ['neta', 'netb', 'netc'];

let host: TestHost;
let wine: WineBackend;
const ids: Record<string, NetIdentity> = {};
const started: ChildProcess[] = [];

const exe = (name: string): string => host.backend.toWindowsPath(join(dir, name));

interface Running {
  proc: ChildProcess;
  out: string[];
  /** the first stdout line matching re */
  line(re: RegExp, ms?: number): Promise<string>;
}

/** Start a long-running Windows program (on the host, or in VM vm) and follow its stdout. */
function start(argv: string[], vm?: string): Running {
  const full = vm ? [exe('svcdup-run.exe'), '--vm', vm, '--policy', policyPath(vm), '--', ...argv] : argv;
  const proc = spawn(wine.wine.loader, full, { env: wine.env(), stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(proc);
  const out: string[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split(/\r?\n/);
    buf = parts.pop()!;
    out.push(...parts);
  });
  return {
    proc,
    out,
    line: (re, ms = 30_000) =>
      new Promise((resolve, reject) => {
        const t0 = Date.now();
        const poll = (): void => {
          const l = out.find((x) => re.test(x));
          if (l) {
            resolve(l);
            return;
          }
          if (Date.now() - t0 > ms || proc.exitCode !== null) {
            reject(new Error(`no line ${re} from ${argv.join(' ')}${vm ? ` in VM ${vm}` : ''}; got ${JSON.stringify(out)}`));
            return;
          }
          setTimeout(poll, 50);
        };
        poll();
      }),
  };
}

const policyPath = (vm: string): string => host.backend.toWindowsPath(join(host.paths.home, `${vm}.rules`));

/** Run a Windows program to its end, in VM vm or on the host. */
async function run(argv: string[], vm?: string): Promise<{ code: number; stdout: string }> {
  const full = vm ? [exe('svcdup-run.exe'), '--vm', vm, '--policy', policyPath(vm), '--', ...argv] : argv;
  const r = await host.backend.exec(full, { timeoutMs: 60_000 });
  return { code: r.code, stdout: r.stdout.replace(/\r/g, '') };
}

const pidOf = (line: string): number => Number(/pid (\d+)/i.exec(line)?.[1] ?? /PID (\d+)/.exec(line)?.[1]);

beforeAll(async () => {
  host = await openTestHost('net');
  if (!(host.backend instanceof WineBackend)) throw new Error('test/net.test.ts drives Wine processes');
  wine = host.backend;
  // fixed addresses from a block of their own, so a developer's VMs do not collide
  const taken: { name: string; address?: string; portMap: never[] }[] = [];
  VMS.forEach((vm, i) => {
    ids[vm] = planIdentity({ ip: `127.77.200.${i + 2}` }, taken);
    taken.push({ name: vm, address: ids[vm]!.address!, portMap: [] });
    writeFileSync(join(host.paths.home, `${vm}.rules`), netRules(ids[vm]!));
  });
});

afterAll(async () => {
  if (!host) return;
  for (const vm of VMS) await run([exe('svcdup-run.exe'), '--kill-vm', vm]).catch(() => undefined);
  for (const p of started) if (p.exitCode === null) p.kill();
  await host.dispose();
});

describe('TCP: one fixed port on the host and in three VMs', () => {
  const servers: Record<string, number> = {};
  beforeAll(async () => {
    // the host instance binds 127.0.0.1: a host wildcard would take the port on every
    // 127.x.y.z on Linux (docs/network.md, "Wildcard conflicts")
    const h = start([exe('nt-tcpecho.exe'), String(TCP), '127.0.0.1']);
    servers.host = pidOf(await h.line(/^listening 127\.0\.0\.1:/));
    for (const vm of VMS) {
      const s = start([exe('nt-tcpecho.exe'), String(TCP)], vm);
      const l = await s.line(/^(listening|bind-failed)/);
      // the program asked for the wildcard and is told so
      expect(l).toMatch(new RegExp(`^listening 0\\.0\\.0\\.0:${TCP} pid \\d+$`));
      servers[vm] = pidOf(l);
    }
    expect(new Set(Object.values(servers)).size).toBe(4);
  });

  it('a client in each VM reaches its own VM instance at 127.0.0.1 and sees the address it asked for', async () => {
    for (const vm of VMS) {
      const r = await run([exe('nt-tcpclient.exe'), '127.0.0.1', String(TCP)], vm);
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`peer 127\\.0\\.0\\.1:${TCP}\\n`));
      expect(pidOf(/^greeting (.*)$/m.exec(r.stdout)![1]!)).toBe(servers[vm]);
      expect(r.stdout).toMatch(/echo ok/);
    }
  });

  it('a host client reaches the host instance at 127.0.0.1 and each VM at its address', async () => {
    const r = await run([exe('nt-tcpclient.exe'), '127.0.0.1', String(TCP)]);
    expect(pidOf(/^greeting (.*)$/m.exec(r.stdout)![1]!)).toBe(servers.host);
    for (const vm of VMS) {
      const v = await run([exe('nt-tcpclient.exe'), ids[vm]!.address!, String(TCP)]);
      expect(v.code, v.stdout).toBe(0);
      expect(pidOf(/^greeting (.*)$/m.exec(v.stdout)![1]!)).toBe(servers[vm]);
    }
  });

  it('a Linux client reaches each VM at its address', async () => {
    for (const vm of VMS) {
      const l = await linuxTcpFirstLine(ids[vm]!.address!, TCP);
      expect(l).toMatch(new RegExp(`^PID ${servers[vm]} LOCAL ${ids[vm]!.address!.replace(/\./g, '\\.')}:${TCP} `));
    }
    expect(pidOf(await linuxTcpFirstLine('127.0.0.1', TCP))).toBe(servers.host);
  });
});

describe('UDP: one fixed port on the host and in three VMs', () => {
  const servers: Record<string, number> = {};
  beforeAll(async () => {
    const h = start([exe('nt-udpecho.exe'), String(UDP), '127.0.0.1']);
    servers.host = pidOf(await h.line(/^listening 127\.0\.0\.1:/));
    for (const vm of VMS) {
      const s = start([exe('nt-udpecho.exe'), String(UDP)], vm);
      const l = await s.line(/^(listening|bind-failed)/);
      expect(l).toMatch(new RegExp(`^listening 0\\.0\\.0\\.0:${UDP} pid \\d+$`));
      servers[vm] = pidOf(l);
    }
  });

  it('a client in each VM gets its own VM instance', async () => {
    for (const vm of VMS) {
      const r = await run([exe('nt-udpclient.exe'), '127.0.0.1', String(UDP), `from-${vm}`], vm);
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^reply PID ${servers[vm]} .* DATA from-${vm}$`, 'm'));
    }
  });

  it('host and Linux clients reach each VM at its address', async () => {
    for (const vm of VMS) {
      const r = await run([exe('nt-udpclient.exe'), ids[vm]!.address!, String(UDP)]);
      expect(r.stdout).toMatch(new RegExp(`^reply PID ${servers[vm]} `, 'm'));
      const l = await linuxUdp(ids[vm]!.address!, UDP, 'linux');
      expect(l.text).toMatch(new RegExp(`^PID ${servers[vm]} .* DATA linux$`));
      expect(l.from).toBe(`${ids[vm]!.address}:${UDP}`);
    }
    expect((await linuxUdp('127.0.0.1', UDP, 'h')).text).toMatch(new RegExp(`^PID ${servers.host} `));
  });
});

describe('http.sys: http://+:PORT/ in two VMs', () => {
  const servers: Record<string, number> = {};
  beforeAll(async () => {
    const [a, b] = VMS as [string, string];
    const sa = start([exe('nt-httpsrv.exe'), `http://+:${HTTP}/`], a);
    const la = await sa.line(/^(listening|addurl-failed|init-failed)/, 60_000);
    servers[a] = pidOf(la);
    expect(la).toMatch(/^listening/);
    // the second uses the version 2 API: HttpAddUrlToUrlGroup
    const sb = start([exe('nt-httpsrv.exe'), '--group', `http://+:${HTTP}/`], b);
    servers[b] = pidOf(await sb.line(/^(listening|addurl-failed|init-failed|bind-queue-failed)/, 60_000));
    expect(servers[a]).toBeGreaterThan(0);
    expect(servers[b]).toBeGreaterThan(0);
  });

  it('both serve at once, each at its VM address', async () => {
    for (const vm of VMS.slice(0, 2)) {
      const r = await linuxHttp(ids[vm]!.address!, HTTP, `/hello-${vm}`);
      expect(r.status).toBe(200);
      expect(r.body).toBe(`PID ${servers[vm]} URL http://${ids[vm]!.address}:${HTTP}/hello-${vm}\n`);
      const w = await run([exe('nt-tcpclient.exe'), ids[vm]!.address!, String(HTTP), '--get', '/win']);
      expect(w.stdout).toMatch(new RegExp(`^body PID ${servers[vm]} `, 'm'));
    }
  });
});

describe('a wildcard listener on a port the kernel chose (issue 20, item 7)', () => {
  it("accepts only connections addressed to its VM: not 127.0.0.1, not another VM's address", async () => {
    const [a, b] = VMS as [string, string];
    const s = start([exe('nt-tcpecho.exe'), '0'], a);
    const l = await s.line(/^(listening|bind-failed)/);
    const m = /^listening 0\.0\.0\.0:(\d+) pid (\d+)$/.exec(l);
    expect(m, l).not.toBeNull();
    const port = Number(m![1]);
    // addressed to the VM: reaches it (the line the echo service sends first names its pid)
    expect(await linuxTcpFirstLine(ids[a]!.address!, port)).toMatch(new RegExp(`^PID ${m![2]} `));
    // the host's loopback and another VM's address on the same port: the kernel drops the SYN
    for (const addr of ['127.0.0.1', ids[b]!.address!]) expect(await linuxTcpReaches(addr, port), addr).not.toBe('connected');
    // a client in the VM still reaches it at 127.0.0.1 (the hook sends that to the VM's address)
    const vc = await run([exe('nt-tcpclient.exe'), '127.0.0.1', String(port)], a);
    expect(vc.stdout).toMatch(new RegExp(`^greeting PID ${m![2]} `, 'm'));
    s.proc.kill();
  });
});

describe('binding', () => {
  it("a VM cannot bind another VM's address, TCP or UDP, and can bind its own", async () => {
    const [a, b] = VMS as [string, string];
    for (const proto of ['tcp', 'udp']) {
      const r = await run([exe('nt-bindprobe.exe'), proto, ids[b]!.address!, '27300'], a);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stdout).toMatch(/^bind-failed 10013$/m); // WSAEACCES
    }
    const own = await run([exe('nt-bindprobe.exe'), 'tcp', ids[a]!.address!, '27300'], a);
    expect(own.stdout).toMatch(new RegExp(`^bound ${ids[a]!.address!.replace(/\./g, '\\.')}:27300$`, 'm'));
  });

  it("refuses IPv6 wildcard binds and loopback connects, which would be the host's", async () => {
    const [a] = VMS as [string];
    const bind = await run([exe('nt-bindprobe.exe'), 'tcp', '::', '27301'], a);
    expect(bind.stdout).toMatch(/^bind-failed 10013$/m);
    const conn = await run([exe('nt-tcpclient.exe'), '::1', String(TCP)], a);
    expect(conn.stdout).toMatch(/^connect-failed 10013$/m);
  });

  it('a VM listener behind a host wildcard listener fails with WSAEADDRINUSE (Linux rule)', async () => {
    const h = start([exe('nt-tcpecho.exe'), '27400']);
    await h.line(/^listening 0\.0\.0\.0:27400/);
    const r = await run([exe('nt-tcpecho.exe'), '27400'], VMS[0]);
    expect(r.stdout).toMatch(/^bind-failed 10048$/m);
  });
});
