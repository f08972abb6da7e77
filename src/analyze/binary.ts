// Static analysis of one PE file: what it imports and exports, which names it hard-codes,
// what its code passes to the APIs that create or open named resources. Pure: bytes in.
import { createHash } from 'node:crypto';
import { KERNEL_MODULES, lookupApi } from './apis.js';
import { classifyArg, classifyString, endpointFits, parseRgsClasses, type ResourceCategory } from './classify.js';
import { findServiceTables, pointerAt, scanCode, stringAtRva, type CallSite } from './code.js';
import { MalformedPeError } from '../pe/errors.js';
import { IMAGE_SCN_CNT_CODE, IMAGE_SCN_MEM_EXECUTE, machineName, parsePe, rvaToOffset, subsystemName, type PeImage } from '../pe/pe.js';
import { isScannedSection, scanStrings, type FoundString, type StringTable } from './strings.js';

export type EvidenceSource =
  | 'string'
  | 'call'
  | 'pointer-table'
  | 'adjacent-string'
  | 'resource'
  | 'import'
  | 'export'
  | 'header'
  | 'config'
  | 'registry'
  | 'trace';

/** One fact the report rests on, with where it was found. */
export interface Evidence {
  source: EvidenceSource;
  /** the fact in words, e.g. `utf16 "Global\\X" at 0x2040 (.rdata)` */
  text: string;
  /** which analyzed file (absent for configuration evidence) */
  file?: string;
  offset?: number;
  rva?: number;
  section?: string;
  encoding?: 'ascii' | 'utf16';
}

export type ResourceRole = 'creates' | 'opens' | 'serves' | 'connects' | 'reads' | 'writes' | 'unknown';

/** A named resource the binary creates, opens or mentions. */
export interface NamedResource {
  category: ResourceCategory;
  /** the name as the binary spells it */
  value: string;
  /** the part a VM renames (object name, pipe name, endpoint, port, key path) */
  name: string;
  detail: Record<string, string | number | boolean>;
  /** how the binary uses it, when a call site says so */
  role: ResourceRole;
  /** docs/design.md issues it is evidence for */
  issues: number[];
  evidence: Evidence[];
}

export interface RpcEndpoint {
  protseq: string;
  endpoint: string;
  /** how protseq and endpoint were paired */
  method: 'call' | 'pointer-table' | 'adjacent-string';
  evidence: Evidence[];
}

export interface ComClass {
  clsid: string;
  role: 'serves' | 'connects' | 'registered';
  name?: string;
  servers?: string[];
  evidence: Evidence[];
}

export interface ServiceApi {
  /** StartServiceCtrlDispatcher's table: one entry per service the executable hosts */
  dispatchTables: { entries: { name: string; serviceMain: string }[]; method: 'static' | 'stack' | 'data-scan'; evidence: Evidence }[];
  /** names passed to RegisterServiceCtrlHandler(Ex) */
  controlHandlers: { name: string; evidence: Evidence }[];
  /** ServiceMain-like exports (svchost ServiceDlls) */
  serviceMainExports: string[];
  imports: string[];
}

export interface BinaryAnalysis {
  file: string;
  size: number;
  sha256: string;
  format: {
    machine: string;
    bits: 32 | 64;
    kind: 'exe' | 'dll' | 'driver';
    subsystem: string;
    imageBase: string;
    entryPoint: string;
    timestamp: number;
    coffSymbols: boolean;
    sections: { name: string; rva: string; virtualSize: number; offset: string; size: number; characteristics: string }[];
  };
  imports: { dll: string; functions: string[]; delayLoad?: boolean }[];
  exports: { module?: string; functions: { name?: string; ordinal: number; rva: string; forwarder?: string }[] };
  resources: { count: number; entries: { type: string; id: string; lang: number; size: number }[]; truncated?: boolean };
  strings: { ascii: number; utf16: number; scannedBytes: number };
  /** programs the file names (strings ending in .exe, its own name left out): what a launcher may start */
  programs: { value: string; evidence: Evidence }[];
  names: NamedResource[];
  service: ServiceApi;
  rpc: { server: boolean; client: boolean; endpoints: RpcEndpoint[] };
  com: { classes: ComClass[]; inprocServer: boolean; localServer: boolean };
  /** call sites with recovered arguments */
  calls: { api: string; dll: string; rva: string; section: string; args: { role: string; value: string | number | null }[] }[];
  codeScan: 'x64' | 'not supported for this machine';
  warnings: string[];
}

