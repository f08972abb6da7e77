// The twelve issues of docs/design.md, assessed for one service (or one file): does each apply,
// on what evidence, and how svcdup resolves it, or why it cannot. Pure.
import type { ServiceConfig } from '../backend/types.js';
import { lookupApi } from './apis.js';
import type { BinaryAnalysis, Evidence, NamedResource } from './binary.js';
import { isDriverType, serviceKind, type DependencyNode, type FailureActions, type ServiceKind, type SvchostInfo } from './config.js';
import type { ClosureProblem } from '../plan/closure.js';
import {
  REPORT_SCHEMA,
  type AnalyzeReport,
  type Applies,
  type FootprintSection,
  type IssueAssessment,
  type Resolution,
  type ServiceSection,
  type StateSection,
  type Verdict,
} from './report.js';
import { stateHow } from './state.js';
import { decideVerdict, type DependencyFacts, type HostFacts } from './verdict.js';

export const ISSUES = [
  { id: 1, key: 'service-identity', title: 'service identity' },
  { id: 2, key: 'registry-configuration', title: 'configuration in the registry' },
  { id: 3, key: 'scm-protocol', title: 'SCM protocol' },
  { id: 4, key: 'process-hosting', title: 'process hosting' },
  { id: 5, key: 'dependencies', title: 'dependencies' },
  { id: 6, key: 'named-kernel-objects', title: 'named kernel objects' },
  { id: 7, key: 'ipc-endpoints', title: 'IPC endpoints' },
  { id: 8, key: 'network-endpoints', title: 'network endpoints' },
  { id: 9, key: 'state', title: 'state on disk and in the registry' },
  { id: 10, key: 'control-across-vms', title: 'control across VMs' },
  { id: 11, key: 'kernel-mode-parts', title: 'kernel-mode parts' },
  { id: 12, key: 'clients', title: 'clients' },
] as const;

export interface AssessInput {
  target: { input: string; kind: 'service' | 'file' };
  config?: ServiceConfig;
  codeFile?: ServiceSection['codeFile'];
  binary?: BinaryAnalysis;
  /** why the code file could not be analyzed, when it could not */
  binaryError?: string;
  svchost?: SvchostInfo;
  dependencies?: DependencyNode[];
  dependents?: string[];
  failureActions?: FailureActions;
  /** every service configuration known, to name the drivers behind shared dependencies */
  allServices?: Pick<ServiceConfig, 'name' | 'type'>[];
  /** what the host says beyond the configuration: key, files, whether it runs */
  hostFacts?: HostFacts;
  /** what stands in the way of the dependency closure */
  closureProblems?: ClosureProblem[];
  /** the dependencies that would be duplicated with it, with their facts */
  duplicatedDependencies?: DependencyFacts[];
  /** the whole service: programs, settings, config files, ports, folders */
  footprint?: FootprintSection;
  /** issue 9: state paths with their rules */
  state?: StateSection;
  warnings?: string[];
}

const MAX_EVIDENCE = 12;

function cap(evidence: Evidence[]): { evidence: Evidence[]; moreEvidence?: number } {
  const seen = new Set<string>();
  const uniq = evidence.filter((e) => (seen.has(e.text) ? false : (seen.add(e.text), true)));
  return uniq.length > MAX_EVIDENCE ? { evidence: uniq.slice(0, MAX_EVIDENCE), moreEvidence: uniq.length - MAX_EVIDENCE } : { evidence: uniq };
}

const cfgEv = (text: string): Evidence => ({ source: 'config', text });

function nameEvidence(r: NamedResource): Evidence {
  const first = r.evidence[0]!;
  const role = r.role === 'unknown' ? '' : ` (${r.role})`;
  return { ...first, text: `${r.category} ${JSON.stringify(r.value)}${role}: ${first.text}` };
}

function list(xs: string[], max = 6): string {
  const u = [...new Set(xs)];
  return u.length <= max ? u.join(', ') : `${u.slice(0, max).join(', ')} and ${u.length - max} more`;
}

function q(s: string): string {
  return JSON.stringify(s);
}

/** What every issue's assessment reads: the input, and what is derived from it once. */
interface Context {
  input: AssessInput;
  cfg: ServiceConfig | undefined;
  bin: BinaryAnalysis | undefined;
  kind: ServiceKind | undefined;
  isDriver: boolean;
  svcName: string | undefined;
  unknownBinary: boolean;
  noBinaryEv: Evidence[];
  driverHow: string;
  importEv: (issue: number, filter?: (key: string) => boolean) => Evidence[];
  hasImport: (re: RegExp) => boolean;
  namesFor: (pred: (r: NamedResource) => boolean) => NamedResource[];
  push: (id: number, applies: Applies, resolution: Resolution, how: string, evidence: Evidence[]) => void;
  /** what the service shares with the host (dependencies that are drivers, devices): for the verdict */
  shared: { name: string; why: string }[];
}

