// The thin I/O layer of `svcdup analyze`: read the file, or ask the host for the service's
// configuration and read its code file; everything else is the pure analysis.
import { promises as fs, existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { HostBackend, ServiceConfig } from '../backend/types.js';
import { AgentError, SvcdupError, UsageError, Win32 } from '../errors.js';
import { analyzeBinary, type BinaryAnalysis } from './binary.js';
import { codeFileOf, dependencyClosure, parseFailureActions, svchostInfo, type FailureActions } from './config.js';
import { MalformedPeError } from './errors.js';
import { assess, type AnalyzeReport } from './issues.js';

/** What the analysis needs from a host backend (ManagedBackend has it all). */
export interface AnalyzeHost {
  call: HostBackend['call'];
  /** a Windows path of the host as a path this process can read */
  toHostPath(winPath: string): string;
}

export interface AnalyzeOptions {
  /** the host, for a service name; opened only when needed */
  host?: () => Promise<AnalyzeHost>;
  readFile?: (path: string) => Promise<Uint8Array>;
  /** --trace SECONDS */
  trace?: number;
}

/** Files larger than this are refused rather than read. */
export const MAX_FILE_BYTES = 512 * 1024 * 1024;

export class TraceUnavailableError extends SvcdupError {
  constructor() {
    super(
      '--trace is not available yet: it needs the VM layer (svcdup-hook.dll and its per-VM trace channel), which does not exist yet. ' +
        'Run analyze without --trace for the static analysis and the configuration.',
      2,
    );
    this.name = 'TraceUnavailableError';
  }
}

const FILE_EXT = /\.(exe|dll|sys|ocx|cpl|drv|scr|efi|mui)$/i;

/** A path (has a separator or a PE extension) rather than a service name. */
export function looksLikeFile(target: string): boolean {
  return target.includes('/') || target.includes('\\') || FILE_EXT.test(target);
}

async function readPe(path: string, read: (p: string) => Promise<Uint8Array>): Promise<Uint8Array> {
  let size: number | undefined;
  try {
    size = statSync(path).size;
  } catch {
    /* the reader reports it */
  }
  if (size !== undefined && size > MAX_FILE_BYTES) throw new UsageError(`${path} is ${size} bytes: larger than the ${MAX_FILE_BYTES}-byte limit for analysis`);
  return read(path);
}

const defaultRead = async (p: string): Promise<Uint8Array> => new Uint8Array(await fs.readFile(p));

/** Analyze a file (FILE.exe|dll|sys) or a service by name. */
export async function analyzeTarget(target: string, opts: AnalyzeOptions = {}): Promise<AnalyzeReport> {
  if (opts.trace !== undefined) throw new TraceUnavailableError();
  const read = opts.readFile ?? defaultRead;
  if (looksLikeFile(target) || existsSync(target)) {
    if (!existsSync(target)) throw new UsageError(`no such file: ${target}`);
    return analyzeFile(target, read);
  }
  if (!opts.host) throw new UsageError(`"${target}" is not a file, and no host backend is available to look it up as a service`);
  return analyzeService(target, await opts.host(), read);
}

export async function analyzeFile(path: string, read: (p: string) => Promise<Uint8Array> = defaultRead): Promise<AnalyzeReport> {
  let bytes: Uint8Array;
  try {
    bytes = await readPe(path, read);
  } catch (err) {
    if (err instanceof SvcdupError) throw err;
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const binary = analyzeBinary(bytes, { file: path });
  return assess({ target: { input: path, kind: 'file' }, binary });
}

async function tryCall<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof AgentError) return undefined;
    throw err;
  }
}