export interface BinaryOptions {
  /** how the report names the file */
  file?: string;
  /** service names that exist on the host: strings equal to one are reported as service names */
  knownServices?: string[];
}

const hex = (n: number): string => '0x' + n.toString(16);

const CATEGORY_ISSUES: Record<ResourceCategory, number[]> = {
  'kernel-object': [6],
  pipe: [7],
  mailslot: [7],
  'alpc-port': [7],
  'object-path': [6],
  device: [11],
  'rpc-protseq': [7],
  'rpc-endpoint': [7],
  'rpc-binding': [12],
  url: [8],
  port: [8],
  registry: [2],
  file: [9],
  'com-class': [7],
  'service-name': [1],
};

const ROLE_RANK: Record<ResourceRole, number> = { unknown: 0, reads: 1, opens: 2, writes: 3, creates: 4, connects: 5, serves: 6 };

/** The role a call gives the resource it names. */
function roleOf(api: string): ResourceRole {
  const a = lookupApi(api)?.key ?? api;
  if (/^RegisterServiceCtrlHandler/.test(a)) return 'unknown';
  if (/^(CreateNamedPipe|CreateMailslot|RpcServerUseProtseq|HttpAddUrl|CoRegisterClassObject)/.test(a)) return 'serves';
  if (/^(CallNamedPipe|WaitNamedPipe|RpcStringBindingCompose|RpcBindingFromStringBinding|CoCreateInstance|CoGetClassObject)/.test(a)) return 'connects';
  if (/^Reg(Create|Set|Delete)/.test(a)) return 'writes';
  if (/^Reg(Open|Get|Query)/.test(a)) return 'reads';
  if (/^Open/.test(a)) return 'opens';
  if (/^(Create|Register)/.test(a)) return 'creates';
  if (a === 'htons') return 'unknown';
  return 'unknown';
}

function issuesFor(c: ResourceCategory, detail: Record<string, string | number | boolean>, role: ResourceRole): number[] {
  const set = new Set(CATEGORY_ISSUES[c]);
  if ((role === 'connects' || role === 'opens') && c !== 'file' && c !== 'registry' && c !== 'device') set.add(12);
  if (role === 'writes') set.add(9);
  if (c === 'url' && (detail.httpSys || detail.httpSysReservation)) set.add(11);
  if ((c === 'rpc-protseq' || c === 'rpc-endpoint') && /^nca(cn_ip_tcp|cn_http|dg_ip_udp)$/.test(String(detail.protseq ?? ''))) set.add(8);
  if (c === 'com-class' && role === 'connects') set.delete(7);
  // an in-process class only registered (InprocServer32) collides in the registry, not as an endpoint
  if (c === 'com-class' && role === 'unknown' && detail.server && !/LocalServer/i.test(String(detail.server))) {
    set.delete(7);
    set.add(2);
  }
  return [...set].sort((a, b) => a - b);
}

function stringEvidence(file: string, s: { value: string; encoding: 'ascii' | 'utf16'; offset: number; rva: number; section: string }): Evidence {
  return {
    source: 'string',
    text: `${s.encoding} ${JSON.stringify(s.value)} at ${hex(s.offset)} (${s.section})`,
    file,
    offset: s.offset,
    rva: s.rva,
    section: s.section,
    encoding: s.encoding,
  };
}

function callEvidence(file: string, site: CallSite, detail: string): Evidence {
  return {
    source: 'call',
    text: `${site.api}(${detail}) called at ${hex(site.offset)} (${site.section}, RVA ${hex(site.rva)})`,
    file,
    offset: site.offset,
    rva: site.rva,
    section: site.section,
  };
}

