// A service by name, through the host backend: its configuration, key and files, its
// dependency closure, its code, the programs it starts, its settings and configuration
// files; then the pure assessment. `analyzeAll` does every service with what they share
// read once; `dupCheck` is the lean form `dup` asks before it registers anything.
import { existsSync } from 'node:fs';
import type { HostBackend, RegTree, RegValue, ServiceConfig, ServiceStatus } from '../backend/types.js';
import { AgentError, SvcdupError, UsageError, Win32 } from '../errors.js';
import { closureOf } from '../plan/closure.js';
import { snapshotFolders } from '../plan/snapshot.js';
import { analyzeBinary, type BinaryAnalysis } from './binary.js';
import { codeFileOf, imageOf, parseFailureActions, svchostGroupOf, svchostInfo, type FailureActions } from './config.js';
import { MalformedPeError } from '../pe/errors.js';
import { defaultRead, listFolder, readPe } from './files.js';
import { type ConfigFileRead, configFileSearch, configFoldersOf, readConfigFiles } from './configfiles.js';
import { assembleFootprint, directSettings } from './footprint.js';
import { assess } from './issues.js';
import type { AnalyzeReport, FootprintSection, ProgramFinding, StateSection, Verdict } from './report.js';
import { isWinPath, parseCommandLine, winDirname } from './settings.js';
import { stateSection } from './state.js';
import { decideVerdict, dupRefusal, type DependencyFacts, type HostFacts } from './verdict.js';

export const SERVICES_KEY = 'HKLM\\SYSTEM\\CurrentControlSet\\Services';

/** What the analysis needs from a host backend (ManagedBackend has it all). */
export interface AnalyzeHost {
  call: HostBackend['call'];
  /** a Windows path of the host as a path this process can read */
  toHostPath(winPath: string): string;
}

/** What analyses of several services on one host share: the service list, configurations, and files already read. */
export interface HostSnapshot {
  statuses: ServiceStatus[];
  configs: ServiceConfig[];
  /** host path -> its analysis (or why it could not be read), so a file shared by many services is read once */
  binaries: Map<string, Promise<BinaryAnalysis | Error>>;
  /** service name (lowercase) -> its host facts, read once */
  facts: Map<string, Promise<KeyedFacts>>;
  /** the whole Services key, read in one call for --all (undefined: each service's key is read by itself) */
  servicesTree?: RegTree;
  /** svchost group (lowercase) -> the Svchost key's list */
  svchostGroups: Map<string, Promise<string[] | undefined>>;
  backend?: 'wine' | 'windows';
}

type KeyedFacts = HostFacts & { key?: { values: RegValue[]; parameters?: RegTree } };

export interface ServiceAnalysisOptions {
  read?: (p: string) => Promise<Uint8Array>;
  /** policy text of the VM the state rules come from (kinds `files` and `keys`), and its name */
  policy?: { name: string; text: string };
  snapshot?: HostSnapshot;
}

async function tryCall<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof AgentError) return undefined;
    throw err;
  }
}

/** The service list and every configuration, read once (configurations in parallel); with `wholeKey`, the Services key in one call too. */
export async function hostSnapshot(host: AnalyzeHost, wholeKey = false): Promise<HostSnapshot> {
  const servicesTree = wholeKey ? await tryCall(host.call('reg.export', { key: SERVICES_KEY })) : undefined;
  const statuses = (await tryCall(host.call('scm.list', {}))) ?? [];
  // each scm.config is several SCM round trips (about 10 ms, 150 ms on a loaded machine): with the
  // whole key at hand, a service's configuration is read from its key, the SCM asked only for the rest
  const keys = new Map((servicesTree?.subkeys ?? []).map((k) => [k.name.toLowerCase(), k]));
  const configs = (
    await Promise.all(
      statuses.map((s) => {
        const k = keys.get(s.name.toLowerCase());
        const fromKey = k ? configFromKey(k) : undefined;
        return fromKey ?? tryCall(host.call('scm.config', { name: s.name }));
      }),
    )
  ).filter((c): c is ServiceConfig => !!c);
  const kind = (host as { kind?: unknown }).kind;
  return {
    statuses,
    configs,
    binaries: new Map(),
    facts: new Map(),
    svchostGroups: new Map(),
    ...(servicesTree ? { servicesTree } : {}),
    ...(kind === 'wine' || kind === 'windows' ? { backend: kind } : {}),
  };
}

