// `svcdup analyze SERVICE --verify`: the prediction checked against a real duplicate. A
// scratch VM (with the rule a `duplicable-with-policy` verdict names), `dup --start`, then:
// does it run, does each predicted TCP port answer at the VM's address, is each predicted
// pipe served inside the VM by one of the VM's processes; then the VM is removed, whatever
// happened. Prediction and outcome side by side, and whether they agree.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { ExecResult, ServiceStatus } from '../backend/types.js';
import { SvcdupError } from '../errors.js';
import { portMapFromRecord } from '../net/index.js';
import { scratchVmName } from './io.js';
import type { AnalyzeReport, VerdictKind } from './report.js';
import { REFUSED_VERDICTS } from './report.js';

export interface VerifyVms {
  readonly backend: { toWindowsPath(p: string): string; paths: { nativeDir: string } };
  readonly store: { get(name: string): unknown };
  create(name: string, policyFile?: string, net?: { ip?: string; portMap?: string }): Promise<{ address?: string | null; portMap: Record<string, number> }>;
  remove(name: string): Promise<{ killed: number; undup: string[] }>;
  run(name: string, argv: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  ps(name?: string): Promise<{ pid: number; vm: string }[]>;
}
export interface VerifyDups {
  dup(service: string, vm: string, opts: { start?: boolean; force?: boolean }): Promise<unknown>;
  start(service: string, vm: string): Promise<ServiceStatus>;
}

export interface VerifyCheck {
  what: string;
  predicted: string;
  observed: string;
  agree: boolean;
}

export interface VerifyResult {
  vm: string;
  verdict: VerdictKind;
  /** the rule the VM was created with (duplicable-with-policy) */
  rule?: string;
  started: boolean;
  error?: string;
  checks: VerifyCheck[];
  /** every check agrees */
  agree: boolean;
  cleanup: { removed: string[]; processesEnded: number };
}

/** Pipes the service serves, as a client names them: static names, RPC endpoints (Wine: ncalrpc is `lrpc\EP`). */
export function predictedPipes(report: AnalyzeReport): string[] {
  const out = new Set<string>();
  for (const n of report.binary?.names ?? []) {
    if (n.category === 'pipe' && (n.role === 'serves' || n.role === 'creates') && n.name && !n.detail.prefixOnly && !n.detail.server && !/%/.test(n.name))
      out.add(n.name);
  }
  for (const e of report.binary?.rpc.endpoints ?? []) {
    if (e.protseq === 'ncacn_np') out.add(e.endpoint.replace(/^\\?pipe\\/i, ''));
    else if (e.protseq === 'ncalrpc' && /^[\w.$-]+$/.test(e.endpoint)) out.add(`lrpc\\${e.endpoint}`);
  }
  return [...out].filter((p) => !/^svcdup\./i.test(p)).slice(0, 20);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One TCP connection: the first line the server sends (or '' when it sends none), or why it failed. */
function tcpProbe(host: string, port: number, ms = 3000): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    let data = '';
    const s = connect({ host, port });
    const done = (r: { ok: boolean; detail: string }): void => {
      clearTimeout(t);
      s.destroy();
      resolve(r);
    };
    const t = setTimeout(() => done({ ok: true, detail: `connected${data ? `: ${data.split('\n')[0]}` : ''}` }), ms);
    s.on('connect', () => setTimeout(() => done({ ok: true, detail: `connected${data ? `: ${data.split('\n')[0]!.trim()}` : ''}` }), 300));
    s.on('data', (d) => (data += d.toString('utf8')));
    s.on('error', (e) => done({ ok: false, detail: (e as Error).message }));
  });
}

