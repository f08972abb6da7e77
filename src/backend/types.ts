// The typed contract between the control plane and the Windows side.
// Every shape here is what svcdup-agent.exe sends or receives as JSON
// (docs/agent-protocol.md); the TypeScript side adds nothing on top.

export type RegType =
  | 'REG_NONE'
  | 'REG_SZ'
  | 'REG_EXPAND_SZ'
  | 'REG_BINARY'
  | 'REG_DWORD'
  | 'REG_DWORD_BIG_ENDIAN'
  | 'REG_LINK'
  | 'REG_MULTI_SZ'
  | 'REG_RESOURCE_LIST'
  | 'REG_FULL_RESOURCE_DESCRIPTOR'
  | 'REG_RESOURCE_REQUIREMENTS_LIST'
  | 'REG_QWORD'
  /** a type outside the list, as the agent spells it: REG_TYPE_<n>, hex data */
  | `REG_TYPE_${number}`;

/**
 * A registry value. `data` is encoded by type:
 * REG_SZ/REG_EXPAND_SZ/REG_LINK: string; REG_MULTI_SZ: string[];
 * REG_DWORD/REG_DWORD_BIG_ENDIAN: number; REG_QWORD: decimal string (64 bits do not fit a JS number);
 * everything else: lowercase hex string of the raw bytes.
 */
export type RegValue =
  | { name: string; type: 'REG_SZ' | 'REG_EXPAND_SZ' | 'REG_LINK'; data: string }
  | { name: string; type: 'REG_MULTI_SZ'; data: string[] }
  | { name: string; type: 'REG_DWORD' | 'REG_DWORD_BIG_ENDIAN'; data: number }
  | { name: string; type: 'REG_QWORD'; data: string }
  | {
      name: string;
      type: 'REG_NONE' | 'REG_BINARY' | 'REG_RESOURCE_LIST' | 'REG_FULL_RESOURCE_DESCRIPTOR' | 'REG_RESOURCE_REQUIREMENTS_LIST' | `REG_TYPE_${number}`;
      data: string;
    };

export interface RegKeyContents {
  /** the key's last write time, ms since 1970 (a value set or deleted, a subkey made or deleted) */
  written?: number;
  values: RegValue[];
  subkeys: string[];
}

/** A whole registry tree, as `reg.export` returns it; `name` is the key's own last component. */
export interface RegTree {
  name: string;
  /** the key's class string, when it has one (svcdup's copy-on-write markers, docs/state.md) */
  class?: string;
  values: RegValue[];
  subkeys: RegTree[];
}

export type ServiceState = 'STOPPED' | 'START_PENDING' | 'STOP_PENDING' | 'RUNNING' | 'CONTINUE_PENDING' | 'PAUSE_PENDING' | 'PAUSED';

export type ServiceStartType = 'BOOT' | 'SYSTEM' | 'AUTO' | 'DEMAND' | 'DISABLED';

/** SERVICE_STATUS_PROCESS, with names instead of numbers where Windows has names. */
export interface ServiceStatus {
  name: string;
  displayName?: string;
  /** dwServiceType as a number (0x10 own process, 0x20 share process, 0x1 kernel driver, ...) */
  type: number;
  state: ServiceState;
  pid: number;
  controlsAccepted: number;
  win32ExitCode: number;
  serviceExitCode: number;
  checkpoint: number;
  waitHint: number;
}

/** QUERY_SERVICE_CONFIG plus what Windows keeps beside it in the registry. */
export interface ServiceConfig {
  name: string;
  displayName: string;
  type: number;
  start: ServiceStartType;
  errorControl: number;
  imagePath: string;
  loadOrderGroup: string;
  account: string;
  dependOnService: string[];
  dependOnGroup: string[];
  description: string;
  /** Parameters\ServiceDll (or the key's own ServiceDll), unexpanded; absent when not a svchost service. */
  serviceDll?: string;
  /** The `-k GROUP` of a svchost ImagePath; absent otherwise. */
  svchostGroup?: string;
}

export interface ServiceCreate {
  name: string;
  displayName?: string;
  imagePath: string;
  /** default 0x10 (SERVICE_WIN32_OWN_PROCESS) */
  type?: number;
  /** default DEMAND */
  start?: ServiceStartType;
  /** default 1 (SERVICE_ERROR_NORMAL) */
  errorControl?: number;
  loadOrderGroup?: string;
  /** default LocalSystem */
  account?: string;
  password?: string;
  dependOnService?: string[];
  dependOnGroup?: string[];
  description?: string;
}

