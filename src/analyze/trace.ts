// What `svcdup analyze SERVICE --trace SECONDS` recorded, made into a report: the VM layer's
// decision lines (docs/vm.md, "Trace") parsed, de-duplicated into the resources the service
// actually used, cross-referenced with the static findings, and folded into the issues. Pure:
// the run itself (scratch VM, duplicate, listener) is io.ts's.
import type { Evidence, EvidenceSource, NamedResource } from './binary.js';
import type { AnalyzeReport, IssueAssessment, TraceCrossReference, TraceKind, TraceReport, TraceRole, TraceSummary, TracedResource } from './report.js';

/** One line of `svcdup-run --trace`: a naming decision of a VM process. */
export interface TraceEvent {
  /** ISO time of the decision (ms precision) */
  time: string;
  pid: number;
  /** the hooked call: NtCreateMutant, NtCreateNamedPipeFile, OpenService, bind, HttpAddUrl, ... */
  call: string;
  /** the name as the process passed it */
  used: string;
  /** the name the host saw (the used name when not renamed) */
  effective: string;
  /** renamed, open (shared by policy), denied, joined (a child was brought into the VM) */
  decision: string;
}

export interface ParsedTrace {
  events: TraceEvent[];
  /** events the listener could not keep up with (`{"dropped": N}` lines) */
  dropped: number;
  /** lines that were neither (kept, at most 20, for the warnings) */
  unparsed: string[];
}

/** Parse the listener's stdout; tolerant of CRLF, blank lines and a torn last line. */
export function parseTrace(text: string): ParsedTrace {
  const out: ParsedTrace = { events: [], dropped: 0, unparsed: [] };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      if (out.unparsed.length < 20) out.unparsed.push(line);
      continue;
    }
    const o = v as Record<string, unknown>;
    if (o && typeof o === 'object' && typeof o.dropped === 'number') {
      out.dropped += o.dropped;
    } else if (o && typeof o === 'object' && typeof o.call === 'string' && typeof o.used === 'string' && typeof o.decision === 'string') {
      out.events.push({
        time: typeof o.time === 'string' ? o.time : '',
        pid: typeof o.pid === 'number' ? o.pid : Number(o.pid) || 0,
        call: o.call,
        used: o.used,
        effective: typeof o.effective === 'string' ? o.effective : o.used,
        decision: o.decision,
      });
    } else if (out.unparsed.length < 20) out.unparsed.push(line);
  }
  return out;
}

// ---------------------------------------------------------------- names

const OBJECT_CALL = /^Nt(Create|Open)(Mutant|Event|Semaphore|Section|Timer|SymbolicLinkObject|DirectoryObject|JobObject|KeyedEvent|IoCompletion)$/;
const PORT_CALL = /^Nt(CreatePort|CreateWaitablePort|AlpcCreatePort|ConnectPort|SecureConnectPort|AlpcConnectPort)$/;
const FILE_CALL = /^Nt(CreateNamedPipeFile|CreateMailslotFile|CreateFile|OpenFile)$|^NtFsControlFile\(FSCTL_PIPE_WAIT\)$/;
const REG_CALL = /^Nt(OpenKey|OpenKeyEx|CreateKey)$/;
const SVC_CALL = /^(OpenService|CreateService|ChangeServiceConfig)/;

const PIPE_ROOT = /^(?:\\\?\?\\|\\\\\.\\|\\Device\\|\\DosDevices\\|\\GLOBAL\?\?\\)?(?:Named)?pipe\\(.*)$/i;
const MAILSLOT_ROOT = /^(?:\\\?\?\\|\\\\\.\\|\\Device\\|\\DosDevices\\|\\GLOBAL\?\?\\)?mailslot\\(.*)$/i;

