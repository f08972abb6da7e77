// What svcdup knows about the Windows APIs a service imports: which of the twelve issues an
// import is evidence for, and which call arguments name a resource (for call-site recovery).

/** How a call argument is read at a call site: a string (either encoding), a GUID, a small integer, a service table. */
export type ArgKind = 'str' | 'guid' | 'int' | 'table';

export interface ApiInfo {
  /** issue numbers (docs/design.md's table) this API is evidence for */
  issues: number[];
  /** what calling it means, in a few words */
  what: string;
  /** arguments worth recovering: x64 argument index (0 = rcx, 1 = rdx, 2 = r8, 3 = r9) and how to read it */
  args?: { index: number; kind: ArgKind; role: string }[];
}

const s = (index: number, role: string): { index: number; kind: ArgKind; role: string } => ({ index, kind: 'str', role });

/** Keyed by the name without its A/W suffix. */
export const APIS: Record<string, ApiInfo> = {
  // 3: SCM protocol
  StartServiceCtrlDispatcher: {
    issues: [3],
    what: 'runs the service dispatcher (SCM control pipe)',
    args: [{ index: 0, kind: 'table', role: 'dispatch table' }],
  },
  RegisterServiceCtrlHandler: { issues: [3, 1], what: 'registers a control handler by service name', args: [s(0, 'service name')] },
  RegisterServiceCtrlHandlerEx: { issues: [3, 1], what: 'registers a control handler by service name', args: [s(0, 'service name')] },
  SetServiceStatus: { issues: [3], what: 'reports status to the SCM' },
  // 6: named kernel objects
  CreateMutex: { issues: [6], what: 'creates a (possibly named) mutex', args: [s(2, 'object name')] },
  CreateMutexEx: { issues: [6], what: 'creates a (possibly named) mutex', args: [s(1, 'object name')] },
  OpenMutex: { issues: [6, 12], what: 'opens a named mutex', args: [s(2, 'object name')] },
  CreateEvent: { issues: [6], what: 'creates a (possibly named) event', args: [s(3, 'object name')] },
  CreateEventEx: { issues: [6], what: 'creates a (possibly named) event', args: [s(1, 'object name')] },
  OpenEvent: { issues: [6, 12], what: 'opens a named event', args: [s(2, 'object name')] },
  CreateSemaphore: { issues: [6], what: 'creates a (possibly named) semaphore', args: [s(3, 'object name')] },
  CreateSemaphoreEx: { issues: [6], what: 'creates a (possibly named) semaphore', args: [s(3, 'object name')] },
  OpenSemaphore: { issues: [6, 12], what: 'opens a named semaphore', args: [s(2, 'object name')] },
  CreateFileMapping: { issues: [6], what: 'creates a (possibly named) section' },
  CreateFileMappingNuma: { issues: [6], what: 'creates a (possibly named) section' },
  CreateFileMapping2: { issues: [6], what: 'creates a (possibly named) section' },
  OpenFileMapping: { issues: [6, 12], what: 'opens a named section', args: [s(2, 'object name')] },
  CreateWaitableTimer: { issues: [6], what: 'creates a (possibly named) timer', args: [s(2, 'object name')] },
  CreateWaitableTimerEx: { issues: [6], what: 'creates a (possibly named) timer', args: [s(1, 'object name')] },
  OpenWaitableTimer: { issues: [6, 12], what: 'opens a named timer', args: [s(2, 'object name')] },
  CreateJobObject: { issues: [6], what: 'creates a (possibly named) job object', args: [s(1, 'object name')] },
  OpenJobObject: { issues: [6, 12], what: 'opens a named job object', args: [s(2, 'object name')] },
  CreatePrivateNamespace: { issues: [6], what: 'creates a private object namespace' },
  OpenPrivateNamespace: { issues: [6], what: 'opens a private object namespace' },
  NtCreateMutant: { issues: [6], what: 'creates a mutant (NT)' },
  NtOpenMutant: { issues: [6, 12], what: 'opens a mutant (NT)' },
  NtCreateEvent: { issues: [6], what: 'creates an event (NT)' },
  NtOpenEvent: { issues: [6, 12], what: 'opens an event (NT)' },
  NtCreateSection: { issues: [6], what: 'creates a section (NT)' },
  NtOpenSection: { issues: [6, 12], what: 'opens a section (NT)' },
  NtCreateSemaphore: { issues: [6], what: 'creates a semaphore (NT)' },
  NtCreateDirectoryObject: { issues: [6], what: 'creates an object directory (NT)' },
  NtCreateSymbolicLinkObject: { issues: [6], what: 'creates an object symbolic link (NT)' },
  // 7: IPC endpoints
  CreateNamedPipe: { issues: [7], what: 'serves a named pipe', args: [s(0, 'pipe name')] },
  ConnectNamedPipe: { issues: [7], what: 'accepts pipe clients' },
  CreateMailslot: { issues: [7], what: 'serves a mailslot', args: [s(0, 'mailslot name')] },
  CallNamedPipe: { issues: [12], what: 'calls a named pipe as a client', args: [s(0, 'pipe name')] },
  WaitNamedPipe: { issues: [12], what: 'waits for a named pipe as a client', args: [s(0, 'pipe name')] },
  NtCreateNamedPipeFile: { issues: [7], what: 'serves a named pipe (NT)' },
  NtCreateMailslotFile: { issues: [7], what: 'serves a mailslot (NT)' },
  NtCreatePort: { issues: [7], what: 'creates an LPC port' },
  NtAlpcCreatePort: { issues: [7], what: 'creates an ALPC port' },
  NtAlpcConnectPort: { issues: [12], what: 'connects to an ALPC port' },
  NtConnectPort: { issues: [12], what: 'connects to an LPC port' },
  RpcServerUseProtseqEp: { issues: [7], what: 'listens on an RPC endpoint', args: [s(0, 'protseq'), s(2, 'endpoint')] },
  RpcServerUseProtseqEpEx: { issues: [7], what: 'listens on an RPC endpoint', args: [s(0, 'protseq'), s(2, 'endpoint')] },
  RpcServerUseProtseq: { issues: [7], what: 'listens on a dynamic RPC endpoint (registered with epmapper)', args: [s(0, 'protseq')] },
  RpcServerUseProtseqEx: { issues: [7], what: 'listens on a dynamic RPC endpoint (registered with epmapper)', args: [s(0, 'protseq')] },
  RpcServerUseProtseqIf: { issues: [7], what: 'listens on the endpoints named in an interface', args: [s(0, 'protseq')] },
  RpcServerUseProtseqIfEx: { issues: [7], what: 'listens on the endpoints named in an interface', args: [s(0, 'protseq')] },
  RpcServerUseAllProtseqs: { issues: [7], what: 'listens on every RPC protocol' },
  RpcServerUseAllProtseqsIf: { issues: [7], what: 'listens on every RPC protocol' },
  RpcServerRegisterIf: { issues: [7], what: 'serves an RPC interface' },
  RpcServerRegisterIf2: { issues: [7], what: 'serves an RPC interface' },
  RpcServerRegisterIf3: { issues: [7], what: 'serves an RPC interface' },
  RpcServerRegisterIfEx: { issues: [7], what: 'serves an RPC interface' },
  RpcEpRegister: { issues: [7, 5], what: 'registers endpoints with epmapper (RpcSs)' },
  RpcEpRegisterNoReplace: { issues: [7, 5], what: 'registers endpoints with epmapper (RpcSs)' },
  RpcServerListen: { issues: [7], what: 'serves RPC calls' },
  CoRegisterClassObject: { issues: [7, 5], what: 'registers a COM class object with RpcSs', args: [{ index: 0, kind: 'guid', role: 'CLSID' }] },
  CoRegisterPSClsid: { issues: [7], what: 'registers a COM proxy/stub class' },
  RegisterActiveObject: { issues: [7], what: 'registers an object in the running object table' },
  // 8: network endpoints
  WSAStartup: { issues: [8], what: 'uses Winsock' },
  socket: { issues: [8], what: 'creates sockets' },
  WSASocket: { issues: [8], what: 'creates sockets' },
  bind: { issues: [8], what: 'binds a local address and port' },
  listen: { issues: [8], what: 'accepts connections' },
  accept: { issues: [8], what: 'accepts connections' },
  AcceptEx: { issues: [8], what: 'accepts connections' },
  WSAAccept: { issues: [8], what: 'accepts connections' },
  connect: { issues: [8, 12], what: 'connects to an address and port' },
  WSAConnect: { issues: [8, 12], what: 'connects to an address and port' },
  recvfrom: { issues: [8], what: 'receives datagrams' },
  sendto: { issues: [8], what: 'sends datagrams' },
  getsockname: { issues: [8], what: 'reads its local address' },
  htons: { issues: [8], what: 'converts a port number', args: [{ index: 0, kind: 'int', role: 'port' }] },
  HttpInitialize: { issues: [8, 11], what: 'uses http.sys' },
  HttpCreateHttpHandle: { issues: [8, 11], what: 'opens an http.sys request queue' },
  HttpCreateRequestQueue: { issues: [8, 11], what: 'opens an http.sys request queue' },
  HttpCreateServerSession: { issues: [8, 11], what: 'opens an http.sys server session' },
  HttpCreateUrlGroup: { issues: [8, 11], what: 'creates an http.sys URL group' },
  HttpAddUrl: { issues: [8, 11], what: 'reserves a URL in http.sys', args: [s(1, 'URL')] },
  HttpAddUrlToUrlGroup: { issues: [8, 11], what: 'reserves a URL in http.sys', args: [s(1, 'URL')] },
  HttpSetServiceConfiguration: { issues: [8, 11], what: 'changes http.sys configuration (URL ACLs, certificates)' },
  HttpReceiveHttpRequest: { issues: [8, 11], what: 'serves HTTP requests through http.sys' },
  // 2 and 9: registry and disk
  RegOpenKeyEx: { issues: [2], what: 'reads the registry', args: [s(1, 'registry key')] },
  RegOpenKey: { issues: [2], what: 'reads the registry', args: [s(1, 'registry key')] },
  RegGetValue: { issues: [2], what: 'reads the registry', args: [s(1, 'registry key')] },
  RegQueryValueEx: { issues: [2], what: 'reads registry values' },
  NtOpenKey: { issues: [2], what: 'reads the registry (NT)' },
  RtlQueryRegistryValues: { issues: [2], what: 'reads the registry (NT)' },
  RegCreateKeyEx: { issues: [9, 2], what: 'creates registry keys', args: [s(1, 'registry key')] },
  RegCreateKey: { issues: [9, 2], what: 'creates registry keys', args: [s(1, 'registry key')] },
  RegSetValueEx: { issues: [9], what: 'writes registry values' },
  RegSetValue: { issues: [9], what: 'writes registry values' },
  RegSetKeyValue: { issues: [9], what: 'writes registry values', args: [s(1, 'registry key')] },
  RegDeleteKey: { issues: [9], what: 'deletes registry keys', args: [s(1, 'registry key')] },
  RegDeleteTree: { issues: [9], what: 'deletes registry keys', args: [s(1, 'registry key')] },
  RegDeleteValue: { issues: [9], what: 'deletes registry values' },
  NtSetValueKey: { issues: [9], what: 'writes registry values (NT)' },
  NtCreateKey: { issues: [9], what: 'creates registry keys (NT)' },
  CreateFile: { issues: [9], what: 'opens or creates files (and pipes, devices)', args: [s(0, 'file name')] },
  CreateFile2: { issues: [9], what: 'opens or creates files', args: [s(0, 'file name')] },
  WriteFile: { issues: [9], what: 'writes files' },
  DeleteFile: { issues: [9], what: 'deletes files', args: [s(0, 'file name')] },
  MoveFile: { issues: [9], what: 'moves files' },
  MoveFileEx: { issues: [9], what: 'moves files' },
  CreateDirectory: { issues: [9], what: 'creates directories', args: [s(0, 'directory')] },
  NtCreateFile: { issues: [9], what: 'opens or creates files (NT)' },
  // 10: control across VMs
  OpenSCManager: { issues: [10, 12], what: 'talks to the SCM as a client' },
  OpenService: { issues: [10, 12], what: 'opens another service by name', args: [s(1, 'service name')] },
  CreateService: { issues: [10], what: 'creates services', args: [s(1, 'service name')] },
  DeleteService: { issues: [10], what: 'deletes services' },
  StartService: { issues: [10], what: 'starts services' },
  ControlService: { issues: [10], what: 'controls services' },
  ControlServiceEx: { issues: [10], what: 'controls services' },
  ChangeServiceConfig: { issues: [10], what: 'reconfigures services' },
  ChangeServiceConfig2: { issues: [10], what: 'reconfigures services' },
  EnumServicesStatus: { issues: [10], what: 'lists services' },
  EnumServicesStatusEx: { issues: [10], what: 'lists services' },
  OpenProcess: { issues: [10], what: 'opens other processes' },
  TerminateProcess: { issues: [10], what: 'ends processes' },
  CreateRemoteThread: { issues: [10], what: 'runs code in other processes' },
  DebugActiveProcess: { issues: [10], what: 'debugs other processes' },
  CreateProcess: { issues: [10], what: 'starts child processes (they join the VM)' },
  CreateProcessAsUser: { issues: [10], what: 'starts child processes (they join the VM)' },
  ShellExecute: { issues: [10], what: 'starts programs' },
  ShellExecuteEx: { issues: [10], what: 'starts programs' },
  WinExec: { issues: [10], what: 'starts programs' },
  // 11: kernel-mode parts
  DeviceIoControl: { issues: [11], what: 'talks to a driver' },
  IoCreateDevice: { issues: [11], what: 'creates a device object (kernel)' },
  IoCreateSymbolicLink: { issues: [11], what: 'creates a DOS device name (kernel)' },
  NtLoadDriver: { issues: [11], what: 'loads drivers' },
  FilterConnectCommunicationPort: { issues: [11, 12], what: 'talks to a filter driver' },
  // 12: clients
  RpcStringBindingCompose: { issues: [12], what: 'builds an RPC client binding', args: [s(1, 'protseq'), s(2, 'network address'), s(3, 'endpoint')] },
  RpcBindingFromStringBinding: { issues: [12], what: 'binds to an RPC server as a client', args: [s(0, 'string binding')] },
  RpcEpResolveBinding: { issues: [12], what: 'asks epmapper for an endpoint' },
  CoCreateInstance: { issues: [12], what: 'creates COM objects as a client', args: [{ index: 0, kind: 'guid', role: 'CLSID' }] },
  CoCreateInstanceEx: { issues: [12], what: 'creates COM objects as a client', args: [{ index: 0, kind: 'guid', role: 'CLSID' }] },
  CoGetClassObject: { issues: [12], what: 'gets COM class objects as a client', args: [{ index: 0, kind: 'guid', role: 'CLSID' }] },
};

/** Kernel-mode import modules: a binary importing these is a driver. */
export const KERNEL_MODULES = new Set([
  'ntoskrnl.exe',
  'hal.dll',
  'ndis.sys',
  'wdfldr.sys',
  'fltmgr.sys',
  'netio.sys',
  'ksecdd.sys',
  'cng.sys',
  'tdi.sys',
  'storport.sys',
  'ks.sys',
  'wmilib.sys',
  'usbd.sys',
  'videoprt.sys',
  'scsiport.sys',
]);

/** The table entry for an imported name, resolving the A/W suffix. */
export function lookupApi(name: string): { key: string; info: ApiInfo; wide?: boolean } | undefined {
  const direct = APIS[name];
  if (direct) return { key: name, info: direct };
  const last = name[name.length - 1];
  if (last === 'W' || last === 'A') {
    const base = name.slice(0, -1);
    const info = APIS[base];
    if (info) return { key: base, info, wide: last === 'W' };
  }
  // Zw* is Nt* from kernel mode
  if (name.startsWith('Zw')) {
    const nt = APIS['Nt' + name.slice(2)];
    if (nt) return { key: 'Nt' + name.slice(2), info: nt };
  }
  return undefined;
}