const START = ['BOOT', 'SYSTEM', 'AUTO', 'DEMAND', 'DISABLED'] as const;

/** A service's configuration as its Services key holds it (what the SCM writes there), or undefined when the key lacks Type. */
export function configFromKey(k: RegTree): ServiceConfig | undefined {
  const v = (n: string): RegValue | undefined => k.values.find((x) => x.name.toLowerCase() === n.toLowerCase());
  const str = (n: string): string => {
    const x = v(n);
    return x && typeof x.data === 'string' && (x.type === 'REG_SZ' || x.type === 'REG_EXPAND_SZ') ? x.data : '';
  };
  const multi = (n: string): string[] => {
    const x = v(n);
    return x?.type === 'REG_MULTI_SZ' ? x.data.filter(Boolean) : x && typeof x.data === 'string' && x.type === 'REG_SZ' && x.data ? [x.data] : [];
  };
  const num = (n: string): number | undefined => {
    const x = v(n);
    return x?.type === 'REG_DWORD' ? x.data : undefined;
  };
  const type = num('Type');
  if (type === undefined) return undefined;
  const params = k.subkeys.find((t) => t.name.toLowerCase() === 'parameters');
  const dllValue = params?.values.find((x) => x.name.toLowerCase() === 'servicedll') ?? v('ServiceDll');
  const serviceDll = dllValue && typeof dllValue.data === 'string' && dllValue.data ? dllValue.data : undefined;
  const imagePath = str('ImagePath');
  const group = svchostGroupOf(imagePath);
  return {
    name: k.name,
    displayName: str('DisplayName') || k.name,
    type,
    start: START[num('Start') ?? 3] ?? 'DISABLED',
    errorControl: num('ErrorControl') ?? 1,
    imagePath,
    loadOrderGroup: str('Group'),
    account: str('ObjectName') || (type & 0x30 ? 'LocalSystem' : ''),
    dependOnService: multi('DependOnService'),
    dependOnGroup: multi('DependOnGroup'),
    description: str('Description'),
    ...(serviceDll ? { serviceDll } : {}),
    ...(group ? { svchostGroup: group } : {}),
  };
}

/** A Windows path as a local file, or undefined when it maps to none. */
function local(host: AnalyzeHost, winPath: string): string | undefined {
  try {
    return host.toHostPath(winPath);
  } catch {
    return undefined;
  }
}

function exists(host: AnalyzeHost, winPath: string): boolean | undefined {
  if (!isWinPath(winPath) && !/^\\SystemRoot\\|^system32\\/i.test(winPath)) return undefined;
  const p = local(host, winPath);
  return p === undefined ? undefined : existsSync(p);
}

/** The facts `dup` and the verdict need: key, files, state. */
export async function hostFacts(
  host: AnalyzeHost,
  cfg: ServiceConfig,
  status: ServiceStatus | undefined,
  backend?: 'wine' | 'windows',
  servicesTree?: RegTree,
): Promise<KeyedFacts> {
  let keyExists = true;
  let values: RegValue[] = [];
  let parameters: RegTree | undefined;
  if (servicesTree) {
    const k = servicesTree.subkeys.find((t) => t.name.toLowerCase() === cfg.name.toLowerCase());
    keyExists = !!k;
    values = k?.values ?? [];
    parameters = k?.subkeys.find((t) => t.name.toLowerCase() === 'parameters');
  } else {
    try {
      const k = await host.call('reg.query', { key: `${SERVICES_KEY}\\${cfg.name}` });
      values = k.values;
      if (k.subkeys.some((s) => s.toLowerCase() === 'parameters'))
        parameters = await tryCall(host.call('reg.export', { key: `${SERVICES_KEY}\\${cfg.name}\\Parameters` }));
    } catch (err) {
      if (!(err instanceof AgentError)) throw err;
      // a stand-in host may not know reg.query: only "not found" says the key is missing
      if (err.code === Win32.ERROR_FILE_NOT_FOUND) keyExists = false;
    }
  }
  const image = imageOf(cfg.imagePath);
  const imageExists = cfg.imagePath.trim() ? exists(host, image) : undefined;
  const serviceDllExists = cfg.serviceDll ? exists(host, cfg.serviceDll) : undefined;
  return {
    keyExists,
    ...(imageExists !== undefined ? { imageExists } : {}),
    ...(serviceDllExists !== undefined ? { serviceDllExists } : {}),
    running: status?.state === 'RUNNING',
    ...(backend ? { backend } : {}),
    key: { values, ...(parameters ? { parameters } : {}) },
  };
}