/** `Global\X`, `\BaseNamedObjects\X` -> Global\X; `Local\X`, `X`, `\Sessions\N\BaseNamedObjects\X` -> Local\X. */
export function canonicalObject(used: string): { name: string; short: string } {
  let m: RegExpExecArray | null;
  if ((m = /^\\Sessions\\\d+\\BaseNamedObjects\\(Global|Local)\\(.*)$/i.exec(used))) return { name: `${cap(m[1]!)}\\${m[2]}`, short: m[2]! };
  if ((m = /^\\Sessions\\(\d+)\\BaseNamedObjects\\(.*)$/i.exec(used))) return { name: `Local\\${m[2]}`, short: m[2]! };
  if ((m = /^\\BaseNamedObjects\\(?:Global\\)?(.*)$/i.exec(used))) return { name: `Global\\${m[1]}`, short: m[1]! };
  if ((m = /^(Global|Local)\\(.*)$/i.exec(used))) return { name: `${cap(m[1]!)}\\${m[2]}`, short: m[2]! };
  if ((m = /^Session\\(\d+)\\(.*)$/i.exec(used))) return { name: `Session\\${m[1]}\\${m[2]}`, short: m[2]! };
  if (!used.startsWith('\\')) return { name: `Local\\${used}`, short: used };
  return { name: used, short: used };
}

const cap = (s: string): string => s[0]!.toUpperCase() + s.slice(1).toLowerCase();

/** Registry paths compared without their root spelling: `\Registry\Machine\X`, `HKLM\X`, `HKEY_LOCAL_MACHINE\X` -> `HKLM\X`. */
export function canonicalKey(path: string): string {
  return path
    .replace(/^\\Registry\\Machine\\/i, 'HKLM\\')
    .replace(/^HKEY_LOCAL_MACHINE\\/i, 'HKLM\\')
    .replace(/^\\Registry\\User\\/i, 'HKU\\')
    .replace(/^HKEY_USERS\\/i, 'HKU\\')
    .replace(/^HKEY_CURRENT_USER\\/i, 'HKCU\\')
    .replace(/^HKEY_CLASSES_ROOT\\/i, 'HKCR\\')
    .replace(/\\+$/, '');
}

interface Classified {
  kind: TraceKind;
  name: string;
  /** the part compared with static names (lowercased by the caller) */
  short: string;
  role: TraceRole;
  issues: number[];
}

/** What one event is about. */
export function classifyEvent(e: Pick<TraceEvent, 'call' | 'used' | 'decision'>): Classified {
  const { call, used } = e;
  let m: RegExpExecArray | null;
  if ((m = OBJECT_CALL.exec(call))) {
    const o = canonicalObject(used);
    return { kind: 'kernel-object', name: o.name, short: o.short, role: m[1] === 'Create' ? 'creates' : 'opens', issues: [6] };
  }
  if (FILE_CALL.test(call)) {
    const serves = call === 'NtCreateNamedPipeFile' || call === 'NtCreateMailslotFile';
    const role: TraceRole = serves ? 'serves' : 'connects';
    const issues = serves ? [7] : [7, 12];
    if ((m = MAILSLOT_ROOT.exec(used)) || call === 'NtCreateMailslotFile') {
      const short = m ? m[1]! : used;
      return { kind: 'mailslot', name: `\\\\.\\mailslot\\${short}`, short, role, issues };
    }
    // FSCTL_PIPE_WAIT names the pipe alone, relative to the pipe root
    const short = (m = PIPE_ROOT.exec(used)) ? m[1]! : call.startsWith('NtFsControlFile') || call === 'NtCreateNamedPipeFile' ? used.replace(/^\\/, '') : used;
    if (m || call.startsWith('NtFsControlFile') || call === 'NtCreateNamedPipeFile')
      return { kind: 'pipe', name: `\\\\.\\pipe\\${short}`, short, role, issues };
    return { kind: 'other', name: used, short: used, role, issues: [] };
  }
  if ((m = PORT_CALL.exec(call))) {
    const short = used.replace(/^\\RPC Control\\/i, '');
    const serves = /Create/.test(m[1]!);
    return {
      kind: 'alpc-port',
      name: used.startsWith('\\') ? used : `\\RPC Control\\${used}`,
      short,
      role: serves ? 'serves' : 'connects',
      issues: serves ? [7] : [7, 12],
    };
  }
  if (REG_CALL.test(call)) {
    const name = canonicalKey(used);
    return {
      kind: 'registry',
      name,
      short: name.replace(/^HKLM\\/i, ''),
      role: call === 'NtCreateKey' ? 'creates' : 'opens',
      issues: call === 'NtCreateKey' ? [2, 9] : [2],
    };
  }
  if ((m = SVC_CALL.exec(call))) {
    const opens = m[1] === 'OpenService';
    const issues = opens ? (e.decision === 'denied' ? [10, 12] : [12]) : [1, 10];
    return { kind: 'service', name: used, short: used, role: opens ? 'opens' : 'creates', issues };
  }
  if (call === 'NtOpenProcess' || call === 'NtOpenThread') return { kind: 'process', name: used, short: used, role: 'opens', issues: [10] };
  if (call === 'NtCreateUserProcess') return { kind: 'child-process', name: 'child process', short: used, role: 'starts', issues: [10] };
  if (/^(bind|bind failed|connect|sendto)$/.test(call)) {
    const port = /:(\d+)\s*$/.exec(used)?.[1] ?? used;
    const binds = call.startsWith('bind');
    return { kind: 'network', name: used, short: port, role: binds ? 'binds' : 'connects', issues: binds ? [8] : [8, 12] };
  }
  if (/^Http(Add|Remove)Url$/.test(call)) return { kind: 'url', name: used, short: used, role: 'serves', issues: [8, 11] };
  return { kind: 'other', name: used, short: used, role: 'unknown', issues: [] };
}

