// Network identity of a VM (docs/network.md): the pure parts. Address allocation in
// 127.77.0.0/16, --ip and --port-map validation, the `net ...` rule lines the hook
// reads (native/hook/net.c), conflict explanations, and listening endpoints per VM.
import { UsageError } from '../errors.js';

export type Proto = 'tcp' | 'udp';
export interface PortMapping {
  proto: Proto;
  /** the port the program in the VM uses */
  from: number;
  /** the port it really is on the host */
  to: number;
}
export interface NetIdentity {
  address?: string;
  portMap: PortMapping[];
}

/** Where default VM addresses come from: loopback on Windows and Linux alike. */
export const NET_RANGE = { base: [127, 77], first: '127.77.0.2', last: '127.77.255.254' } as const;
/** Wine binds this loopback address as INADDR_ANY (server/sock.c magic_loopback_addr). */
const WINE_MAGIC_LOOPBACK = '127.12.34.56';

export function parseIPv4(s: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1]!.length > 1 && m[i + 1]!.startsWith('0')))) return undefined;
  return parts;
}

/** Why addr cannot be a VM's address, or undefined when it can (same rules as net.c). */
export function addressProblem(addr: string): string | undefined {
  const a = parseIPv4(addr);
  if (!a) return `${JSON.stringify(addr)} is not an IPv4 address (a.b.c.d)`;
  if (a[0] !== 127) return `${addr} is not a loopback address: a VM's address must be in 127.0.0.0/8`;
  if (addr === '127.0.0.1') return `127.0.0.1 is the host's loopback address, which every VM maps to its own`;
  if (a[1] === 0 && a[2] === 0 && a[3] === 0) return `127.0.0.0 is the network address of 127.0.0.0/8`;
  if (a[3] === 255) return `${addr} ends in .255, a broadcast address in most masks`;
  if (a[3] === 0) return `${addr} ends in .0, a network address in most masks (127.77.0.0 is the network of svcdup's range)`;
  if (addr === WINE_MAGIC_LOOPBACK) return `${addr} is Wine's magic loopback address, which Wine binds as 0.0.0.0`;
  return undefined;
}

export function validateAddress(addr: string): string {
  const p = addressProblem(addr);
  if (p) throw new UsageError(`--ip: ${p}`);
  return addr;
}

const toInt = (a: number[]): number => ((a[0]! << 24) >>> 0) + (a[1]! << 16) + (a[2]! << 8) + a[3]!;
const fromInt = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** The first address of 127.77.0.0/16 (from 127.77.0.2, skipping .0 and .255) not in used. */
export function nextFreeAddress(used: Iterable<string>): string {
  const taken = new Set(used);
  const first = toInt(parseIPv4(NET_RANGE.first)!);
  const last = toInt(parseIPv4(NET_RANGE.last)!);
  for (let n = first; n <= last; n++) {
    const low = n & 255;
    if (low === 0 || low === 255) continue;
    const a = fromInt(n);
    if (!taken.has(a)) return a;
  }
  throw new UsageError(`no free address left in 127.77.0.0/16: give the VM one with --ip`);
}

function parsePort(s: string, what: string): number {
  if (!/^\d{1,5}$/.test(s)) throw new UsageError(`--port-map: ${what} ${JSON.stringify(s)} is not a port number`);
  const n = Number(s);
  if (n < 1 || n > 65535) throw new UsageError(`--port-map: ${what} ${n} is out of range 1-65535`);
  return n;
}

/** "80:8081,udp/53:5353" (protocol tcp unless given). Rejects duplicates in either column. */
export function parsePortMap(spec: string): PortMapping[] {
  const out: PortMapping[] = [];
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (!item) throw new UsageError(`--port-map: empty item in ${JSON.stringify(spec)}`);
    const m = /^(?:(tcp|udp)\/)?([^:]+):(.+)$/i.exec(item);
    if (!m) throw new UsageError(`--port-map: ${JSON.stringify(item)} is not [tcp/|udp/]PORT:HOSTPORT`);
    const proto = (m[1]?.toLowerCase() ?? 'tcp') as Proto;
    const from = parsePort(m[2]!, 'port');
    const to = parsePort(m[3]!, 'host port');
    if (out.some((x) => x.proto === proto && x.from === from)) throw new UsageError(`--port-map: ${proto} port ${from} is mapped twice`);
    if (out.some((x) => x.proto === proto && x.to === to)) throw new UsageError(`--port-map: two ${proto} ports map to host port ${to}`);
    out.push({ proto, from, to });
  }
  return out;
}