/** The string values of a Parameters tree (one level of subkeys too), as settings. */
function parameterValues(tree: RegTree | undefined): { name: string; value: string }[] {
  if (!tree) return [];
  const out: { name: string; value: string }[] = [];
  const add = (prefix: string, t: RegTree): void => {
    for (const v of t.values) {
      if (typeof v.data === 'string' && (v.type === 'REG_SZ' || v.type === 'REG_EXPAND_SZ')) out.push({ name: `${prefix}${v.name}`, value: v.data });
      else if (Array.isArray(v.data)) for (const s of v.data.slice(0, 50)) out.push({ name: `${prefix}${v.name}`, value: s });
      else if (v.type === 'REG_DWORD' && typeof v.data === 'number') out.push({ name: `${prefix}${v.name}`, value: String(v.data) });
    }
  };
  add('', tree);
  for (const s of tree.subkeys.slice(0, 50)) add(`${s.name}\\`, s);
  return out.slice(0, 500);
}

async function binaryOf(
  _host: AnalyzeHost,
  winPath: string,
  hostPath: string,
  read: (p: string) => Promise<Uint8Array>,
  snap: HostSnapshot | undefined,
  knownServices: string[],
): Promise<BinaryAnalysis | Error> {
  const key = hostPath.toLowerCase();
  const cached = snap?.binaries.get(key);
  if (cached) return cached;
  const p = (async (): Promise<BinaryAnalysis | Error> => {
    try {
      return analyzeBinary(await readPe(hostPath, read), { file: winPath, knownServices });
    } catch (err) {
      if (err instanceof MalformedPeError) return err;
      if (err instanceof SvcdupError && !(err instanceof UsageError)) throw err;
      return new Error(`cannot read ${winPath} (${hostPath}): ${(err as Error).message}`);
    }
  })();
  snap?.binaries.set(key, p);
  return p;
}

/** Programs the service starts: named in its code (bare names looked up in its own folder), given as arguments or Parameters. */
async function findPrograms(
  host: AnalyzeHost,
  image: string,
  binary: BinaryAnalysis | undefined,
  argPrograms: { path: string; source: ProgramFinding['source']; evidence: string }[],
): Promise<ProgramFinding[]> {
  const own = isWinPath(image) ? winDirname(image) : undefined;
  const ownFiles = own ? new Set((await listFolder(local(host, own) ?? '/nonexistent')).map((f) => f.toLowerCase())) : new Set<string>();
  const out: ProgramFinding[] = [];
  const seen = new Set<string>([image.toLowerCase()]);
  const add = (p: ProgramFinding): void => {
    if (seen.has(p.path.toLowerCase()) || out.length >= 20) return;
    seen.add(p.path.toLowerCase());
    out.push(p);
  };
  for (const a of argPrograms) add({ path: a.path, source: a.source, evidence: a.evidence, exists: exists(host, a.path) ?? false });
  for (const p of binary?.programs ?? []) {
    if (isWinPath(p.value)) add({ path: p.value, source: 'string', evidence: p.evidence.text, exists: exists(host, p.value) ?? false });
    // a bare name is a program of its own folder only when the folder holds it (else it is a system tool, a name in a message, ...)
    else if (own && !p.value.includes('\\') && ownFiles.has(p.value.toLowerCase()))
      add({ path: `${own}\\${p.value}`, source: 'own-folder', evidence: p.evidence.text, exists: true });
  }
  return out;
}