/** svcdup's own names (reserved: `svcdup.*`), e.g. svcdup-host's relay pipe. */
const isSvcdupName = (short: string): boolean => /^svcdup\./i.test(short);

// ---------------------------------------------------------------- static names

/** The keys a static name can be seen under at run time: `kind\0short`, lowercased, or a pattern. */
function staticKeys(r: NamedResource): { kind: TraceKind; short: string; pattern?: RegExp }[] {
  const d = r.detail;
  const one = (kind: TraceKind, short: string): { kind: TraceKind; short: string; pattern?: RegExp } => ({
    kind,
    short,
    ...(/%/.test(short) ? { pattern: formatPattern(short) } : {}),
  });
  switch (r.category) {
    case 'kernel-object':
      return [one('kernel-object', r.name)];
    case 'object-path':
      return [one('kernel-object', r.value)];
    case 'pipe':
      return d.prefixOnly || d.server ? [] : [one('pipe', r.name)];
    case 'mailslot':
      return d.prefixOnly ? [] : [one('mailslot', r.name)];
    case 'alpc-port':
      return [one('alpc-port', r.name)];
    case 'rpc-endpoint': {
      const ep = String(d.endpoint ?? r.name);
      const ps = String(d.protseq ?? '').toLowerCase();
      if (ps === 'ncacn_np') return [one('pipe', ep.replace(/^\\?pipe\\/i, ''))];
      // ncalrpc: an ALPC port on Windows, the pipe lrpc\<endpoint> on Wine
      if (ps === 'ncalrpc') return [one('alpc-port', ep), one('pipe', `lrpc\\${ep}`)];
      if (/^nca(cn|dg)_ip_(tcp|udp)$|^ncacn_http$/.test(ps)) return [one('network', ep)];
      return [];
    }
    case 'port':
      return [one('network', String(d.port ?? r.name))];
    case 'url':
      return [one('url', r.value)];
    case 'service-name':
      return [one('service', r.name)];
    case 'registry':
      return [one('registry', canonicalKey(r.value).replace(/^HKLM\\/i, ''))];
    default:
      return [];
  }
}

/** Static categories whose every use the VM layer traces: a name of these not seen is worth saying. */
const FULLY_TRACED = new Set(['kernel-object', 'pipe', 'mailslot', 'alpc-port', 'rpc-endpoint']);

/** `Global\svc-%d` -> /^svc-.+$/i: a name built at run time from a format string in the binary. */
function formatPattern(s: string): RegExp {
  const parts = s.split(/%[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|I64|I32|I|z|j|t|L|w)?[diouxXsSc]|%%/);
  return new RegExp(`^${parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`, 'i');
}