export type ServiceChange = Partial<Omit<ServiceCreate, 'name'>> & { name: string };

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** image file name as the process list reports it, e.g. "services.exe" */
  image: string;
  threads: number;
  /** creation time, ms since 1970 (absent when the process cannot be opened) */
  startedAt?: number;
}

export interface AgentInfo {
  version: string;
  pid: number;
  arch: string;
  windowsVersion: string;
  /** true under Wine (ntdll exports wine_get_version) */
  wine: boolean;
  wineVersion?: string;
}

/** Operation name -> [request params, result]. The agent's whole vocabulary. */
export interface AgentOps {
  ping: [Record<string, never>, AgentInfo];
  'reg.query': [{ key: string }, RegKeyContents];
  'reg.get': [{ key: string; name: string }, RegValue];
  'reg.set': [{ key: string } & RegValue, Record<string, never>];
  'reg.createKey': [{ key: string; class?: string }, { created: boolean }];
  'reg.deleteValue': [{ key: string; name: string }, Record<string, never>];
  'reg.deleteKey': [{ key: string }, Record<string, never>];
  'reg.copyTree': [{ from: string; to: string }, Record<string, never>];
  'reg.export': [{ key: string }, RegTree];
  'scm.list': [Record<string, never>, ServiceStatus[]];
  'scm.config': [{ name: string }, ServiceConfig];
  'scm.create': [ServiceCreate, Record<string, never>];
  'scm.change': [ServiceChange, Record<string, never>];
  'scm.start': [{ name: string; args?: string[] }, Record<string, never>];
  'scm.control': [{ name: string; code: number }, ServiceStatus];
  'scm.status': [{ name: string }, ServiceStatus];
  /** the status once the service left START_PENDING, waited for in the agent (at most `ms`, <= 10000) */
  'scm.wait': [{ name: string; ms: number }, ServiceStatus];
  'scm.delete': [{ name: string }, Record<string, never>];
  /** a restart policy as the SCM's failure actions (native/agent/scm.c); Wine 8's SCM accepts and ignores them */
  'scm.failure': [{ name: string; restarts: number; delayMs?: number; maxDelayMs?: number; resetSeconds?: number }, { actions: number; flag: boolean }];
  /** a named pipe (\\.\pipe\NAME) is served: WaitNamedPipe, for health checks */
  'pipe.wait': [{ name: string; timeoutMs?: number }, Record<string, never>];
  'proc.list': [Record<string, never>, ProcessInfo[]];
  'proc.kill': [{ pid: number; exitCode?: number }, Record<string, never>];
  'job.stats': [{ vms: string[] }, { vms: JobStats[] }];
  exit: [Record<string, never>, Record<string, never>];
}

/** A VM's job object as `job.stats` reads it (native/agent/stats.c): its member processes' counters. */
export interface JobStats {
  vm: string;
  /** the job's own accounting; absent where the system does not keep it (Wine 8) */
  accounting?: { cpuMs: number; activeProcesses: number; readBytes: number; writeBytes: number };
  processes: JobProcessStats[];
}

export interface JobProcessStats {
  pid: number;
  ppid: number;
  image: string;
  cpuMs: number;
  /** the commit charge (PagefileUsage, what Windows calls private bytes) */
  privateBytes: number;
  workingSetBytes: number;
  threads: number;
  handles: number;
  readBytes: number;
  writeBytes: number;
}

export type AgentOp = keyof AgentOps;
export type AgentParams<K extends AgentOp> = AgentOps[K][0];
export type AgentResult<K extends AgentOp> = AgentOps[K][1];

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** pass the child's stdio through to ours instead of capturing it */
  inherit?: boolean;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

/**
 * Everything the control plane does to Windows goes through a HostBackend:
 * `wine` on Linux (a prefix svcdup manages) or `windows` (the same binaries run directly).
 */
export interface HostBackend {
  readonly kind: 'wine' | 'windows';
  /** Make the host usable (create the prefix, start wineserver). Idempotent. */
  open(): Promise<void>;
  /** One request to the long-lived agent. Rejects with AgentError. */
  call<K extends AgentOp>(op: K, params: AgentParams<K>): Promise<AgentResult<K>>;
  /** Run a Windows program on the host, outside any VM. */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** A Linux path as the Windows side spells it (Z:\... under Wine). */
  toWindowsPath(path: string): string;
  /** Stop the agent; the backend can be opened again later. */
  close(): Promise<void>;
  /** What `svcdup doctor` reports about this backend. */
  describe(): Promise<Record<string, unknown>>;
}
