// The analyze report's types, in one module that imports no analysis code: issues.ts
// builds the report, trace.ts adds the run, render.ts prints it (docs/analyze.md).
import type { BinaryAnalysis, Evidence } from './binary.js';
import type { FailureActions, ServiceKind, SvchostInfo } from './config.js';
import type { DependencyNode } from '../plan/closure.js';

export const REPORT_SCHEMA = 'svcdup.analyze/1';

export type Applies = 'yes' | 'possible' | 'no';
export type Resolution = 'resolved' | 'shared' | 'not-resolvable' | 'not-needed';

export interface IssueAssessment {
  id: number;
  key: string;
  title: string;
  applies: Applies;
  /** resolved by svcdup; resolved by sharing a named dependency with the host; cannot be resolved; nothing to resolve */
  resolution: Resolution;
  /** how svcdup resolves it for this service, or why it cannot */
  how: string;
  evidence: Evidence[];
  /** evidence left out of `evidence` to keep the report short */
  moreEvidence?: number;
}

/**
 * What happens when the service is duplicated:
 * - `duplicable`: every issue that applies is resolved inside the VM;
 * - `duplicable-with-shared-dependencies`: the same, with named dependencies left shared with the host;
 * - `duplicable-with-policy`: it runs in a VM only with the rule(s) in `rules` (e.g. a port map);
 * - `cannot-run-on-host`: the host's own service cannot start either (image missing, disabled,
 *   a dependency that cannot start): `reasons` say why, each with its fix;
 * - `not-duplicable`: a kernel driver, a driver host (winedevice), a service the SCM itself owns,
 *   a service with no registry key: `reasons` say which.
 */
export type VerdictKind = 'duplicable' | 'duplicable-with-shared-dependencies' | 'duplicable-with-policy' | 'cannot-run-on-host' | 'not-duplicable';

export type VerdictReasonCode =
  | 'image-missing'
  | 'service-dll-missing'
  | 'disabled'
  | 'dependency-missing'
  | 'dependency-cycle'
  | 'dependency-cannot-start'
  | 'kernel-driver'
  | 'driver-host'
  | 'scm-owned'
  | 'no-service-key'
  | 'port-taken';

export interface VerdictReason {
  code: VerdictReasonCode;
  /** the fact, in words */
  text: string;
  /** what to do about it, when something can be done */
  fix?: string;
}

export interface Verdict {
  kind: VerdictKind;
  /** what stays shared with the host, by name, and why */
  shared: { name: string; why: string }[];
  /** why it cannot run, cannot be duplicated, or needs a rule (empty for the duplicable kinds) */
  reasons: VerdictReason[];
  /** duplicable-with-policy: the rules it needs, as the user writes them (a `vm create` option or a policy line) */
  rules: string[];
  summary: string;
}

/** Verdicts after which `dup` refuses (before it registers anything). */
export const REFUSED_VERDICTS: readonly VerdictKind[] = ['cannot-run-on-host', 'not-duplicable'];

/** The command line of the service, split as CommandLineToArgvW does. */
export interface CommandLineSection {
  image: string;
  args: string[];
  /** e.g. an unbalanced quote */
  warnings: string[];
}

/** A program the service starts (a launcher's server, a helper): found statically or by --trace. */
export interface ProgramFinding {
  /** Windows path (or the bare name as the binary spells it) */
  path: string;
  /** where it was found: `string` (in the code file), `own-folder` (an executable beside the image and named by it), `argument`, `parameters`, `trace` */
  source: 'string' | 'own-folder' | 'argument' | 'parameters' | 'trace';
  evidence: string;
  /** the file exists on the host */
  exists: boolean;
  /** what its own analysis found that a duplicate collides on (names, ports), when it could be read */
  names?: { category: string; value: string }[];
}

/** What a setting in the service's command line, Parameters or configuration files means for a duplicate. */
export type SettingMeaning = 'port' | 'address' | 'data-folder' | 'log-folder' | 'pid-file' | 'config-file' | 'folder' | 'file';

export interface SettingFinding {
  meaning: SettingMeaning;
  /** the value as written (a path is Windows-spelled, relative ones resolved against their base) */
  value: string;
  /** where: `ImagePath argument -D`, `Parameters\DataDir`, `C:\data\postgresql.conf:12 port` */
  source: string;
}

export interface ConfigFileFinding {
  path: string;
  format: 'key-value' | 'ini';
  /** how many settings were read */
  settings: number;
  /** why it was read only in part, or not at all */
  warning?: string;
}

/** `analyze` follows the whole service: what it starts, what its settings name, what it will bind and write. */
export interface FootprintSection {
  commandLine: CommandLineSection;
  programs: ProgramFinding[];
  configFiles: ConfigFileFinding[];
  settings: SettingFinding[];
  /** TCP/UDP ports it will bind (from settings, code and --trace), each once */
  ports: { port: number; address?: string; source: string }[];
  /** folders it will write (data, logs, pid files' folders, its own folder) */
  writes: { path: string; why: string }[];
}