/** #1, service identity */
function issue1(c: Context): void {
  const { cfg, bin, isDriver, namesFor, svcName, push, driverHow } = c;
  const ev: Evidence[] = [];
  if (cfg) ev.push(cfgEv(`service name ${q(cfg.name)}, display name ${q(cfg.displayName)}`));
  for (const t of bin?.service.dispatchTables ?? [])
    ev.push({
      ...t.evidence,
      text: `dispatch table with ${t.entries.length} entr${t.entries.length === 1 ? 'y' : 'ies'} (${t.entries.map((e) => e.name).join(', ')}): ${t.evidence.text}`,
    });
  for (const h of bin?.service.controlHandlers ?? []) ev.push(h.evidence);
  for (const r of namesFor((r) => r.category === 'service-name' && !r.detail.dispatchTable && !r.detail.api)) ev.push(nameEvidence(r));
  const hardCoded = [
    ...new Set([
      ...(bin?.service.dispatchTables ?? []).flatMap((t) => t.entries.map((e) => e.name)),
      ...(bin?.service.controlHandlers ?? []).map((h) => h.name),
    ]),
  ];
  const isService = !!cfg || !!bin?.service.imports.length || !!bin?.service.serviceMainExports.length;
  const name = svcName ?? '<name>';
  let how = `the duplicate is registered as ${name}@<vm>, display name "${cfg?.displayName ?? '<display>'} (<vm>)"; inside the VM it keeps the name ${name}`;
  if (hardCoded.length) how += `; the binary hard-codes ${list(hardCoded.map(q))}, which inside the VM names the duplicate`;
  if (isDriver) push(1, 'yes', 'not-resolvable', driverHow, ev);
  else push(1, isService ? 'yes' : 'possible', 'resolved', how, ev);
}

/** #2, configuration in the registry */
function issue2(c: Context): void {
  const { cfg, bin, isDriver, importEv, namesFor, svcName, push, driverHow } = c;
  const ev: Evidence[] = [];
  if (cfg) {
    ev.push(cfgEv(`HKLM\\SYSTEM\\CurrentControlSet\\Services\\${cfg.name} (ImagePath ${q(cfg.imagePath)})`));
    if (cfg.serviceDll) ev.push(cfgEv(`Services\\${cfg.name}\\Parameters\\ServiceDll = ${q(cfg.serviceDll)}`));
  }
  const regNames = namesFor((r) => r.category === 'registry' && r.role !== 'writes');
  for (const r of regNames) ev.push(nameEvidence(r));
  ev.push(...importEv(2));
  const ownKey = regNames.filter((r) => svcName && String(r.detail.service ?? '').toLowerCase() === svcName.toLowerCase());
  const otherKeys = regNames
    .filter((r) => r.detail.service && String(r.detail.service).toLowerCase() !== svcName?.toLowerCase())
    .map((r) => String(r.detail.service));
  let how = `inside the VM, ...\\Services\\${svcName ?? '<name>'} resolves to the VM's copy of that key`;
  if (ownKey.length) how += '; the binary reads its own key by name, which is exactly what the VM copy answers';
  if (otherKeys.length) how += `; it also reads the keys of ${list(otherKeys)}: the VM's copies where those are duplicated, the host's otherwise`;
  // every service has its key, whether or not the binary reads it
  const serviceBinary = !!bin && (bin.service.imports.length > 0 || bin.service.serviceMainExports.length > 0 || bin.format.kind === 'driver');
  if (!cfg && serviceBinary) ev.unshift(cfgEv('a service binary: whichever service runs it has a key HKLM\\SYSTEM\\CurrentControlSet\\Services\\<name>'));
  const applies: Applies = cfg || regNames.length || serviceBinary ? 'yes' : importEv(2).length ? 'possible' : 'no';
  if (isDriver) push(2, applies, 'not-resolvable', driverHow, ev);
  else push(2, applies, 'resolved', how, ev);
}

