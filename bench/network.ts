// bench/network: the echo service and the HTTP Server API service inside a VM
// (server and client hooked, the client reaching the server through the address
// rewriting) against the same programs natively on the host, in one run.
// Throughput (MiB/s through the echo; MiB/s of 64 KiB HTTP responses on a keep-alive
// connection) and connection latency (connect + first byte; HTTP request on a fresh
// connection: 100 a round, as Wine 8's http.sys stops answering new connections after
// about 900, natively too). Median of 5 alternating rounds. Aim: throughput ratio >= 0.95.
// SVCDUP_NATIVE_DIR points it at another build of the native binaries.
// Usage: npx tsx bench/network.ts [--json]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../src/backend/index.js';
import type { WineBackend } from '../src/backend/wine.js';
import { resolvePaths } from '../src/config.js';
import { netRules } from '../src/net/index.js';
import { nativeDir, templateDir } from '../test/helpers.js';
import { report, round, say } from './lib.js';

const dir = process.env.SVCDUP_NATIVE_DIR ?? nativeDir;
const VM = 'netbench';
const ADDR = '127.77.201.2';
const [ECHO, HTTP_NATIVE, HTTP_VM] = [27800, 27801, 27802];
const ROUNDS = 5;

// a home outside .svcdup-test: a test run elsewhere wipes .svcdup-test/homes at its start
const home = join(tmpdir(), `svcdup-bench-network-${process.pid}`);
mkdirSync(home, { recursive: true });
const paths = { ...resolvePaths({ SVCDUP_HOME: home, SVCDUP_TEMPLATE: templateDir }), nativeDir };
const host = { paths, backend: createBackend({ kind: 'wine', paths }) };
await host.backend.open();
const wine = host.backend as unknown as WineBackend;
const exe = (n: string): string => host.backend.toWindowsPath(join(dir, n));
const rules = join(host.paths.home, `${VM}.rules`);
writeFileSync(rules, netRules({ address: ADDR, portMap: [] }));
const inVm = (argv: string[]): string[] => [exe('svcdup-run.exe'), '--vm', VM, '--policy', host.backend.toWindowsPath(rules), '--', ...argv];
const procs: ChildProcess[] = [];

function serve(argv: string[], ready: RegExp): Promise<void> {
  const p = spawn(wine.wine.loader, argv, { env: wine.env(), stdio: ['pipe', 'pipe', 'ignore'] });
  procs.push(p);
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`not ready: ${argv.join(' ')}: ${out}`)), 60_000);
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

async function measure(argv: string[], re: RegExp): Promise<number> {
  const r = await host.backend.exec(argv, { timeoutMs: 300_000 });
  const m = re.exec(r.stdout);
  if (!m) throw new Error(`${argv.join(' ')}: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  await serve([exe('nt-tcpecho.exe'), String(ECHO), '127.0.0.1'], /^listening/m);
  await serve(inVm([exe('nt-tcpecho.exe'), String(ECHO)]), /^listening/m);
  await serve([exe('nt-httpsrv.exe'), `http://+:${HTTP_NATIVE}/`], /^listening/m);
  await serve(inVm([exe('nt-httpsrv.exe'), `http://+:${HTTP_VM}/`]), /^listening/m);

  type Case = { key: string; name: string; unit: string; higherIsBetter: boolean; native: string[]; vm: string[]; re: RegExp };
  const cases: Case[] = [
    {
      key: 'echoThroughput',
      name: 'echo throughput (256 MiB)',
      unit: 'MiB/s',
      higherIsBetter: true,
      re: /throughput ([\d.]+)/,
      native: [exe('nt-tcpclient.exe'), '127.0.0.1', String(ECHO), '--throughput', '256'],
      vm: inVm([exe('nt-tcpclient.exe'), '127.0.0.1', String(ECHO), '--throughput', '256']),
    },
    {
      key: 'echoConnect',
      name: 'echo connection latency (300)',
      unit: 'us',
      higherIsBetter: false,
      re: /connect_us ([\d.]+)/,
      native: [exe('nt-tcpclient.exe'), '127.0.0.1', String(ECHO), '--connect', '300'],
      vm: inVm([exe('nt-tcpclient.exe'), '127.0.0.1', String(ECHO), '--connect', '300']),
    },
    // in the VM the client names the VM's address: http.sys routes by the Host header
    {
      key: 'httpThroughput',
      name: 'HTTP throughput (2000 x 64 KiB)',
      unit: 'MiB/s',
      higherIsBetter: true,
      re: /http_mibps ([\d.]+)/,
      native: [exe('nt-tcpclient.exe'), '127.0.0.1', String(HTTP_NATIVE), '--http-throughput', '2000', '/size/65536'],
      vm: inVm([exe('nt-tcpclient.exe'), ADDR, String(HTTP_VM), '--http-throughput', '2000', '/size/65536']),
    },
    {
      key: 'httpConnect',
      name: 'HTTP request on a new connection (100)',
      unit: 'us',
      higherIsBetter: false,
      re: /http_connect_us ([\d.]+)/,
      native: [exe('nt-tcpclient.exe'), '127.0.0.1', String(HTTP_NATIVE), '--http-connect', '100', '/x'],
      vm: inVm([exe('nt-tcpclient.exe'), ADDR, String(HTTP_VM), '--http-connect', '100', '/x']),
    },
  ];
  const figures: Record<string, number> = {};
  say(`bench/network: ${ROUNDS} alternating rounds, medians; ratio = VM / native (throughput), native / VM (latency)`);
  for (const c of cases) {
    const n: number[] = [];
    const v: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      n.push(await measure(c.native, c.re));
      v.push(await measure(c.vm, c.re));
    }
    const [mn, mv] = [median(n), median(v)];
    const ratio = c.higherIsBetter ? mv / mn : mn / mv;
    Object.assign(figures, { [`${c.key}Native`]: round(mn, 1), [`${c.key}Vm`]: round(mv, 1), [`${c.key}Ratio`]: round(ratio, 3) });
    say(
      `${c.name.padEnd(40)} native ${mn.toFixed(1).padStart(9)} ${c.unit.padEnd(5)}  VM ${mv.toFixed(1).padStart(9)} ${c.unit.padEnd(5)}  ratio ${ratio.toFixed(3)}`,
    );
  }
  report({ bench: 'network', rounds: ROUNDS, ...figures });
} finally {
  await host.backend.exec([exe('svcdup-run.exe'), '--kill-vm', VM]).catch(() => undefined);
  for (const p of procs) if (p.exitCode === null) p.kill();
  await host.backend.shutdown();
  rmSync(home, { recursive: true, force: true });
}