/** VmRecord.portMap spelling: { "tcp/80": 8081 }. */
export function portMapToRecord(maps: PortMapping[]): Record<string, number> {
  return Object.fromEntries(maps.map((m) => [`${m.proto}/${m.from}`, m.to]));
}
export function portMapFromRecord(rec: Record<string, number>): PortMapping[] {
  return Object.entries(rec).map(([k, to]) => {
    const [proto, from] = k.split('/') as [Proto, string];
    return { proto, from: Number(from), to };
  });
}

export interface VmNet {
  name: string;
  address?: string;
  portMap: PortMapping[];
}

/**
 * The identity of a new VM from `vm create` options: --ip, else --port-map alone
 * (the VM keeps the host's addresses, ports are mapped), else the next free address.
 * Checks it against the other VMs: no shared address, no shared host port.
 */
export function planIdentity(opts: { ip?: string; portMap?: string }, others: VmNet[]): NetIdentity {
  const portMap = opts.portMap ? parsePortMap(opts.portMap) : [];
  let address: string | undefined;
  if (opts.ip) {
    address = validateAddress(opts.ip);
    const owner = others.find((v) => v.address === address);
    if (owner) throw new UsageError(`--ip: ${address} is already VM ${owner.name}'s address`);
  } else if (!opts.portMap) {
    address = nextFreeAddress(others.flatMap((v) => (v.address ? [v.address] : [])));
  }
  for (const m of portMap)
    for (const o of others) {
      const clash = o.portMap.find((x) => x.proto === m.proto && x.to === m.to);
      // two VMs mapping to the same host port collide unless both have their own address
      if (clash && !(address && o.address)) throw new UsageError(`--port-map: ${m.proto} host port ${m.to} is already VM ${o.name}'s (its port ${clash.from})`);
    }
  return address ? { address, portMap } : { portMap };
}

/** The lines of the VM's rules text that native/hook/net.c reads. */
export function netRules(id: NetIdentity): string {
  let s = id.address ? `net address ${id.address}\n` : '';
  for (const m of id.portMap) s += `net portmap ${m.proto} ${m.from} ${m.to}\n`;
  return s;
}

const NOT_NET = 'not a net rule (net address A, net portmap tcp|udp PORT PORT2)';

/**
 * One `net ...` line of a VM's rules text, parsed as the hook does (native/hook/policy.c
 * net_line: words split at spaces and tabs, an address of up to 3 digits a part, leading
 * zeros allowed), into `id`. Returns why the hook would refuse it, or undefined. The one
 * parser of net lines in TypeScript: parseRules (src/vm/policy.ts) and parseNetRules use it.
 */
export function parseNetLine(line: string, id: NetIdentity): string | undefined {
  const w = line.split(/[ \t]+/).filter(Boolean);
  if (w.length > 6) return NOT_NET;
  const port = (s: string | undefined) => (s && /^\d{1,5}$/.test(s) && +s >= 1 && +s <= 65535 ? +s : 0);
  if (w.length === 3 && w[1]!.toLowerCase() === 'address') {
    if (id.address) return 'a second net address';
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(w[2]!);
    const a = m ? m.slice(1).map(Number) : [];
    if (!m || a.some((x) => x > 255)) return 'net address: not an IPv4 address';
    if (a[0] !== 127 || (a[1] === 0 && a[2] === 0 && (a[3] === 0 || a[3] === 1)) || a[3] === 255 || (a[1] === 12 && a[2] === 34 && a[3] === 56))
      return 'net address: must be in 127.0.0.0/8, not 127.0.0.0, 127.0.0.1, x.x.x.255 or 127.12.34.56';
    id.address = a.join('.');
    return undefined;
  }
  if (w.length === 5 && w[1]!.toLowerCase() === 'portmap') {
    const proto = w[2]!.toLowerCase();
    const from = port(w[3]);
    const to = port(w[4]);
    if ((proto !== 'tcp' && proto !== 'udp') || !from || !to) return 'net portmap: tcp|udp PORT PORT2, ports 1 to 65535';
    if (id.portMap.length === 64) return 'net portmap: too many';
    if (id.portMap.some((m) => m.proto === proto && (m.from === from || m.to === to))) return 'net portmap: a port mapped twice';
    id.portMap.push({ proto, from, to });
    return undefined;
  }
  return NOT_NET;
}