// ---------------------------------------------------------------- summary

const key = (kind: string, s: string): string => `${kind}\0${s.toLowerCase()}`;

/**
 * De-duplicate events into resources by (kind, canonical name), with counts, first time,
 * decisions, effective name and pids, and cross-reference them with the static names.
 */
export function summarizeTrace(parsed: ParsedTrace, staticNames: readonly NamedResource[] = []): TraceSummary {
  const byKey = new Map<string, TracedResource & { short: string }>();
  for (const e of parsed.events) {
    const c = classifyEvent(e);
    // a child's pid is no name: one entry for all children
    const k = key(c.kind, c.name);
    let r = byKey.get(k);
    if (!r) {
      r = {
        kind: c.kind,
        name: c.name,
        used: e.used,
        effective: e.effective,
        decision: e.decision,
        decisions: [],
        calls: [],
        role: c.role,
        count: 0,
        firstTime: e.time,
        lastTime: e.time,
        pids: [],
        issues: [],
        foundStatically: false,
        short: c.short,
      };
      if (isSvcdupName(c.short)) r.svcdup = true;
      byKey.set(k, r);
    }
    r.count++;
    if (e.time && (!r.firstTime || e.time < r.firstTime)) r.firstTime = e.time;
    if (e.time > r.lastTime) r.lastTime = e.time;
    if (!r.decisions.includes(e.decision)) r.decisions.push(e.decision);
    if (!r.calls.includes(e.call)) r.calls.push(e.call);
    if (!r.pids.includes(e.pid)) r.pids.push(e.pid);
    for (const i of c.issues) if (!r.issues.includes(i)) r.issues.push(i);
    // a server role wins over a client one (the same name created and then opened)
    if (r.role !== c.role && (c.role === 'serves' || c.role === 'creates' || c.role === 'binds')) r.role = c.role;
  }
  const resources = [...byKey.values()];

  // cross-reference
  const statics = staticNames.map((s) => ({ s, keys: staticKeys(s), seen: false }));
  const confirmed: TraceCrossReference['confirmed'] = [];
  const missedStatically: TraceCrossReference['missedStatically'] = [];
  for (const r of resources) {
    const matched: string[] = [];
    for (const st of statics) {
      const hit = st.keys.some((k) => k.kind === r.kind && (k.pattern ? k.pattern.test(r.short) : k.short.toLowerCase() === r.short.toLowerCase()));
      if (hit) {
        st.seen = true;
        if (!matched.includes(st.s.value)) matched.push(st.s.value);
      }
    }
    if (matched.length) {
      r.foundStatically = true;
      r.staticValues = matched;
      confirmed.push({ kind: r.kind, name: r.name, staticValues: matched });
    } else if (!r.svcdup && r.kind !== 'process' && r.kind !== 'child-process' && r.kind !== 'other') {
      missedStatically.push({ kind: r.kind, name: r.name, used: r.used });
    }
  }
  const notSeen = statics
    .filter((st) => !st.seen && st.keys.length && FULLY_TRACED.has(st.s.category))
    .map((st) => ({ category: st.s.category, value: st.s.value, name: st.s.name }));
  const seenNotSeen = new Set<string>();
  const notSeenUniq = notSeen.filter((n) => (seenNotSeen.has(key(n.category, n.value)) ? false : (seenNotSeen.add(key(n.category, n.value)), true)));

  resources.sort((a, b) => (a.firstTime < b.firstTime ? -1 : a.firstTime > b.firstTime ? 1 : 0));
  return {
    events: parsed.events.length,
    dropped: parsed.dropped,
    resources: resources.map(({ short: _short, ...r }) => r),
    crossReference: { confirmed, missedStatically, notSeen: notSeenUniq },
  };
}

// ---------------------------------------------------------------- issues

/** Until binary.ts's EvidenceSource lists 'trace' (see docs/analyze.md). */
const TRACE_SOURCE: EvidenceSource = 'trace';