/** Analyze a PE file's bytes. Throws MalformedPeError for files that are not consistent PE images. */
export function analyzeBinary(bytes: Uint8Array, opts: BinaryOptions = {}): BinaryAnalysis {
  try {
    return analyze(bytes, opts);
  } catch (err) {
    if (err instanceof MalformedPeError) throw opts.file ? err.withFile(opts.file) : err;
    // A safety net: every read is meant to be checked before it is made. Part "unchecked" marks a gap (the fuzz test fails on it).
    if (err instanceof RangeError || err instanceof TypeError) throw new MalformedPeError('unchecked', err.message, opts.file);
    throw err;
  }
}

function analyze(bytes: Uint8Array, opts: BinaryOptions): BinaryAnalysis {
  const file = opts.file ?? '(bytes)';
  const img: PeImage = parsePe(bytes);
  const warnings: string[] = [];
  // the strings stay positions until one may name something: most of a large DLL's never are made
  const strings = scanStrings(img);
  const code = scanCode(img);
  if (!code.supported) warnings.push(`call-site argument recovery supports x64 code only; this is ${machineName(img.machine)}: names come from strings alone`);

  // --- named resources ---
  const byKey = new Map<string, NamedResource>();
  const add = (
    category: ResourceCategory,
    value: string,
    name: string,
    detail: Record<string, string | number | boolean>,
    roleIn: ResourceRole,
    ev: Evidence,
  ): NamedResource => {
    // a CLSID under a registry key the binary writes is a registration, not a served class
    const role = category === 'com-class' && (roleIn === 'writes' || roleIn === 'reads') ? 'unknown' : roleIn;
    const key = `${category}\0${name.toLowerCase()}`;
    let r = byKey.get(key);
    if (!r) {
      r = { category, value, name, detail: { ...detail }, role, issues: [], evidence: [] };
      byKey.set(key, r);
    } else {
      Object.assign(r.detail, detail);
      if (ROLE_RANK[role] > ROLE_RANK[r.role]) r.role = role;
    }
    if (r.evidence.length < 8 && !r.evidence.some((e) => e.text === ev.text)) r.evidence.push(ev);
    r.issues = issuesFor(r.category, r.detail, r.role);
    return r;
  };

  const known = new Map((opts.knownServices ?? []).map((n) => [n.toLowerCase(), n]));
  const codeSections = new Set(img.sections.filter((x) => x.characteristics & (IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE)).map((x) => x.name));
  const knownLengths = new Set([...known.keys()].map((n) => n.length));
  // protocol sequences, wherever they are (a short one in code too): RPC endpoints are paired with them below
  const protseqStrings: { s: FoundString; i: number }[] = [];
  for (let i = 0, next = 0; i < strings.length; i++) {
    // only a candidate can name something classifyString finds; any string can be a known service's name
    const candidate = strings.candidates[next] === i;
    if (candidate) next++;
    else if (!knownLengths.has(strings.lengths[i]!)) continue;
    const s = strings.at(i);
    const classes = candidate ? classifyString(s.value) : [];
    if (classes.some((c) => c.category === 'rpc-protseq')) protseqStrings.push({ s, i });
    // strings in code are mostly instruction bytes that happen to be printable: only long ones count
    if (codeSections.has(s.section) && s.value.length < 12) continue;
    for (const c of classes) add(c.category, c.category === 'com-class' ? c.name : s.value, c.name, c.detail, 'unknown', stringEvidence(file, s));
    // a known service's name, in data (code bytes that happen to spell a short name are noise)
    const svc = known.size ? known.get(s.value.toLowerCase()) : undefined;
    if (svc && !codeSections.has(s.section)) add('service-name', s.value, svc, {}, 'unknown', stringEvidence(file, s));
  }

  // --- call sites ---
  const calls: BinaryAnalysis['calls'] = [];
  const rpcEndpoints: RpcEndpoint[] = [];
  const protseqArgOffsets = new Set<number>();
  const comClasses = new Map<string, ComClass>();
  const service: ServiceApi = { dispatchTables: [], controlHandlers: [], serviceMainExports: [], imports: [] };
  for (const site of code.callSites) {
    if (site.args.length === 0 && !site.table) continue;
    calls.push({
      api: site.api,
      dll: site.dll,
      rva: hex(site.rva),
      section: site.section,
      args: site.args.map((a) => ({ role: a.role, value: a.value })),
    });
    const role = roleOf(site.api);
    const key = lookupApi(site.api)?.key;
    for (const a of site.args) {
      if (a.kind === 'str' && typeof a.value === 'string') {
        const ev = callEvidence(file, site, `${a.role} ${JSON.stringify(a.value)}${a.offset !== undefined ? ` from ${hex(a.offset)}` : ''}`);
        for (const c of classifyArg(a.role, a.value, site.api)) {
          // CreateFile opens as often as it creates; on a pipe or mailslot it is a client
          const r = key === 'CreateFile' || key === 'CreateFile2' ? (c.category === 'pipe' || c.category === 'mailslot' ? 'connects' : 'opens') : role;
          add(c.category, c.category === 'com-class' ? c.name : a.value, c.name, c.detail, r, ev);
        }
        if (a.role === 'service name' && (key === 'RegisterServiceCtrlHandler' || key === 'RegisterServiceCtrlHandlerEx')) {
          service.controlHandlers.push({ name: a.value, evidence: ev });
        }
      } else if (a.kind === 'int' && key === 'htons' && typeof a.value === 'number' && a.value > 0 && a.value < 65536) {
        add('port', String(a.value), String(a.value), { port: a.value }, 'unknown', callEvidence(file, site, `port ${a.value}`));
      } else if (a.kind === 'guid' && typeof a.value === 'string') {
        const cRole = role === 'serves' ? 'serves' : 'connects';
        const ev = callEvidence(file, site, `CLSID ${a.value}${a.offset !== undefined ? ` from ${hex(a.offset)}` : ''}`);
        add('com-class', a.value, a.value, {}, cRole, ev);
        const cls = comClasses.get(a.value) ?? { clsid: a.value, role: cRole, evidence: [] };
        if (cRole === 'serves') cls.role = 'serves';
        cls.evidence.push(ev);
        comClasses.set(a.value, cls);
      }
    }
    // RPC endpoints from the call itself
    if (key === 'RpcServerUseProtseqEp' || key === 'RpcServerUseProtseqEpEx' || key === 'RpcStringBindingCompose') {
      const ps = site.args.find((a) => a.role === 'protseq');
      const ep = site.args.find((a) => a.role === 'endpoint');
      if (ps && typeof ps.value === 'string' && ep && typeof ep.value === 'string') {
        if (ps.offset !== undefined) protseqArgOffsets.add(ps.offset);
        rpcEndpoints.push({
          protseq: ps.value.toLowerCase(),
          endpoint: ep.value,
          method: 'call',
          evidence: [callEvidence(file, site, `${JSON.stringify(ps.value)}, ${JSON.stringify(ep.value)}`)],
        });
      }
    }
    if (site.table) {
      const ev = callEvidence(file, site, site.table.method === 'static' ? `table at RVA ${hex(site.table.rva ?? 0)}` : 'table built on the stack');
      service.dispatchTables.push({
        entries: site.table.entries.map((e) => ({ name: e.name, serviceMain: hex(e.serviceMain) })),
        method: site.table.method,
        evidence: ev,
      });
      for (const e of site.table.entries) add('service-name', e.name, e.name, { dispatchTable: true }, 'unknown', ev);
    }
  }

  // dispatch tables in data, when the code scan tied none to a StartServiceCtrlDispatcher call
  if (!service.dispatchTables.length && img.imports.some((i) => /^StartServiceCtrlDispatcher[AW]?$/.test(i.name))) {
    for (const t of findServiceTables(img)) {
      const off = rvaToOffset(img, t.rva);
      const ev: Evidence = {
        source: 'pointer-table',
        text: `SERVICE_TABLE_ENTRY array at RVA ${hex(t.rva)}${off !== undefined ? ` (file ${hex(off)})` : ''}, ${t.entries.length} entr${t.entries.length === 1 ? 'y' : 'ies'} and a NULL terminator`,
        file,
        rva: t.rva,
        ...(off !== undefined ? { offset: off } : {}),
      };
      service.dispatchTables.push({ entries: t.entries.map((e) => ({ name: e.name, serviceMain: hex(e.serviceMain) })), method: 'data-scan', evidence: ev });
      for (const e of t.entries) add('service-name', e.name, e.name, { dispatchTable: true }, 'unknown', ev);
    }
  }

  // --- RPC endpoints from data: {protseq*, endpoint*} pointer pairs, then neighbouring strings ---
  const paired = new Set(rpcEndpoints.map((e) => `${e.protseq}\0${e.endpoint.toLowerCase()}`));
  const pushEndpoint = (e: RpcEndpoint): void => {
    const k = `${e.protseq}\0${e.endpoint.toLowerCase()}`;
    if (paired.has(k)) return;
    paired.add(k);
    rpcEndpoints.push(e);
  };
  if (protseqStrings.length) {
    const byRva = new Map(protseqStrings.map(({ s }) => [s.rva, s]));
    const ptr = img.is64 ? 8 : 4;
    const pairedProtseqs = new Set<number>();
    for (const sec of img.sections) {
      if (!isScannedSection(sec) || sec.characteristics & (IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE)) continue;
      const end = sec.rawOffset + sec.rawSize - 2 * ptr;
      for (let o = sec.rawOffset; o <= end; o += ptr) {
        const p = pointerAt(img, o);
        if (!p) continue;
        const ps = byRva.get(p);
        if (!ps) continue;
        const q = pointerAt(img, o + ptr);
        if (!q) continue;
        const ep = stringAtRva(img, q, ps.encoding);
        const protseq = ps.value.toLowerCase();
        if (ep && endpointFits(protseq, ep.value)) {
          pairedProtseqs.add(ps.rva);
          pushEndpoint({
            protseq,
            endpoint: ep.value,
            method: 'pointer-table',
            evidence: [
              {
                source: 'pointer-table',
                text: `pointers to ${JSON.stringify(ps.value)} (${hex(ps.offset)}) and ${JSON.stringify(ep.value)} (${hex(ep.offset)}) side by side at ${hex(o)} (${sec.name})`,
                file,
                offset: o,
                section: sec.name,
              },
            ],
          });
        }
      }
    }
    // Neighbouring strings: the nearest string within 64 bytes, either side, in the same section, whose syntax fits the protocol.
    const sorted = byOffset(strings);
    for (const { s: ps, i: pi } of protseqStrings) {
      if (pairedProtseqs.has(ps.rva) || protseqArgOffsets.has(ps.offset)) continue;
      const protseq = ps.value.toLowerCase();
      let best: FoundString | undefined;
      let bestDist = Infinity;
      // the strings that start within 64 bytes of it, in offset order
      let lo = 0;
      for (let hi = sorted.length; lo < hi; ) {
        const mid = (lo + hi) >> 1;
        if (strings.offsets[sorted[mid]!]! < ps.offset - 64) lo = mid + 1;
        else hi = mid;
      }
      for (let k = lo; k < sorted.length && strings.offsets[sorted[k]!]! <= ps.offset + 64; k++) {
        if (sorted[k] === pi) continue;
        const s = strings.at(sorted[k]!);
        if (s.section !== ps.section) continue;
        const dist = Math.abs(s.offset - ps.offset);
        if (dist > 64 || dist >= bestDist) continue;
        if (!endpointFits(protseq, s.value)) continue;
        best = s;
        bestDist = dist;
      }
      if (best) {
        pushEndpoint({
          protseq,
          endpoint: best.value,
          method: 'adjacent-string',
          evidence: [
            {
              source: 'adjacent-string',
              text: `${JSON.stringify(ps.value)} at ${hex(ps.offset)} and ${JSON.stringify(best.value)} at ${hex(best.offset)} are ${bestDist} bytes apart (${ps.section})`,
              file,
              offset: best.offset,
              section: ps.section,
            },
          ],
        });
      }
    }
  }
  const importKeys = new Set(img.imports.map((i) => lookupApi(i.name)?.key ?? i.name));
  const rpcServer = [...importKeys].some((k) => /^Rpc(ServerUse|ServerRegisterIf|EpRegister|ServerListen)/.test(k));
  const rpcClient = [...importKeys].some((k) => /^Rpc(StringBindingCompose|BindingFromStringBinding|EpResolveBinding)/.test(k));
  for (const e of rpcEndpoints) {
    const role: ResourceRole =
      e.method === 'call'
        ? e.evidence[0]?.text.startsWith('RpcStringBindingCompose')
          ? 'connects'
          : 'serves'
        : rpcServer
          ? 'serves'
          : rpcClient
            ? 'connects'
            : 'unknown';
    for (const ev of e.evidence)
      add(
        'rpc-endpoint',
        `${e.protseq}:[${e.endpoint}]`,
        `${e.protseq}:${e.endpoint}`,
        { protseq: e.protseq, endpoint: e.endpoint, paired: e.method },
        role,
        ev,
      );
    if (e.protseq === 'ncacn_np') {
      const pipe = e.endpoint.replace(/^\\pipe\\/i, '');
      add('pipe', e.endpoint, pipe, { rpc: 'ncacn_np' }, role, e.evidence[0]!);
    }
    if (/^nca(cn_ip_tcp|cn_http|dg_ip_udp)$/.test(e.protseq))
      add('port', e.endpoint, e.endpoint, { port: Number(e.endpoint), rpc: e.protseq }, role, e.evidence[0]!);
  }
  // protseq strings are servers when the binary imports RPC server APIs
  for (const r of byKey.values()) {
    if ((r.category === 'rpc-protseq' || r.category === 'rpc-endpoint') && r.role === 'unknown') {
      r.role = rpcServer ? 'serves' : rpcClient ? 'connects' : 'unknown';
      r.issues = issuesFor(r.category, r.detail, r.role);
    }
    if (r.category === 'url' && r.role === 'unknown' && r.detail.httpSysReservation && [...importKeys].some((k) => k.startsWith('HttpAddUrl'))) {
      r.role = 'serves';
      r.detail.httpSys = true;
      r.issues = issuesFor(r.category, r.detail, r.role);
    }
  }

  // --- COM from resources (.rgs scripts) and exports ---
  for (const res of img.resources) {
    if (!/^(WINE_)?REGISTRY$/i.test(res.type) || res.offset === undefined || res.size > 1 << 20) continue;
    const raw = img.bytes.subarray(res.offset, res.offset + res.size);
    // .rgs scripts are ANSI text; some tools store them as UTF-16
    const text = new TextDecoder(raw.length > 1 && raw[1] === 0 ? 'utf-16le' : 'latin1').decode(raw);
    for (const c of parseRgsClasses(text)) {
      const ev: Evidence = {
        source: 'resource',
        text: `${res.type} resource ${res.id} registers CLSID ${c.clsid}${c.name ? ` (${c.name})` : ''}${c.servers.length ? ` as ${c.servers.join(', ')}` : ''}`,
        file,
        offset: res.offset,
      };
      const cls: ComClass = comClasses.get(c.clsid) ?? { clsid: c.clsid, role: 'registered', evidence: [] };
      if (c.name) cls.name = c.name;
      cls.servers = [...new Set([...(cls.servers ?? []), ...c.servers])];
      cls.evidence.push(ev);
      comClasses.set(c.clsid, cls);
      add('com-class', c.clsid, c.clsid, { ...(c.servers.length ? { server: c.servers.join(',') } : {}), registered: true }, 'unknown', ev);
    }
  }
  for (const r of byKey.values()) {
    if (r.category === 'com-class' && !comClasses.has(r.name))
      comClasses.set(r.name, {
        clsid: r.name,
        role: 'registered',
        evidence: r.evidence.slice(0, 2),
        ...(r.detail.server ? { servers: [String(r.detail.server)] } : {}),
      });
  }
  const exportNames = new Set(img.exports.map((e) => e.name).filter((n): n is string => !!n));
  const inprocServer = exportNames.has('DllGetClassObject');
  const localServer = importKeys.has('CoRegisterClassObject') || [...comClasses.values()].some((c) => c.servers?.some((s) => /^LocalServer/i.test(s)));

  // --- service API ---
  service.serviceMainExports = [...exportNames].filter((n) => /ServiceMain$/i.test(n) || n === 'SvchostPushServiceGlobals');
  service.imports = img.imports.map((i) => i.name).filter((n) => /^(StartServiceCtrlDispatcher|RegisterServiceCtrlHandler|SetServiceStatus)/.test(n));

  // --- format ---
  const kernelImports = img.imports.some((i) => KERNEL_MODULES.has(i.dll.toLowerCase()));
  const kind: BinaryAnalysis['format']['kind'] = img.subsystem === 1 && kernelImports ? 'driver' : img.isDll ? 'dll' : 'exe';
  const byDll = new Map<string, { dll: string; functions: string[]; delayLoad?: boolean }>();
  for (const i of img.imports) {
    const k = `${i.dll.toLowerCase()}\0${i.delayLoad}`;
    let e = byDll.get(k);
    if (!e) {
      e = { dll: i.dll, functions: [], ...(i.delayLoad ? { delayLoad: true } : {}) };
      byDll.set(k, e);
    }
    e.functions.push(i.name);
  }
  const RES_CAP = 200;
  const names = [...byKey.values()].sort((a, b) => a.category.localeCompare(b.category) || a.name.localeCompare(b.name));
  return {
    file,
    size: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    format: {
      machine: machineName(img.machine),
      bits: img.is64 ? 64 : 32,
      kind,
      subsystem: subsystemName(img.subsystem),
      imageBase: hex(img.imageBase),
      entryPoint: hex(img.entryPoint),
      timestamp: img.timestamp,
      coffSymbols: img.hasCoffSymbols,
      sections: img.sections.map((s) => ({
        name: s.name,
        rva: hex(s.rva),
        virtualSize: s.virtualSize,
        offset: hex(s.rawOffset),
        size: s.rawSize,
        characteristics: hex(s.characteristics),
      })),
    },
    imports: [...byDll.values()],
    exports: {
      ...(img.exportName !== undefined ? { module: img.exportName } : {}),
      functions: img.exports.map((e) => ({
        ...(e.name !== undefined ? { name: e.name } : {}),
        ordinal: e.ordinal,
        rva: hex(e.rva),
        ...(e.forwarder ? { forwarder: e.forwarder } : {}),
      })),
    },
    resources: {
      count: img.resources.length,
      entries: img.resources.slice(0, RES_CAP).map((r) => ({ type: r.type, id: r.id, lang: r.lang, size: r.size })),
      ...(img.resources.length > RES_CAP ? { truncated: true } : {}),
    },
    strings: { ascii: strings.ascii, utf16: strings.length - strings.ascii, scannedBytes: strings.scannedBytes },
    programs: programsNamed(strings, file),
    names,
    service,
    rpc: { server: rpcServer, client: rpcClient, endpoints: rpcEndpoints },
    com: { classes: [...comClasses.values()], inprocServer, localServer },
    calls,
    codeScan: code.supported ? 'x64' : 'not supported for this machine',
    warnings,
  };
}