/** The net lines of a rules text parsed back (what the hook accepts; anything else is an error, as in the hook). */
export function parseNetRules(text: string): NetIdentity {
  const id: NetIdentity = { portMap: [] };
  text.split('\n').forEach((line, i) => {
    const l = line.replace(/[\r ]+$/, '');
    if (!l.startsWith('net ')) return;
    const why = parseNetLine(l, id);
    if (why) throw new UsageError(`rules line ${i + 1}: ${JSON.stringify(l)} is not a valid net rule: ${why}`);
  });
  return id;
}

/** Where a VM's program listening on port `port` is really reachable. */
export function effectiveEndpoint(id: NetIdentity, proto: Proto, port: number, bound = '0.0.0.0'): string {
  const m = id.portMap.find((x) => x.proto === proto && x.from === port);
  return `${id.address ?? bound}:${m ? m.to : port}`;
}

export type Platform = 'wine' | 'windows';

/**
 * Why a VM's listener could not bind, in words, with the fix. `hostWildcard` says a
 * host process listens on 0.0.0.0 (or [::]) at the same port.
 */
export function explainBindConflict(c: { vm: string; proto: Proto; address: string; port: number; platform: Platform; hostWildcard: boolean }): string {
  const ep = `${c.address}:${c.port}`;
  if (c.hostWildcard && c.platform === 'wine')
    return (
      `VM ${c.vm} cannot listen on ${c.proto} ${ep}: a host process listens on 0.0.0.0:${c.port}. ` +
      `On Linux (so under Wine) a listener on the wildcard address takes the port on every address, ` +
      `127.77.x.y included; Windows would allow both. Fix: bind the host instance to 127.0.0.1 ` +
      `(then the host's 127.0.0.1:${c.port} and the VM's ${ep} coexist), or give VM ${c.vm} a port map ` +
      `(svcdup vm create ${c.vm} --port-map ${c.proto === 'udp' ? 'udp/' : ''}${c.port}:<free port>).`
    );
  if (c.hostWildcard)
    return (
      `VM ${c.vm} cannot listen on ${c.proto} ${ep}: a host process holds 0.0.0.0:${c.port} exclusively ` +
      `(SO_EXCLUSIVEADDRUSE). Fix: bind the host instance to a specific address, or give VM ${c.vm} a port map.`
    );
  return `VM ${c.vm} cannot listen on ${c.proto} ${ep}: another process already listens there. Stop it or give VM ${c.vm} a port map.`;
}

/** The reverse case: a host listener on the wildcard fails because VMs hold the port. */
export function explainHostConflict(port: number, vms: string[], platform: Platform): string {
  return platform === 'wine'
    ? `A host listener on 0.0.0.0:${port} fails while VM ${vms.join(', ')} listen${vms.length === 1 ? 's' : ''} on 127.77.x.y:${port}: ` +
        `Linux (so Wine) refuses a wildcard bind when any address holds the port. Bind the host instance to 127.0.0.1.`
    : `A host listener on 0.0.0.0:${port} conflicts with VM ${vms.join(', ')} only with SO_EXCLUSIVEADDRUSE; bind it to a specific address.`;
}

export interface Endpoint {
  proto: Proto;
  local: string;
  vm?: string;
  /** the port as the program in the VM sees it, on whichever address it bound */
  inVm?: string;
}

/**
 * Attribute listening sockets to VMs. `ssOutput` is `ss -H -ltun` (Linux host) output;
 * an endpoint belongs to a VM when it is on the VM's address or on a host port of its port map.
 */
export function listeningEndpoints(ssOutput: string, vms: VmNet[]): Endpoint[] {
  const out: Endpoint[] = [];
  for (const line of ssOutput.split('\n')) {
    const w = line.trim().split(/\s+/);
    if (w.length < 5 || !/^(tcp|udp)$/.test(w[0]!)) continue;
    const proto = w[0] as Proto;
    const local = w[4]!;
    const i = local.lastIndexOf(':');
    const host = local
      .slice(0, i)
      .replace(/^\[|\]$/g, '')
      .replace(/%.*$/, '');
    const port = Number(local.slice(i + 1));
    const ep: Endpoint = { proto, local: `${host.includes(':') ? `[${host}]` : host}:${port}` };
    for (const vm of vms) {
      const mapped = vm.portMap.find((m) => m.proto === proto && m.to === port);
      const onAddr = vm.address !== undefined && host === vm.address;
      if (onAddr || (mapped && (!vm.address || onAddr))) {
        ep.vm = vm.name;
        ep.inVm = `*:${mapped ? mapped.from : port}`;
        break;
      }
    }
    out.push(ep);
  }
  return out;
}