/** The copy-on-write verdicts of a VM's policy (kinds `files` and `keys`); `cow` is the default. */
export type StateRule = 'cow' | 'open' | 'closed' | 'private';

export interface StatePath {
  kind: 'folder' | 'file' | 'key';
  path: string;
  /** why the service writes it */
  why: string;
  rule: StateRule;
  /** `default`, or the policy line that decided */
  ruleSource: string;
  /** snapshotted when the duplicate is made (else copied up on first write) */
  snapshot: boolean;
}

/** Issue 9 for this service: what it will write, under which rule, and what is snapshotted. */
export interface StateSection {
  /** whose policy decided: `default` (every VM's), or the VM named with --vm */
  policy: string;
  paths: StatePath[];
  /** folders snapshotted when the duplicate is made: no torn views of them */
  snapshot: string[];
  /** the rule for everything else */
  otherwise: string;
}

export interface ServiceSection {
  name: string;
  displayName: string;
  kind: ServiceKind;
  type: number;
  start: string;
  account: string;
  imagePath: string;
  serviceDll?: string;
  loadOrderGroup: string;
  /** the file analyzed for this service: the ServiceDll of a svchost service, else the image */
  codeFile: { path: string; role: 'serviceDll' | 'image'; hostPath?: string };
  svchost?: SvchostInfo;
  dependOnService: string[];
  dependOnGroup: string[];
  /** DependOnService/DependOnGroup, transitively */
  dependencies: DependencyNode[];
  /** services that depend on this one */
  dependents?: string[];
  failureActions?: FailureActions;
}

export interface AnalyzeReport {
  schema: typeof REPORT_SCHEMA;
  target: { input: string; kind: 'service' | 'file' };
  service?: ServiceSection;
  binary?: BinaryAnalysis;
  issues: IssueAssessment[];
  verdict: Verdict;
  /** the whole service: programs, settings, config files, ports, folders (service form) */
  footprint?: FootprintSection;
  /** issue 9: state paths and keys with their rules, snapshot folders (service form) */
  state?: StateSection;
  /** what --trace recorded (docs/analyze.md); null without --trace */
  trace: TraceReport | null;
  warnings: string[];
}

// ---------------------------------------------------------------- --trace

/** What a traced name is, from the call that used it (and for files, the path). */
export type TraceKind =
  | 'kernel-object'
  | 'pipe'
  | 'mailslot'
  | 'alpc-port'
  | 'registry'
  | 'service'
  | 'process'
  | 'child-process'
  | 'network'
  | 'url'
  | 'other';

/** How a process used it: made it (server), or reached for one (client). */
export type TraceRole = 'creates' | 'opens' | 'serves' | 'connects' | 'binds' | 'starts' | 'unknown';

/** One resource the service used at run time: every event on the same (kind, name), merged. */
export interface TracedResource {
  kind: TraceKind;
  /** canonical spelling: `Global\X` / `Local\X`, `\\.\pipe\X`, `\\.\mailslot\X`, `\RPC Control\X`, a key path, `tcp 0.0.0.0:80`, ... */
  name: string;
  /** the name as first used */
  used: string;
  /** the host name it became, first time (the VM's prefix shows here when renamed) */
  effective: string;
  /** the decision the first time */
  decision: string;
  /** every distinct decision, in order */
  decisions: string[];
  /** every distinct call, in order */
  calls: string[];
  role: TraceRole;
  count: number;
  firstTime: string;
  lastTime: string;
  pids: number[];
  /** docs/design.md issues (1 to 12) it is run-time evidence for */
  issues: number[];
  /** svcdup's own plumbing (a `svcdup.*` name: svcdup-host's relay pipe), not the service's */
  svcdup?: true;
  /** the static analysis found it too */
  foundStatically: boolean;
  /** the static names (`value`s) it matched */
  staticValues?: string[];
}

export interface TraceCrossReference {
  /** names found statically and seen at run time */
  confirmed: { kind: TraceKind; name: string; staticValues: string[] }[];
  /** names seen at run time that the static analysis did not find (svcdup's own are left out) */
  missedStatically: { kind: TraceKind; name: string; used: string }[];
  /** static names of kinds the VM layer traces that were not seen during the run */
  notSeen: { category: string; value: string; name: string }[];
}

export interface TraceSummary {
  events: number;
  dropped: number;
  resources: TracedResource[];
  crossReference: TraceCrossReference;
}

/** The report's `trace` field. */
export interface TraceReport extends TraceSummary {
  /** the scratch VM (removed again) */
  vm: string;
  /** how long the service ran in it, as asked */
  seconds: number;
  startedAt: string;
  endedAt: string;
  service: {
    /** the service reached RUNNING in the VM */
    started: boolean;
    /** why not, when it did not (or why it was stopped early) */
    error?: string;
    /** SCM names of the duplicates registered for the run (the service and the dependencies duplicated with it) */
    duplicated: string[];
    /** dependencies left to the host's instance */
    shared: string[];
  };
  /** what was removed afterwards */
  cleanup: { removed: string[]; processesEnded: number };
  warnings: string[];
}