/** #3, SCM protocol */
function issue3(c: Context): void {
  const { cfg, bin, kind, isDriver, importEv, push, input } = c;
  const ev: Evidence[] = [];
  const tables = bin?.service.dispatchTables ?? [];
  for (const t of tables)
    ev.push({
      ...t.evidence,
      text: `StartServiceCtrlDispatcher table, ${t.entries.length} entr${t.entries.length === 1 ? 'y' : 'ies'}: ${t.entries.map((e) => `${e.name} -> ServiceMain at ${e.serviceMain}`).join(', ')}`,
    });
  for (const h of bin?.service.controlHandlers ?? []) ev.push(h.evidence);
  for (const e of bin?.service.serviceMainExports ?? []) ev.push({ source: 'export', text: `exports ${e} (a svchost ServiceDll)`, file: bin!.file });
  ev.push(...importEv(3));
  if (cfg && !isDriver) ev.push(cfgEv(`Type 0x${cfg.type.toString(16)} (${kind})`));
  const entries = tables.reduce((n, t) => Math.max(n, t.entries.length), 0);
  const isService = !!cfg || ev.length > 0;
  let how = `the duplicate's ImagePath is svcdup-host.exe: it is the service to the SCM and relays start arguments, controls and status to ${input.codeFile?.path ?? 'the real image'} running in the VM`;
  if (entries > 1)
    how += `; the executable's dispatch table holds ${entries} services (${list(tables.flatMap((t) => t.entries.map((e) => e.name)))}): the duplicate runs the one duplicated`;
  if (bin?.service.serviceMainExports.length) how += "; a ServiceDll's ServiceMain is called by svchost inside the VM";
  if (isDriver)
    push(3, 'no', 'not-needed', 'drivers have no SCM control pipe: the kernel loads them', cfg ? [cfgEv(`Type 0x${cfg.type.toString(16)} (${kind})`)] : []);
  else push(3, isService ? 'yes' : 'no', 'resolved', how, ev);
}

/** #4, process hosting */
function issue4(c: Context): void {
  const { cfg, bin, isDriver, svcName, push, input } = c;
  const ev: Evidence[] = [];
  let applies: Applies = 'no';
  let how = 'the service runs in its own process: nothing is shared with other services';
  const sv = input.svchost;
  if (sv) {
    applies = 'yes';
    ev.push(cfgEv(`ImagePath ${q(cfg!.imagePath)}: svchost group ${q(sv.group)}`));
    if (sv.registryMembers)
      ev.push({ source: 'registry', text: `HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Svchost\\${sv.group} = ${list(sv.registryMembers, 20)}` });
    ev.push(cfgEv(`services run by "svchost -k ${sv.group}": ${list(sv.sameGroup, 20)}`));
    const seen = new Set<string>([svcName?.toLowerCase() ?? '']);
    const others = [...sv.sameGroup, ...(sv.registryMembers ?? [])].filter((n) => (seen.has(n.toLowerCase()) ? false : (seen.add(n.toLowerCase()), true)));
    how = `svcdup runs "svchost -k" inside the VM with a VM-private group holding only the services duplicated there`;
    how += others.length
      ? `; its neighbours in ${q(sv.group)} (${list(others, 20)}) stay on the host unless they are duplicated too`
      : '; it has no neighbours in its group';
  } else if (bin?.service.serviceMainExports.length && bin.format.kind === 'dll') {
    applies = 'yes';
    ev.push({ source: 'export', text: `exports ${bin.service.serviceMainExports.join(', ')}: a ServiceDll, hosted by svchost`, file: bin.file });
    how = 'svcdup runs "svchost -k" inside the VM with a VM-private group holding only the services duplicated there';
  }
  const tables = bin?.service.dispatchTables ?? [];
  const multi = tables.find((t) => t.entries.length > 1);
  if (multi) {
    applies = 'yes';
    ev.push({ ...multi.evidence, text: `one executable, ${multi.entries.length} services: ${multi.entries.map((e) => e.name).join(', ')}` });
    if (!sv)
      how = `the executable can host ${multi.entries.length} services (${list(multi.entries.map((e) => e.name))}); in the VM it runs only the ones duplicated there`;
  }
  if (cfg && !sv && cfg.type & 0x20) {
    ev.push(cfgEv(`Type 0x${cfg.type.toString(16)}: SERVICE_WIN32_SHARE_PROCESS`));
    if (applies === 'no') applies = 'possible';
  }
  if (cfg && /svchost/i.test(cfg.imagePath)) ev.push(cfgEv("Wine's SCM starts every svchost service in a process of its own; Windows shares one per group"));
  if (isDriver) push(4, 'no', 'not-needed', 'drivers are loaded by the kernel, not hosted in a process', []);
  else push(4, applies, 'resolved', how, ev);
}