function describe(r: TracedResource): string {
  const what =
    r.decision === 'renamed'
      ? `renamed to ${JSON.stringify(r.effective)}`
      : r.decision === 'open'
        ? 'shared with the host by policy'
        : r.decision === 'denied'
          ? 'denied by the VM'
          : r.decision;
  const times = r.count > 1 ? `, ${r.count} times` : '';
  const pids = `pid${r.pids.length > 1 ? 's' : ''} ${r.pids.join(', ')}`;
  return `traced: ${r.calls.join('/')}(${JSON.stringify(r.used)}) ${what}${times} (${pids}, first at ${r.firstTime})${r.foundStatically ? '; found statically too' : '; not found statically'}`;
}

/** How an issue the static analysis thought did not apply is resolved, once the trace shows it does. */
const RESOLVED_HOW: Record<number, string> = {
  1: 'the duplicate is registered as <name>@<vm>; services a VM process creates are registered the same way',
  2: "inside the VM, ...\\Services\\<name> resolves to the VM's copy of that key",
  6: "every named object a VM process creates or opens is renamed into the VM's namespace",
  7: 'pipes and ports are renamed per VM for servers and clients alike, so VM clients reach VM servers; RPC and COM follow without special cases',
  8: 'each VM has its own address (default: one in 127.77.0.0/16) or a port map; bind, connect and getsockname are rewritten',
  9: "whatever it writes is copied up into the VM on first write (cow), unless the VM's policy says otherwise for its path (state: docs/analyze.md)",
  10: "VM processes see only their VM's services and processes; host-only names are open by explicit policy; child processes are started inside the VM",
  11: 'http.sys is shared with the host; its URL namespace is virtualized: the URLs it reserves are rewritten per VM',
  12: "the same renaming applies to clients, so a client in the VM finds the VM's instance",
};

/** The static report's pointer to --trace (its old and its new wording), answered once the trace ran. */
const STALE_TRACE_HINT = /;? ?(?:--trace will list them once the VM layer exists|svcdup analyze --trace lists them at run time)/;

/**
 * The issues with the run-time evidence folded in: every traced name (svcdup's own left out)
 * is evidence for its issues, listed first; an issue it shows to apply becomes `yes`.
 */
export function applyTrace(report: AnalyzeReport, trace: TraceReport): AnalyzeReport {
  const used = trace.resources.filter((r) => !r.svcdup);
  const issues: IssueAssessment[] = report.issues.map((i) => {
    const rs = used.filter((r) => r.issues.includes(i.id));
    if (!rs.length) return STALE_TRACE_HINT.test(i.how) ? { ...i, how: i.how.replace(STALE_TRACE_HINT, `; the trace saw none in ${trace.seconds} s`) } : i;
    const ev: Evidence[] = rs.map((r) => ({ source: TRACE_SOURCE, text: describe(r) }));
    const all = [...ev, ...i.evidence];
    const max = 12;
    const more = (i.moreEvidence ?? 0) + Math.max(0, all.length - max);
    const names = [
      ...new Set(
        rs.map((r) =>
          r.kind === 'child-process' ? `${r.count} child process${r.count > 1 ? 'es' : ''}` : `${r.name}${r.decision === 'renamed' ? '' : ` (${r.decision})`}`,
        ),
      ),
    ];
    const shown = names.length > 6 ? `${names.slice(0, 6).join(', ')} and ${names.length - 6} more` : names.join(', ');
    const base = i.applies === 'no' ? (RESOLVED_HOW[i.id] ?? i.how) : i.how.replace(STALE_TRACE_HINT, '');
    const how = `${base}. At run time (${trace.seconds} s in VM ${trace.vm}): ${shown}`;
    const next: IssueAssessment = {
      ...i,
      applies: 'yes',
      resolution: i.resolution === 'not-needed' ? (i.id === 11 ? 'shared' : 'resolved') : i.resolution,
      how,
      evidence: all.slice(0, max),
    };
    if (more > 0) next.moreEvidence = more;
    else delete next.moreEvidence;
    return next;
  });
  const warnings = [...report.warnings, ...trace.warnings.map((w) => `trace: ${w}`)];
  return { ...report, issues, trace, warnings };
}