export async function analyzeService(name: string, host: AnalyzeHost, read: (p: string) => Promise<Uint8Array> = defaultRead): Promise<AnalyzeReport> {
  let cfg: ServiceConfig;
  try {
    cfg = await host.call('scm.config', { name });
  } catch (err) {
    if (err instanceof AgentError && err.code === Win32.ERROR_SERVICE_DOES_NOT_EXIST) {
      throw new UsageError(`no service named "${name}" on this host (svcdup services lists them; for a file, give its path)`);
    }
    throw err;
  }
  const warnings: string[] = [];
  const statuses = (await tryCall(host.call('scm.list', {}))) ?? [];
  const configs = (await Promise.all(statuses.map((s) => (s.name.toLowerCase() === cfg.name.toLowerCase() ? Promise.resolve(cfg) : tryCall(host.call('scm.config', { name: s.name })))))).filter(
    (c): c is ServiceConfig => !!c,
  );
  if (!configs.some((c) => c.name.toLowerCase() === cfg.name.toLowerCase())) configs.push(cfg);
  // dependencies the list did not include (it should): ask for them one by one
  for (const dep of cfg.dependOnService) {
    if (!configs.some((c) => c.name.toLowerCase() === dep.toLowerCase())) {
      const c = await tryCall(host.call('scm.config', { name: dep }));
      if (c) configs.push(c);
    }
  }
  const dependencies = dependencyClosure(cfg, configs);
  const dependents = configs.filter((c) => c.dependOnService.some((d) => d.toLowerCase() === cfg.name.toLowerCase())).map((c) => c.name);

  let registryMembers: string[] | undefined;
  const group = cfg.svchostGroup;
  if (group || /svchost/i.test(cfg.imagePath)) {
    const g = group ?? svchostInfo(cfg, [])?.group;
    if (g) {
      const v = await tryCall(host.call('reg.get', { key: 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Svchost', name: g }));
      if (v?.type === 'REG_MULTI_SZ') registryMembers = v.data;
    }
  }
  const svchost = svchostInfo(cfg, configs, registryMembers);

  const svcKey = `HKLM\\SYSTEM\\CurrentControlSet\\Services\\${cfg.name}`;
  let failureActions: FailureActions | undefined;
  const fa = await tryCall(host.call('reg.get', { key: svcKey, name: 'FailureActions' }));
  if (fa && fa.type === 'REG_BINARY') {
    const cmd = await tryCall(host.call('reg.get', { key: svcKey, name: 'FailureCommand' }));
    const msg = await tryCall(host.call('reg.get', { key: svcKey, name: 'RebootMessage' }));
    failureActions = parseFailureActions(fa.data, cmd && typeof cmd.data === 'string' ? cmd.data : undefined, msg && typeof msg.data === 'string' ? msg.data : undefined);
    if (!failureActions) warnings.push(`the FailureActions value of ${cfg.name} is not a SERVICE_FAILURE_ACTIONS structure`);
  }

  const code = codeFileOf(cfg);
  let hostPath: string | undefined;
  let binary: BinaryAnalysis | undefined;
  let binaryError: string | undefined;
  try {
    hostPath = host.toHostPath(code.path);
  } catch (err) {
    binaryError = `cannot map ${code.path} to a file: ${(err as Error).message}`;
  }
  if (hostPath) {
    try {
      const bytes = await readPe(hostPath, read);
      binary = analyzeBinary(bytes, { file: code.path, knownServices: configs.map((c) => c.name) });
    } catch (err) {
      if (err instanceof MalformedPeError) binaryError = err.message;
      else if (err instanceof SvcdupError) throw err;
      else binaryError = `cannot read ${code.path} (${hostPath}): ${(err as Error).message}`;
    }
  }
  return assess({
    target: { input: name, kind: 'service' },
    config: cfg,
    codeFile: { ...code, ...(hostPath ? { hostPath } : {}) },
    ...(binary ? { binary } : {}),
    ...(binaryError ? { binaryError } : {}),
    ...(svchost ? { svchost } : {}),
    dependencies,
    ...(dependents.length ? { dependents } : {}),
    ...(failureActions ? { failureActions } : {}),
    allServices: configs,
    warnings,
  });
}

/** The file name a report is about, for headings. */
export function displayName(report: AnalyzeReport): string {
  return report.service?.name ?? basename(report.target.input);
}