/** #5, dependencies */
function issue5(c: Context): void {
  const { cfg, isDriver, importEv, hasImport, svcName, push, driverHow, input, shared } = c;
  const ev: Evidence[] = [];
  const deps = input.dependencies ?? [];
  if (cfg?.dependOnService.length) ev.push(cfgEv(`DependOnService = ${cfg.dependOnService.join(', ')}`));
  if (cfg?.dependOnGroup.length) ev.push(cfgEv(`DependOnGroup = ${cfg.dependOnGroup.join(', ')}`));
  for (const d of deps) {
    const chain = d.via.length > 1 ? ` (through ${d.via.slice(1).join(' -> ')})` : '';
    ev.push(
      cfgEv(
        `${d.kind} ${d.name}${chain}${d.kind === 'group' ? `: ${list(d.members ?? [], 20) || 'no members'}` : d.type !== undefined ? `, type 0x${d.type.toString(16)}, start ${d.start}` : ''}`,
      ),
    );
  }
  // implicit dependencies the configuration does not declare
  const implicit: string[] = [];
  const rpcssUses = importEv(5).concat(importEv(7, (k) => k === 'RpcServerUseProtseq' || k === 'RpcServerUseProtseqEx' || k === 'RpcServerUseAllProtseqs'));
  const declaresRpcss = deps.some((d) => d.name.toLowerCase() === 'rpcss');
  if (rpcssUses.length && !declaresRpcss && svcName?.toLowerCase() !== 'rpcss') {
    implicit.push('RpcSs');
    ev.push(...rpcssUses.map((e) => ({ ...e, text: `${e.text} (needs RpcSs; not declared)` })));
  }
  const usesHttp = hasImport(/^Http(AddUrl|CreateHttpHandle|CreateRequestQueue|Initialize)/);
  if (usesHttp && !deps.some((d) => d.name.toLowerCase() === 'http') && !isDriver) {
    implicit.push('HTTP');
    ev.push(
      ...importEv(11, (k) => /^Http/.test(k))
        .slice(0, 3)
        .map((e) => ({ ...e, text: `${e.text} (needs the HTTP driver; not declared)` })),
    );
  }
  const driverDeps = deps.filter((d) => d.kind === 'driver');
  for (const d of driverDeps)
    shared.push({
      name: d.name,
      why: `kernel driver in the dependency closure (${d.via.join(' -> ')} -> ${d.name}): cannot be duplicated, shared with the host`,
    });
  if (usesHttp && !isDriver) {
    const httpName = input.allServices?.find((s) => s.name.toLowerCase() === 'http')?.name ?? 'HTTP';
    if (!shared.some((s) => s.name.toLowerCase() === httpName.toLowerCase()))
      shared.push({ name: httpName, why: 'http.sys (kernel driver) serves its URLs: shared with the host, its URL namespace rewritten per VM' });
  }
  const userDeps = deps.filter((d) => d.kind === 'service').map((d) => d.name);
  const missing = deps.filter((d) => d.kind === 'missing').map((d) => d.name);
  let how = '';
  const userAll = [...userDeps, ...implicit.filter((n) => n !== 'HTTP')];
  if (userAll.length)
    how += `${userAll.length === 1 ? userAll[0] : `each of ${list(userAll)}`} is either duplicated into the VM with it or explicitly shared with the host; svcdup starts dependencies in order (Wine's SCM never starts them)`;
  if (driverDeps.length || implicit.includes('HTTP'))
    how += `${how ? '; ' : ''}${list([...driverDeps.map((d) => d.name), ...implicit.filter((n) => n === 'HTTP')])} ${driverDeps.length + (implicit.includes('HTTP') ? 1 : 0) > 1 ? 'are kernel drivers' : 'is a kernel driver'}: shared with the host`;
  if (missing.length) how += `${how ? '; ' : ''}${list(missing)} ${missing.length > 1 ? 'are' : 'is'} not installed: the service will not start here either`;
  const applies: Applies = deps.length || implicit.length ? 'yes' : 'no';
  if (isDriver) push(5, applies, 'not-resolvable', driverHow, ev);
  else push(5, applies, driverDeps.length || implicit.includes('HTTP') ? 'shared' : 'resolved', how || 'no dependencies', ev);
}