export async function analyzeService(
  name: string,
  host: AnalyzeHost,
  readOrOpts: ((p: string) => Promise<Uint8Array>) | ServiceAnalysisOptions = {},
): Promise<AnalyzeReport> {
  const opts: ServiceAnalysisOptions = typeof readOrOpts === 'function' ? { read: readOrOpts } : readOrOpts;
  const read = opts.read ?? defaultRead;
  let cfg: ServiceConfig;
  try {
    cfg = opts.snapshot?.configs.find((c) => c.name.toLowerCase() === name.toLowerCase()) ?? (await host.call('scm.config', { name }));
  } catch (err) {
    if (err instanceof AgentError && err.code === Win32.ERROR_SERVICE_DOES_NOT_EXIST) {
      throw new UsageError(`no service named "${name}" on this host (svcdup services lists them; for a file, give its path)`);
    }
    throw err;
  }
  const snap = opts.snapshot ?? (await hostSnapshot(host));
  const warnings: string[] = [];
  const configs = [...snap.configs];
  if (!configs.some((c) => c.name.toLowerCase() === cfg.name.toLowerCase())) configs.push(cfg);
  // dependencies the list did not include (it should): ask for them one by one
  for (const dep of cfg.dependOnService) {
    if (!configs.some((c) => c.name.toLowerCase() === dep.toLowerCase())) {
      const c = await tryCall(host.call('scm.config', { name: dep }));
      if (c) configs.push(c);
    }
  }
  const closure = closureOf(cfg.name, configs);
  const dependents = configs.filter((c) => c.dependOnService.some((d) => d.toLowerCase() === cfg.name.toLowerCase())).map((c) => c.name);
  const statusOf = (n: string): ServiceStatus | undefined => snap.statuses.find((s) => s.name.toLowerCase() === n.toLowerCase());
  const factsOf = (c: ServiceConfig): Promise<KeyedFacts> => {
    const k = c.name.toLowerCase();
    let f = snap.facts.get(k);
    if (!f) snap.facts.set(k, (f = hostFacts(host, c, statusOf(c.name), snap.backend, snap.servicesTree)));
    return f;
  };
  const facts = await factsOf(cfg);
  const duplicatedDependencies: DependencyFacts[] = [];
  for (const e of closure.order) {
    if (e.action !== 'duplicate' || e.name.toLowerCase() === cfg.name.toLowerCase()) continue;
    const dc = configs.find((c) => c.name.toLowerCase() === e.name.toLowerCase())!;
    const { key: _k, ...df } = await factsOf(dc);
    duplicatedDependencies.push({ config: dc, facts: df });
  }

  let registryMembers: string[] | undefined;
  const group = cfg.svchostGroup ?? svchostInfo(cfg, [])?.group;
  if (group) {
    let g = snap.svchostGroups.get(group.toLowerCase());
    if (!g)
      snap.svchostGroups.set(
        group.toLowerCase(),
        (g = tryCall(host.call('reg.get', { key: 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Svchost', name: group })).then((v) =>
          v?.type === 'REG_MULTI_SZ' ? v.data : undefined,
        )),
      );
    registryMembers = await g;
  }
  const svchost = svchostInfo(cfg, configs, registryMembers);

  let failureActions: FailureActions | undefined;
  // the key's values came with the facts (reg.query); a stand-in host without reg.query is asked value by value
  const keyValue = async (n: string): Promise<RegValue | undefined> =>
    facts.key?.values.length
      ? facts.key.values.find((v) => v.name.toLowerCase() === n.toLowerCase())
      : tryCall(host.call('reg.get', { key: `${SERVICES_KEY}\\${cfg.name}`, name: n }));
  const fa = await keyValue('FailureActions');
  if (fa && fa.type === 'REG_BINARY') {
    const cmd = await keyValue('FailureCommand');
    const msg = await keyValue('RebootMessage');
    failureActions = parseFailureActions(
      fa.data,
      cmd && typeof cmd.data === 'string' ? cmd.data : undefined,
      msg && typeof msg.data === 'string' ? msg.data : undefined,
    );
    if (!failureActions) warnings.push(`the FailureActions value of ${cfg.name} is not a SERVICE_FAILURE_ACTIONS structure`);
  }

  const code = codeFileOf(cfg);
  const knownServices = configs.map((c) => c.name);
  const hostPath = local(host, code.path);
  let binary: BinaryAnalysis | undefined;
  let binaryError: string | undefined;
  if (!hostPath) binaryError = `cannot map ${code.path} to a file`;
  else {
    const b = await binaryOf(host, code.path, hostPath, read, snap, knownServices);
    if (b instanceof Error) binaryError = b.message;
    else binary = b;
  }

  // the whole service: command line, Parameters, programs, configuration files
  const commandLine = parseCommandLine(cfg.imagePath);
  warnings.push(...commandLine.warnings);
  const image = imageOf(cfg.imagePath);
  const parameters = parameterValues(facts.key?.parameters);
  const direct = directSettings(commandLine, image, parameters);
  const argPrograms = direct
    .filter((s) => s.meaning === 'file' && /\.exe$/i.test(s.value))
    .map((s) => ({ path: s.value, source: (s.source.startsWith('Parameters') ? 'parameters' : 'argument') as ProgramFinding['source'], evidence: s.source }));
  // a svchost service's own code is its ServiceDll; svchost.exe's strings are not the service's
  const programs: (ProgramFinding & { binary?: BinaryAnalysis })[] = await findPrograms(host, image, svchost ? undefined : binary, argPrograms);
  for (const p of programs) {
    const lp = p.exists ? local(host, p.path) : undefined;
    if (!lp) continue;
    const b = await binaryOf(host, p.path, lp, read, snap, knownServices);
    if (!(b instanceof Error)) p.binary = b;
  }
  // the same files dup reads for its snapshots (configfiles.ts)
  const search = configFileSearch(direct, image);
  const configFiles = await readConfigFiles((p) => host.toHostPath(p), search.named, search.folders);
  const codePorts = (binary?.names ?? [])
    .filter((n) => n.category === 'port')
    .map((n) => ({
      port: Number(n.detail.port ?? n.name),
      ...(n.detail.address ? { address: String(n.detail.address) } : {}),
      source: `${code.path}: ${n.value}`,
    }));
  const footprint = assembleFootprint({ commandLine, image, parameters, programs, configFiles, codePorts });
  const state = stateOf(cfg, footprint, binary, programs, opts.policy, facts.key?.parameters?.values, configFiles);

  const { key: _key, ...verdictFacts } = facts;
  return assess({
    target: { input: name, kind: 'service' },
    config: cfg,
    codeFile: { ...code, ...(hostPath ? { hostPath } : {}) },
    ...(binary ? { binary } : {}),
    ...(binaryError ? { binaryError } : {}),
    ...(svchost ? { svchost } : {}),
    dependencies: closure.nodes,
    ...(dependents.length ? { dependents } : {}),
    ...(failureActions ? { failureActions } : {}),
    allServices: configs,
    hostFacts: verdictFacts,
    closureProblems: closure.problems,
    duplicatedDependencies,
    footprint,
    state,
    warnings,
  });
}

/** A path equal to or under one of the folders, without case. */
const inside = (p: string, folders: readonly string[]): boolean =>
  folders.some((f) => p.toLowerCase().replace(/\\+$/, '') === f.toLowerCase() || p.toLowerCase().startsWith(`${f.toLowerCase()}\\`));

/** Issue 9: the folders it writes (snapshotted: those dup snapshots, src/plan/snapshot.ts), files and keys it writes, under the VM's rules. */
function stateOf(
  cfg: ServiceConfig,
  fp: FootprintSection,
  binary: BinaryAnalysis | undefined,
  programs: { binary?: BinaryAnalysis; path: string }[],
  policy?: { name: string; text: string },
  params: readonly RegValue[] = [],
  configFiles: readonly ConfigFileRead[] = [],
): StateSection {
  const snapped = snapshotFolders(cfg, params, configFoldersOf(cfg, configFiles));
  const files: { path: string; why: string }[] = [];
  for (const s of fp.settings) if (s.meaning === 'pid-file' || s.meaning === 'file') files.push({ path: s.value, why: `${s.meaning} (${s.source})` });
  const keys: { path: string; why: string }[] = [];
  for (const b of [binary, ...programs.map((p) => p.binary)]) {
    for (const n of b?.names ?? []) {
      if (n.category === 'file' && (n.role === 'writes' || n.role === 'creates') && isWinPath(n.value))
        files.push({ path: n.value, why: `${b!.file} names it (${n.role})` });
      if (n.category === 'registry' && n.role === 'writes' && /^(HKLM|HKEY_LOCAL_MACHINE|HKCU|HKEY_CURRENT_USER|HKU|HKEY_USERS|\\Registry\\)/i.test(n.value))
        keys.push({ path: n.value, why: `${b!.file} writes it` });
    }
  }
  return stateSection({
    // snapshotted: what dup snapshots (snapshotFolders), and what lies inside those folders
    folders: [
      ...fp.writes.map((w) => ({ path: w.path, why: w.why, snapshot: inside(w.path, snapped) })),
      ...snapped
        .filter((f) => !fp.writes.some((w) => w.path.toLowerCase() === f.toLowerCase()))
        .map((f) => ({ path: f, why: 'named in its ImagePath, Parameters or configuration files', snapshot: true })),
    ],
    files,
    keys: [{ path: `${SERVICES_KEY}\\${cfg.name}`, why: "its own Services key (the VM's copy is what it sees)" }, ...keys],
    ...(policy ? { policyText: policy.text, policy: policy.name } : {}),
  });
}

/** Every service on the host, each analyzed with what they share read once. */
export async function analyzeAll(
  host: AnalyzeHost,
  opts: Omit<ServiceAnalysisOptions, 'snapshot'> & { concurrency?: number; skip?: (name: string) => boolean } = {},
): Promise<AnalyzeReport[]> {
  const snap = await hostSnapshot(host, true);
  const names = snap.configs.map((c) => c.name).filter((n) => !opts.skip?.(n));
  const out: AnalyzeReport[] = new Array(names.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < names.length; i = next++) out[i] = await analyzeService(names[i]!, host, { ...opts, snapshot: snap });
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, names.length) }, worker));
  return out;
}

