// Network identity of duplicates, end to end through the CLI: a TCP and UDP test service
// on one fixed port on the host and duplicated into 3 VMs (svcdup vm create --ip), each
// VM's client reaching its own instance, host and Linux clients reaching each VM's
// address; an HTTP Server API service on http://+:PORT/ duplicated into 2 VMs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/backend/types.js';
import { nativeExe, openTestHost, type TestHost } from './helpers.js';
import { cliFor, imageOf } from './cli-helpers.js';
import { linuxHttp, linuxTcpFirstLine, linuxUdp } from './net-clients.js';

let host: TestHost;
const SVC = 'svcdup-testsvc';
const PORT = 7300;
const VMS = { n1: '127.77.201.2', n2: '127.77.201.3', n3: '127.77.201.4' } as const;

const { cli, cliJson } = cliFor(() => host.paths);

const linuxGreeting = (address: string): Promise<string> => linuxTcpFirstLine(address, PORT);

beforeAll(async () => {
  host = await openTestHost('net-dup');
  const b = host.backend;
  // On Linux (so under Wine) a host wildcard listener would take the port on every 127.x
  // address: the host instance binds loopback (docs/network.md).
  await b.call('scm.create', { name: SVC, imagePath: `${nativeExe(b, 'svcdup-testsvc.exe')} --tcp ${PORT} --udp ${PORT} --bind 127.0.0.1` });
  await b.call('scm.start', { name: SVC });
  await b.close();
  for (const [vm, ip] of Object.entries(VMS)) expect(cli(['vm', 'create', vm, '--ip', ip]).status).toBe(0);
});

afterAll(async () => {
  if (!host) return;
  for (const vm of Object.keys(VMS)) cli(['vm', 'rm', vm]);
  await host.dispose();
});

