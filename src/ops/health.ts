// Health checks (docs/operate.md, "Health checks"): `dup --health tcp:PORT|http:URL|pipe:NAME|cmd:PROGRAM
// --interval S --retries N`. Parsing and the check against the VM's network identity are pure; a
// probe reaches the duplicate where the VM's processes reach it: its address and mapped port, its
// VM's pipe name, a program run inside the VM.
import { connect } from 'node:net';
import type { HostBackend } from '../backend/types.js';
import { UsageError } from '../errors.js';
import type { VmRecord } from '../state/vms.js';
import { pipeNameInVm } from '../vm/names.js';

export interface HealthCheck {
  /** as given: tcp:80, http://..., pipe:NAME, cmd:PROGRAM ARGS */
  check: string;
  /** seconds between probes */
  interval: number;
  /** failed probes in a row that make it unhealthy */
  retries: number;
}

export type Probe =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'http'; url: string }
  | { kind: 'pipe'; name: string }
  | { kind: 'cmd'; argv: string[] };

export const DEFAULT_INTERVAL_S = 10;
export const DEFAULT_RETRIES = 3;

function intIn(flag: string, text: string | undefined, dflt: number, min: number, max: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new UsageError(`${flag} "${text}": give a whole number from ${min} to ${max}`);
  return n;
}

/** `--health SPEC --interval S --retries N` as a check; bad input is one line naming the value. */
export function parseHealth(spec: string, interval?: string, retries?: string): HealthCheck {
  const m = /^(tcp|http|https|pipe|cmd):(.+)$/s.exec(spec.trim());
  if (!m) throw new UsageError(`--health "${spec}": give tcp:PORT, http:URL, pipe:NAME or cmd:PROGRAM`);
  const check: HealthCheck = {
    check: spec.trim(),
    interval: intIn('--interval', interval, DEFAULT_INTERVAL_S, 1, 3600),
    retries: intIn('--retries', retries, DEFAULT_RETRIES, 1, 100),
  };
  if (m[1] === 'tcp' && !/^\d{1,5}$/.test(m[2]!)) throw new UsageError(`--health "${spec}": the port must be a number from 1 to 65535`);
  if (m[1] === 'pipe' && !/^[^\\/:*?"<>|\s]{1,200}$/.test(m[2]!.replace(/^\\\\\.\\pipe\\/i, '')))
    throw new UsageError(`--health "${spec}": a pipe name has no \\ / : * ? " < > | or spaces`);
  return check;
}

/** The stored form (dup_runtime.health). */
export const healthText = (h: HealthCheck): string => JSON.stringify(h);
export function healthFromText(text: string | null): HealthCheck | undefined {
  if (!text) return undefined;
  try {
    const h = JSON.parse(text) as HealthCheck;
    return typeof h.check === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Where VM `vm`'s port is reached from the host: its address and mapped port, or throws naming the value. */
function vmEndpoint(spec: string, vm: VmRecord, port: number): { host: string; port: number } {
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`health check ${spec}: port ${port} is not a port (1 to 65535)`);
  const mapped = vm.portMap[`tcp/${port}`];
  if (vm.address) return { host: vm.address, port: mapped ?? port };
  if (mapped !== undefined) return { host: '127.0.0.1', port: mapped };
  throw new UsageError(
    `health check ${spec}: VM ${vm.name} does not own port ${port} (it has no address of its own and no port map for tcp ${port}; ` +
      `a listener there would be the host's: give the VM an address or --port-map ${port}:PORT)`,
  );
}

/** The check made concrete for VM `vm`: refused when it would reach something the VM does not own. */
export function resolveProbe(h: HealthCheck, vm: VmRecord): Probe {
  const i = h.check.indexOf(':');
  const kind = h.check.slice(0, i);
  const rest = h.check.slice(i + 1);
  if (kind === 'tcp') return { kind: 'tcp', ...vmEndpoint(h.check, vm, Number(rest)) };
  if (kind === 'pipe') return { kind: 'pipe', name: pipeNameInVm(vm.name, rest) };
  if (kind === 'cmd') {
    const argv = rest.match(/"[^"]*"|\S+/g)?.map((a) => a.replace(/^"(.*)"$/, '$1')) ?? [];
    if (!argv.length) throw new UsageError(`health check ${h.check}: no program given`);
    return { kind: 'cmd', argv };
  }
  // http:URL (http:http://... or the URL itself)
  let url: URL;
  try {
    url = new URL(kind === 'http' && !/^https?:\/\//.test(rest) ? `http://${rest.replace(/^\/\//, '')}` : kind === 'https' ? h.check : rest);
  } catch {
    throw new UsageError(`health check ${h.check}: not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`health check ${h.check}: only http and https URLs`);
  const local = ['localhost', '127.0.0.1', '0.0.0.0', '+', '*'];
  if (!local.includes(url.hostname) && url.hostname !== vm.address)
    throw new UsageError(`health check ${h.check}: ${url.hostname} is not VM ${vm.name}'s (give localhost, 127.0.0.1${vm.address ? ` or ${vm.address}` : ''})`);
  const ep = vmEndpoint(h.check, vm, Number(url.port || (url.protocol === 'https:' ? 443 : 80)));
  url.hostname = ep.host;
  url.port = String(ep.port);
  return { kind: 'http', url: url.toString() };
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function httpProbe(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await r.body?.cancel();
    return r.status >= 200 && r.status < 400;
  } catch {
    return false;
  }
}

export interface ProbeHost {
  backend: HostBackend;
  /** run argv inside the VM (svcdup run), its exit code */
  runInVm(vm: string, argv: string[], timeoutMs: number): Promise<number>;
}

/** One probe: true when the duplicate answered within `timeoutMs`. */
export async function probe(p: Probe, vm: string, host: ProbeHost, timeoutMs: number): Promise<boolean> {
  switch (p.kind) {
    case 'tcp':
      return tcpProbe(p.host, p.port, timeoutMs);
    case 'http':
      return httpProbe(p.url, timeoutMs);
    case 'pipe':
      try {
        await host.backend.call('pipe.wait', { name: p.name, timeoutMs: Math.max(1, Math.min(timeoutMs, 60_000)) });
        return true;
      } catch {
        return false;
      }
    case 'cmd':
      try {
        return (await host.runInVm(vm, p.argv, timeoutMs)) === 0;
      } catch {
        return false;
      }
  }
}