/** #6, named kernel objects */
function issue6(c: Context): void {
  const { bin, isDriver, importEv, namesFor, unknownBinary, noBinaryEv, push, driverHow } = c;
  const objs = namesFor((r) => r.category === 'kernel-object' || r.category === 'object-path');
  const ev = objs.map(nameEvidence);
  const apiEv = importEv(6);
  // creation calls whose name argument was recovered as NULL create unnamed objects
  const creating = (bin?.calls ?? []).filter((c) => lookupApi(c.api)?.info.issues.includes(6));
  const allUnnamed = creating.length > 0 && creating.every((c) => c.args.some((a) => a.role === 'object name' && a.value === null));
  let applies: Applies = objs.length ? 'yes' : apiEv.length ? 'possible' : 'no';
  if (!objs.length && apiEv.length && allUnnamed && apiEv.length <= creating.length) applies = 'no';
  if (unknownBinary) applies = 'possible';
  const how = objs.length
    ? `every named object a VM process creates or opens is renamed into the VM's namespace: ${list(objs.map((o) => q(o.value)))}`
    : applies === 'possible'
      ? "the binary can create named objects but no name was found statically (names built at run time?): whatever it names is renamed into the VM's namespace; svcdup analyze --trace lists them at run time"
      : 'no named kernel objects';
  push(6, applies, isDriver ? 'not-resolvable' : 'resolved', isDriver ? driverHow : how, [...ev, ...apiEv, ...noBinaryEv]);
}

/** #7, IPC endpoints */
function issue7(c: Context): void {
  const { isDriver, importEv, hasImport, namesFor, unknownBinary, noBinaryEv, push, driverHow } = c;
  const ipc = namesFor(
    (r) =>
      ['pipe', 'mailslot', 'alpc-port', 'rpc-endpoint'].includes(r.category) ||
      (r.category === 'rpc-protseq' && r.role === 'serves') ||
      (r.category === 'com-class' && (r.role === 'serves' || /LocalServer/i.test(String(r.detail.server ?? '')))),
  ).filter((r) => r.role !== 'connects' && r.role !== 'opens');
  const ev = ipc.map(nameEvidence);
  const servers = importEv(7);
  const applies: Applies = ipc.length ? 'yes' : servers.length ? 'possible' : unknownBinary ? 'possible' : 'no';
  const parts: string[] = [];
  const pipes = ipc.filter((r) => r.category === 'pipe').map((r) => r.name);
  const slots = ipc.filter((r) => r.category === 'mailslot').map((r) => r.name);
  const eps = ipc.filter((r) => r.category === 'rpc-endpoint').map((r) => `${r.detail.protseq}:${r.detail.endpoint}`);
  const coms = ipc.filter((r) => r.category === 'com-class').map((r) => r.name);
  if (pipes.length) parts.push(`pipes ${list(pipes)}`);
  if (slots.length) parts.push(`mailslots ${list(slots)}`);
  if (eps.length) parts.push(`RPC endpoints ${list(eps)}`);
  if (coms.length) parts.push(`COM classes ${list(coms)}`);
  let how = `pipes and ports are renamed per VM for servers and clients alike, so VM clients reach VM servers; RPC and COM follow without special cases${parts.length ? `: ${parts.join('; ')}` : ''}`;
  if (eps.some((e) => e.startsWith('ncalrpc:'))) how += '. On Wine an ncalrpc endpoint is the named pipe \\\\.\\pipe\\lrpc\\<endpoint>, renamed like any pipe';
  if (hasImport(/^RpcServerUse(All)?Protseqs?(Ex)?$/) || hasImport(/^RpcEpRegister/))
    how += ". Dynamic endpoints are registered with epmapper: with the VM's RpcSs when RpcSs is duplicated too, else with the host's";
  if (applies === 'possible' && !ipc.length)
    how =
      'the binary serves IPC (see imports) but no endpoint name was found statically: whatever it creates is renamed per VM; svcdup analyze --trace lists them at run time';
  if (applies === 'no') how = 'no IPC endpoints served';
  push(7, applies, isDriver ? 'not-resolvable' : 'resolved', isDriver ? driverHow : how, [...ev, ...servers, ...noBinaryEv]);
}