export async function verifyService(
  report: AnalyzeReport,
  vms: VerifyVms,
  dups: VerifyDups,
  opts: { progress?: (note: string) => void } = {},
): Promise<VerifyResult> {
  const svc = report.service;
  if (!svc) throw new SvcdupError('--verify needs an installed service, not a file', 2);
  const note = opts.progress ?? (() => {});
  const verdict = report.verdict.kind;
  const vm = scratchVmName((n) => !!vms.store.get(n)).replace(/^analyze-/, 'verify-');
  const portMapRule = report.verdict.rules.map((r) => /--port-map (\S+)/.exec(r)?.[1]).find(Boolean);
  const checks: VerifyCheck[] = [];
  let started = false;
  let error: string | undefined;
  let cleanup = { removed: [] as string[], processesEnded: 0 };
  note(`creating scratch VM ${vm}${portMapRule ? ` with --port-map ${portMapRule}` : ''}`);
  const rec = await vms.create(vm, undefined, portMapRule ? { portMap: portMapRule } : {});
  let failure: unknown;
  try {
    note(`dup ${svc.name} --vm ${vm} --start`);
    try {
      // forced: what really happens is the point, also for what dup would refuse
      await dups.dup(svc.name, vm, { start: true, force: true });
      started = true;
    } catch (err) {
      if (!(err instanceof SvcdupError)) throw err;
      error = err.message.split('\n')[0];
    }
    const expectRuns = !REFUSED_VERDICTS.includes(verdict);
    checks.push({
      what: 'runs',
      predicted: expectRuns ? 'yes' : `no (${verdict})`,
      observed: started ? 'RUNNING' : `no: ${error}`,
      agree: started === expectRuns,
    });
    if (started) {
      const address = rec.address ?? '127.0.0.1';
      const map = new Map(
        portMapFromRecord(rec.portMap)
          .filter((m) => m.proto === 'tcp')
          .map((m) => [m.from, m.to]),
      );
      for (const p of report.footprint?.ports ?? []) {
        const real = map.get(p.port) ?? p.port;
        let r = await tcpProbe(address, real);
        for (let i = 0; !r.ok && i < 10; i++) await sleep(300), (r = await tcpProbe(address, real));
        checks.push({
          what: `tcp ${p.port}`,
          predicted: `answers at ${address}:${real}${real !== p.port ? ` (mapped from ${p.port})` : ''}`,
          observed: r.ok ? r.detail : `no answer: ${r.detail}`,
          agree: r.ok,
        });
      }
      const pipecall = join(vms.backend.paths.nativeDir, 'svcdup-pipecall.exe');
      const pipes = predictedPipes(report);
      if (pipes.length && !existsSync(pipecall))
        checks.push({ what: 'pipes', predicted: pipes.join(', '), observed: `not checked: ${pipecall} is not built (make -C native tests)`, agree: true });
      else {
        for (const pipe of pipes) {
          let out: ExecResult = { code: -1, stdout: '', stderr: '' };
          for (let i = 0; i < 10; i++) {
            out = await vms.run(vm, [pipecall, '--server-pid', pipe], { timeoutMs: 20_000 });
            if (out.code === 0) break;
            await sleep(300);
          }
          const pid = Number(out.stdout.trim());
          const inVm = out.code === 0 && (await vms.ps(vm)).some((p) => p.pid === pid);
          checks.push({
            what: `pipe ${pipe}`,
            predicted: "served in the VM by the VM's instance",
            observed:
              out.code === 0
                ? `served by pid ${pid}${inVm ? ', a process of the VM' : ', NOT a process of the VM'}`
                : `not served: ${(out.stderr || out.stdout).trim().split('\n')[0]}`,
            agree: inVm,
          });
        }
      }
    }
  } catch (err) {
    failure = err;
  } finally {
    note(`removing scratch VM ${vm}`);
    try {
      const r = await vms.remove(vm);
      cleanup = { removed: r.undup, processesEnded: r.killed };
    } catch (err) {
      const msg = `the scratch VM ${vm} could not be removed: ${(err as Error).message}; remove it with: svcdup vm rm ${vm}`;
      if (failure === undefined) failure = new SvcdupError(msg);
    }
  }
  if (failure !== undefined) throw failure;
  return {
    vm,
    verdict,
    ...(portMapRule ? { rule: `--port-map ${portMapRule}` } : {}),
    started,
    ...(error ? { error } : {}),
    checks,
    agree: checks.every((c) => c.agree),
    cleanup,
  };
}

export function renderVerify(r: VerifyResult): string {
  const head = ['CHECK', 'PREDICTED', 'OBSERVED', 'AGREE'];
  const rows = r.checks.map((c) => [c.what, c.predicted, c.observed, c.agree ? 'yes' : 'NO']);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const fmt = (row: string[]): string =>
    row
      .map((c, i) => c.padEnd(w[i]!))
      .join('  ')
      .trimEnd();
  return (
    [
      `verify: ${r.verdict} in scratch VM ${r.vm}${r.rule ? ` (${r.rule})` : ''} (removed: ${r.cleanup.removed.join(', ') || 'nothing registered'})`,
      fmt(head),
      ...rows.map(fmt),
      r.agree ? 'prediction and outcome agree' : 'prediction and outcome DISAGREE',
    ].join('\n') + '\n'
  );
}