describe('a TCP service on one port, on the host and in 3 VMs', () => {
  const pids: Record<string, number> = {};

  it('each duplicate listens at its VM address, the host instance at 127.0.0.1', async () => {
    const hostStatus = await host.backend.call('scm.status', { name: SVC });
    expect(hostStatus.state).toBe('RUNNING');
    pids.host = hostStatus.pid;
    for (const vm of Object.keys(VMS)) {
      const out = cliJson<{ status: ServiceStatus }>(['dup', SVC, '--vm', vm, '--relayed', '--start']);
      expect(out.status.state).toBe('RUNNING');
      pids[vm] = (await imageOf(host.backend, out.status))!.pid;
    }
    const vms = cliJson<{ name: string; address: string; endpoints: { proto: string; local: string }[] }[]>(['vm', 'ls']);
    for (const [vm, ip] of Object.entries(VMS)) {
      const v = vms.find((x) => x.name === vm)!;
      expect(v.address).toBe(ip);
      expect(v.endpoints).toContainEqual(expect.objectContaining({ proto: 'tcp', local: `${ip}:${PORT}` }));
    }
  });

  it("a client in each VM connecting to 127.0.0.1 reaches its own VM's instance", () => {
    for (const vm of Object.keys(VMS)) {
      const r = cli(['run', '--vm', vm, '--', nativeExe(host.backend, 'nt-tcpclient.exe'), '127.0.0.1', String(PORT)]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^greeting PID ${pids[vm]} SERVICE ${SVC}$`, 'm'));
      // the program sees the address it asked for
      expect(r.stdout).toMatch(new RegExp(`peer 127\\.0\\.0\\.1:${PORT}`));
    }
  });

  it("a host client reaches the host's instance at 127.0.0.1 and each VM's at its address", () => {
    const h = cli(['host', 'exec', '--', nativeExe(host.backend, 'nt-tcpclient.exe'), '127.0.0.1', String(PORT)]);
    expect(h.stdout).toMatch(new RegExp(`^greeting PID ${pids.host} `, 'm'));
    for (const [vm, ip] of Object.entries(VMS)) {
      const r = cli(['host', 'exec', '--', nativeExe(host.backend, 'nt-tcpclient.exe'), ip, String(PORT)]);
      expect(r.stdout).toMatch(new RegExp(`^greeting PID ${pids[vm]} `, 'm'));
    }
  });

  it("a Linux client reaches each VM's instance at its address", async () => {
    for (const [vm, ip] of Object.entries(VMS)) expect(await linuxGreeting(ip)).toBe(`PID ${pids[vm]} SERVICE ${SVC}`);
    expect(await linuxGreeting('127.0.0.1')).toBe(`PID ${pids.host} SERVICE ${SVC}`);
  });

  it('the same for UDP: each VM answers at its address, the host at 127.0.0.1', async () => {
    for (const [vm, ip] of Object.entries(VMS)) {
      const r = await linuxUdp(ip, PORT, `hi ${vm}`);
      expect(r.text).toBe(`PID ${pids[vm]} SERVICE ${SVC} DATA hi ${vm}`);
      expect(r.from).toBe(`${ip}:${PORT}`);
      const inside = cli(['run', '--vm', vm, '--', nativeExe(host.backend, 'nt-udpclient.exe'), '127.0.0.1', String(PORT), 'inside']);
      expect(inside.stdout).toMatch(new RegExp(`^reply PID ${pids[vm]} SERVICE ${SVC} DATA inside$`, 'm'));
    }
    expect((await linuxUdp('127.0.0.1', PORT, 'h')).text).toBe(`PID ${pids.host} SERVICE ${SVC} DATA h`);
  });

  it('an HTTP Server API service on http://+:PORT/ duplicated into 2 VMs: both serve at once at their VM endpoints', async () => {
    const b = host.backend;
    const HTTP = PORT + 100;
    // not started on the host: a host registration of +:PORT would catch every VM's requests (docs/network.md)
    await b.call('scm.create', { name: 'svcdup-testsvc-b', imagePath: `${nativeExe(b, 'svcdup-testsvc-multi.exe')} --http http://+:${HTTP}/`, type: 0x20 });
    const http: Record<string, number> = {};
    for (const vm of ['n1', 'n2']) {
      const out = cliJson<{ status: ServiceStatus }>(['dup', 'svcdup-testsvc-b', '--vm', vm, '--start']);
      http[vm] = (await imageOf(host.backend, out.status))!.pid;
    }
    for (const vm of ['n1', 'n2'] as const) {
      const r = await linuxHttp(VMS[vm], HTTP, `/hello-${vm}`);
      expect(r.status).toBe(200);
      expect(r.body).toBe(`PID ${http[vm]} SERVICE svcdup-testsvc-b URL http://${VMS[vm]}:${HTTP}/hello-${vm}\n`);
    }
    for (const vm of ['n1', 'n2']) expect(cli(['undup', 'svcdup-testsvc-b', '--vm', vm]).status).toBe(0);
  });

  it('a duplicate blocked by a host wildcard listener fails, and svcdup says why and names the fix', async () => {
    const b = host.backend;
    const P2 = PORT + 1;
    await b.call('scm.create', { name: 'svcdup-testsvc-a', imagePath: `${nativeExe(b, 'svcdup-testsvc-multi.exe')} --tcp ${P2}`, type: 0x20 });
    await b.call('scm.start', { name: 'svcdup-testsvc-a' });
    const r = cli(['dup', 'svcdup-testsvc-a', '--vm', 'n1', '--start']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/stopped while starting: Win32 exit code 1066, service exit code 10048/);
    expect(r.stderr).toMatch(/^10048 is WSAEADDRINUSE: the port is taken\.$/m);
    // the conflict itself, as explainBindConflict words it (src/dup/why.ts finds the host instance's wildcard port)
    expect(r.stderr).toMatch(new RegExp(`^VM n1 cannot listen on tcp 127\\.77\\.201\\.2:${P2}: a host process listens on 0\\.0\\.0\\.0:${P2}\\.`, 'm'));
    expect(r.stderr).toMatch(
      new RegExp(`bind the host instance to 127\\.0\\.0\\.1 .*or give VM n1 a port map \\(svcdup vm create n1 --port-map ${P2}:<free port>\\)`),
    );
    expect(cli(['undup', 'svcdup-testsvc-a', '--vm', 'n1']).status).toBe(0);
  });

  it('status and ps name the VMs and their endpoints; vm rm removes them', () => {
    const ps = cli(['ps', '--vm', 'n2']);
    expect(ps.stdout).toMatch(new RegExp(`^n2\\s+tcp\\s+127\\.77\\.201\\.3:${PORT}\\s+\\*:${PORT}$`, 'm'));
    for (const vm of Object.keys(VMS)) expect(cli(['vm', 'rm', vm]).status).toBe(0);
    expect(cliJson<unknown[]>(['status'])).toEqual([]);
  });
});