/** The strings' indices in file-offset order (equal offsets in index order). */
function byOffset(strings: StringTable): number[] {
  const order = Array.from({ length: strings.length }, (_, i) => i);
  return order.sort((a, b) => strings.offsets[a]! - strings.offsets[b]! || a - b);
}

/** Strings that name a program (`server.exe`, `C:\\app\\bin\\server.exe`), each once, at most 50. */
function programsNamed(strings: StringTable, file: string): BinaryAnalysis['programs'] {
  const own = file.split(/[\\/]/).pop()!.toLowerCase();
  const out: BinaryAnalysis['programs'] = [];
  const seen = new Set<string>();
  // a program's name holds a dot: a candidate
  for (const i of strings.candidates) {
    const s = strings.at(i);
    if (!/\.exe/i.test(s.value)) continue; // what both patterns below need, found without the trim and the copy
    const v = s.value.trim().replace(/^"|"$/g, '');
    if (!/^(?:[A-Za-z]:\\|%\w+%\\)?[^\s"<>|*?%:]{0,200}[A-Za-z0-9_.-]\.exe$/i.test(v) && !/^(?:[A-Za-z]:\\|%\w+%\\)[^"<>|*?]{1,200}\.exe$/i.test(v)) continue;
    const base = v.split(/[\\/]/).pop()!.toLowerCase();
    if (base === own || seen.has(v.toLowerCase()) || out.length >= 50) continue;
    seen.add(v.toLowerCase());
    out.push({
      value: v,
      evidence: {
        source: 'string',
        text: `${s.encoding} ${JSON.stringify(v)} at ${hex(s.offset)} (${s.section})`,
        file,
        offset: s.offset,
        encoding: s.encoding,
        section: s.section,
      },
    });
  }
  return out;
}