/** #8, network endpoints */
function issue8(c: Context): void {
  const { isDriver, importEv, hasImport, namesFor, unknownBinary, noBinaryEv, push, driverHow, input } = c;
  const net = namesFor(
    (r) =>
      r.category === 'port' ||
      (r.category === 'url' && (!!r.detail.httpSys || !!r.detail.httpSysReservation)) ||
      (r.category === 'rpc-endpoint' && r.issues.includes(8)),
  );
  const ev = net.map(nameEvidence);
  const sock = importEv(8);
  const serverSock = hasImport(/^(bind|listen|accept|AcceptEx|WSAAccept|HttpAddUrl|HttpAddUrlToUrlGroup)$/);
  const applies: Applies =
    net.length || input.footprint?.ports.length ? 'yes' : serverSock ? 'possible' : sock.length ? 'possible' : unknownBinary ? 'possible' : 'no';
  const fpPorts = input.footprint?.ports ?? [];
  for (const p of fpPorts) ev.push(cfgEv(`port ${p.port}${p.address ? ` on ${p.address}` : ''}: ${p.source}`));
  const ports = [...net.filter((r) => r.category === 'port').map((r) => r.name), ...fpPorts.map((p) => String(p.port))];
  const urls = net.filter((r) => r.category === 'url').map((r) => r.value);
  let how = 'each VM has its own address (default: one in 127.77.0.0/16) or a port map; bind, connect and getsockname are rewritten';
  if (ports.length) how += `: ports ${list(ports)}`;
  if (urls.length) how += `; http.sys URLs ${list(urls)} are rewritten per VM`;
  if (applies === 'no') how = 'no network endpoints';
  push(8, applies, isDriver ? 'not-resolvable' : 'resolved', isDriver ? driverHow : how, [...ev, ...sock, ...noBinaryEv]);
}

/** #9, state on disk and in the registry: the paths and keys, the rule each gets, the snapshot */
function issue9(c: Context): void {
  const { isDriver, importEv, namesFor, unknownBinary, noBinaryEv, push, driverHow, input } = c;
  const st = namesFor((r) => r.category === 'file' || (r.category === 'registry' && r.role === 'writes'));
  const ev = st.map(nameEvidence);
  const writes = importEv(9);
  const state = input.state;
  for (const p of state?.paths ?? [])
    ev.unshift(
      cfgEv(
        `${p.kind} ${p.path}: ${p.why}; rule ${p.rule}${p.ruleSource !== 'default' ? ` (${p.ruleSource})` : ' (default)'}${p.snapshot ? '; snapshotted' : ''}`,
      ),
    );
  const applies: Applies = st.length || state?.paths.length ? 'yes' : writes.length || unknownBinary ? 'possible' : 'no';
  let how: string;
  if (applies === 'no') how = 'no writes to disk or registry found';
  else if (state) how = stateHow(state);
  else
    how = `whatever it writes is copied up into the VM on first write (cow), unless the VM's policy says otherwise for its path${st.length ? `: ${list(st.map((r) => q(r.value)))}` : ''}`;
  const open = (state?.paths ?? []).some((p) => p.rule === 'open');
  push(9, applies, isDriver ? 'not-resolvable' : open ? 'shared' : 'resolved', isDriver ? driverHow : how, [...ev, ...writes, ...noBinaryEv]);
}

/** #10, control across VMs */
function issue10(c: Context): void {
  const { cfg, isDriver, importEv, hasImport, namesFor, push, driverHow, input } = c;
  const ctl = importEv(10);
  const opened = namesFor((r) => r.category === 'service-name' && r.role === 'opens');
  const ev = [...opened.map(nameEvidence), ...ctl];
  const fa = input.failureActions;
  const notes: string[] = [];
  if (fa) {
    for (const a of fa.actions)
      if (a.type !== 'none')
        ev.push(cfgEv(`FailureActions: ${a.type} after ${a.delayMs} ms${a.type === 'run-command' && fa.command ? ` (${q(fa.command)})` : ''}`));
    if (fa.actions.some((a) => a.type === 'run-command')) notes.push('its failure action runs a command, which the SCM starts on the host, outside the VM');
    if (fa.actions.some((a) => a.type === 'reboot')) notes.push('its failure action reboots the machine, VMs and host alike');
  }
  if (cfg) ev.push(cfgEv(`runs as ${cfg.account || 'LocalSystem'}: VMs separate names, not privileges`));
  const applies: Applies = ctl.length || opened.length || notes.length || input.footprint?.programs.length ? 'yes' : 'no';
  let how = "VM processes see only their VM's services and processes; host-only names are open by explicit policy";
  const programs = input.footprint?.programs ?? [];
  for (const p of programs) ev.push(cfgEv(`starts ${p.path} (${p.source}: ${p.evidence})${p.exists ? '' : ', not found on the host'}`));
  if (hasImport(/^(CreateProcess|CreateProcessAsUser|ShellExecute|ShellExecuteEx|WinExec)$/) || programs.length)
    how += `; child processes are started inside the VM (the hook follows them)${programs.length ? `: ${list(programs.map((p) => p.path))}` : ''}`;
  if (notes.length) how += `; ${notes.join('; ')}`;
  push(
    10,
    applies,
    isDriver ? 'not-resolvable' : 'resolved',
    isDriver ? driverHow : applies === 'no' ? 'the binary does not control other services or processes' : how,
    ev,
  );
}