/**
 * What `dup` asks first: the verdict from the host's facts alone (configuration, key, files,
 * dependencies), without reading the code: the verdicts that refuse never depend on it.
 */
export async function dupCheck(host: AnalyzeHost, name: string, share: readonly string[] = []): Promise<Verdict | undefined> {
  const cfg = await tryCall(host.call('scm.config', { name }));
  if (!cfg) return undefined; // the planner says "no such service"
  const configs = new Map<string, ServiceConfig>([[cfg.name.toLowerCase(), cfg]]);
  const queue = [...cfg.dependOnService];
  let groups = cfg.dependOnGroup.length > 0;
  for (let n = queue.shift(); n !== undefined && configs.size < 500; n = queue.shift()) {
    // shared dependencies too: the closure checks what they depend on (a shared a -> b needs b installed)
    if (configs.has(n.toLowerCase())) continue;
    const c = await tryCall(host.call('scm.config', { name: n }));
    if (!c) continue;
    configs.set(c.name.toLowerCase(), c);
    groups ||= c.dependOnGroup.length > 0;
    queue.push(...c.dependOnService);
  }
  if (groups)
    for (const s of (await tryCall(host.call('scm.list', {}))) ?? [])
      if (!configs.has(s.name.toLowerCase()) && !s.name.includes('@')) {
        const c = await tryCall(host.call('scm.config', { name: s.name }));
        if (c) configs.set(c.name.toLowerCase(), c);
      }
  for (const s of share)
    if (!configs.has(s.toLowerCase())) {
      const c = await tryCall(host.call('scm.config', { name: s }));
      if (c) configs.set(c.name.toLowerCase(), c);
    }
  const all = [...configs.values()];
  const closure = closureOf(cfg.name, all, share);
  const { key: _k, ...facts } = await hostFacts(host, cfg, undefined);
  const deps: DependencyFacts[] = [];
  for (const e of closure.order) {
    if (e.action !== 'duplicate' || e.name.toLowerCase() === cfg.name.toLowerCase()) continue;
    const dc = configs.get(e.name.toLowerCase())!;
    const { key: _dk, ...df } = await hostFacts(host, dc, undefined);
    deps.push({ config: dc, facts: df });
  }
  // only the refusing classes matter here; --share'd and already-planned problems are the planner's to word
  const problems = closure.problems.filter((p) => p.kind === 'missing' || p.kind === 'cycle' || p.kind === 'empty-group');
  return decideVerdict({ label: cfg.name, config: cfg, facts, closureProblems: problems, duplicatedDependencies: deps });
}

/** `dup`'s one call: why it must refuse SERVICE (one message with the fixes), or undefined to go ahead. */
export async function dupRefusalFor(host: AnalyzeHost, name: string, share: readonly string[] = []): Promise<string | undefined> {
  const v = await dupCheck(host, name, share);
  return v ? dupRefusal(v, name) : undefined;
}