/** #11, kernel-mode parts */
function issue11(c: Context): void {
  const { cfg, bin, kind, isDriver, importEv, hasImport, namesFor, svcName, push, input, shared } = c;
  const ev: Evidence[] = [];
  const devices = namesFor((r) => r.category === 'device');
  const httpUrls = namesFor((r) => r.category === 'url' && (!!r.detail.httpSys || !!r.detail.httpSysReservation));
  if (isDriver) {
    if (cfg) ev.push(cfgEv(`Type 0x${cfg.type.toString(16)} (${kind})`));
    if (bin) {
      ev.push({ source: 'header', text: `subsystem ${bin.format.subsystem}`, file: bin.file });
      const k = bin.imports.filter((d) => /^(ntoskrnl\.exe|hal\.dll|ndis\.sys|wdfldr\.sys|fltmgr\.sys|netio\.sys)$/i.test(d.dll));
      for (const d of k) ev.push({ source: 'import', text: `imports ${d.functions.length} functions from ${d.dll}`, file: bin.file });
    }
    ev.push(...devices.map(nameEvidence));
    const isHttp = svcName?.toLowerCase() === 'http' || devices.some((d) => /^\\Device\\Http\b/i.test(d.value));
    let how =
      'a kernel driver cannot be duplicated from user mode: there is one copy, in the kernel, for the host and every VM. svcdup virtualizes its namespaces instead';
    if (devices.length) how += ` (device names: ${list(devices.map((d) => d.value))})`;
    if (isHttp) how += "; for http.sys that means the URLs services reserve in it: each VM's reservations are rewritten so that they do not collide";
    push(11, 'yes', 'not-resolvable', how, ev);
  } else {
    ev.push(...httpUrls.map(nameEvidence), ...devices.map(nameEvidence), ...importEv(11));
    const driverDeps = (input.dependencies ?? []).filter((d) => d.kind === 'driver');
    for (const d of driverDeps) ev.push(cfgEv(`depends on kernel driver ${d.name}`));
    for (const d of devices)
      if (/^\\\\\.\\|^\\\?\?\\|^\\DosDevices\\/i.test(d.value) || d.detail.kind === 'dos-device')
        shared.push({ name: d.value, why: 'a device: its driver is shared with the host' });
    const applies: Applies = ev.length ? 'yes' : 'no';
    const parts: string[] = [];
    if (httpUrls.length || hasImport(/^Http/))
      parts.push(
        `http.sys is shared with the host; its URL namespace is virtualized: ${httpUrls.length ? list(httpUrls.map((u) => u.value)) : 'the URLs it reserves'} are rewritten per VM`,
      );
    if (devices.length) parts.push(`devices ${list(devices.map((d) => d.value))} belong to drivers shared with the host`);
    if (driverDeps.length) parts.push(`${list(driverDeps.map((d) => d.name))} stay${driverDeps.length === 1 ? 's' : ''} shared`);
    push(11, applies, 'shared', applies === 'no' ? 'no kernel-mode parts' : parts.join('; '), ev);
  }
}

/** #12, clients */
function issue12(c: Context): void {
  const { isDriver, importEv, namesFor, push, driverHow, input } = c;
  const cl = namesFor((r) => r.role === 'connects' || r.role === 'opens' || r.category === 'rpc-binding');
  const ev = [...cl.map(nameEvidence), ...importEv(12)];
  if (input.dependents?.length) ev.push(cfgEv(`services that depend on it: ${input.dependents.join(', ')}`));
  const applies: Applies = cl.length || input.dependents?.length ? 'yes' : importEv(12).length ? 'possible' : 'no';
  const svcs = cl.filter((r) => r.category === 'service-name').map((r) => r.name);
  let how = "the same renaming applies to clients, so a client in the VM finds the VM's instance";
  if (svcs.length) how += `: OpenService(${list(svcs.map(q))}) inside the VM means ${list(svcs.map((s) => `${s}@<vm>`))} where duplicated`;
  if (input.dependents?.length) how += `; its dependents (${list(input.dependents)}) on the host keep using the host's instance`;
  push(
    12,
    applies,
    isDriver ? 'not-resolvable' : 'resolved',
    isDriver ? driverHow : applies === 'no' ? 'the binary is not a client of other services' : how,
    ev,
  );
}

/** One function an issue, in the order of ISSUES. */
const ISSUE_ASSESSMENTS: readonly ((c: Context) => void)[] = [
  issue1,
  issue2,
  issue3,
  issue4,
  issue5,
  issue6,
  issue7,
  issue8,
  issue9,
  issue10,
  issue11,
  issue12,
];

/** Assess the twelve issues and the verdict. */
export function assess(input: AssessInput): AnalyzeReport {
  const cfg = input.config;
  const bin = input.binary;
  const warnings = [...(input.warnings ?? [])];
  if (input.binaryError) warnings.push(input.binaryError);
  const kind: ServiceKind | undefined = cfg ? serviceKind(cfg) : undefined;
  const isDriver = (cfg ? isDriverType(cfg.type) : false) || bin?.format.kind === 'driver';
  const names = bin?.names ?? [];
  const imports = bin ? bin.imports.flatMap((d) => d.functions.map((f) => ({ dll: d.dll, name: f }))) : [];
  const importEv = (issue: number, filter?: (key: string) => boolean): Evidence[] =>
    imports
      .map((i) => ({ i, api: lookupApi(i.name) }))
      .filter(({ api }) => api?.info.issues.includes(issue) && (!filter || filter(api.key)))
      .map(({ i, api }) => ({ source: 'import' as const, text: `imports ${i.dll}!${i.name}: ${api!.info.what}`, ...(bin ? { file: bin.file } : {}) }));
  const hasImport = (re: RegExp): boolean => imports.some((i) => re.test(lookupApi(i.name)?.key ?? i.name));
  const namesFor = (pred: (r: NamedResource) => boolean): NamedResource[] => names.filter(pred);
  const svcName = cfg?.name;
  const unknownBinary = !bin;
  const noBinaryEv: Evidence[] = unknownBinary && input.binaryError ? [cfgEv(`code file not analyzed: ${input.binaryError}`)] : [];
  const issues: IssueAssessment[] = [];
  const push = (id: number, applies: Applies, resolution: Resolution, how: string, evidence: Evidence[]): void => {
    const meta = ISSUES[id - 1]!;
    issues.push({ id, key: meta.key, title: meta.title, applies, resolution: applies === 'no' ? 'not-needed' : resolution, how, ...cap(evidence) });
  };
  const driverHow = 'a kernel driver is not duplicated (see #11)';
  const shared: { name: string; why: string }[] = [];
  const c: Context = { input, cfg, bin, kind, isDriver, svcName, unknownBinary, noBinaryEv, driverHow, importEv, hasImport, namesFor, push, shared };
  for (const one of ISSUE_ASSESSMENTS) one(c);

  // verdict: the same function `dup` asks (verdict.ts)
  const verdict: Verdict = decideVerdict({
    label: svcName ?? bin?.file ?? input.target.input,
    ...(cfg ? { config: cfg } : {}),
    ...(input.hostFacts ? { facts: input.hostFacts } : {}),
    driverBinary: isDriver,
    closureProblems: input.closureProblems ?? [],
    duplicatedDependencies: input.duplicatedDependencies ?? [],
    shared,
    ports: input.footprint?.ports ?? [],
  });

  const report: AnalyzeReport = {
    schema: REPORT_SCHEMA,
    target: input.target,
    issues,
    verdict,
    trace: null,
    warnings: [...warnings, ...(bin?.warnings ?? [])],
  };
  if (cfg) {
    report.service = {
      name: cfg.name,
      displayName: cfg.displayName,
      kind: kind!,
      type: cfg.type,
      start: cfg.start,
      account: cfg.account,
      imagePath: cfg.imagePath,
      ...(cfg.serviceDll ? { serviceDll: cfg.serviceDll } : {}),
      loadOrderGroup: cfg.loadOrderGroup,
      codeFile: input.codeFile ?? { path: cfg.imagePath, role: 'image' },
      ...(input.svchost ? { svchost: input.svchost } : {}),
      dependOnService: cfg.dependOnService,
      dependOnGroup: cfg.dependOnGroup,
      dependencies: input.dependencies ?? [],
      ...(input.dependents ? { dependents: input.dependents } : {}),
      ...(input.failureActions ? { failureActions: input.failureActions } : {}),
    };
  }
  if (input.footprint) report.footprint = input.footprint;
  if (input.state) report.state = input.state;
  if (bin) report.binary = bin;
  return report;
}
