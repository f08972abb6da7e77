// Choosing and opening a host backend.
import { resolvePaths, type Paths } from '../config.js';
import { UsageError } from '../errors.js';
import type { HostBackend } from './types.js';
import { WindowsBackend } from './windows.js';
import { findWine, WineBackend } from './wine.js';

export type BackendKind = 'wine' | 'windows';

export interface BackendOptions {
  kind?: BackendKind | string;
  paths?: Paths;
  env?: NodeJS.ProcessEnv;
}

/** Every backend also maps paths back and can be shut down entirely. */
export interface ManagedBackend extends HostBackend {
  readonly paths: Paths;
  /** A Windows path as the file system of this machine spells it. */
  toHostPath(winPath: string): string;
  /**
   * Copy a folder tree (Windows paths of this host) to a place that must not exist yet:
   * to a temporary name beside it, then renamed, so the copy appears whole or not at all.
   */
  copyFolder(fromWin: string, toWin: string): Promise<void>;
  /** Delete a folder tree and a copy of it left half done; nothing when absent. */
  removeFolder(win: string): Promise<void>;
  /** A file's bytes (a Windows path of this host). */
  readFile(win: string): Promise<Uint8Array>;
  /** Write a file that must not exist yet, whole or not at all. */
  writeNewFile(win: string, data: Uint8Array): Promise<void>;
  /** Delete a file; nothing when absent. */
  removeFile(win: string): Promise<void>;
  /** Close the agent and, under Wine, end the wineserver with every process of the prefix. */
  shutdown(): Promise<void>;
}

export function createBackend(opts: BackendOptions = {}): ManagedBackend {
  const env = opts.env ?? process.env;
  const kind = opts.kind ?? env.SVCDUP_BACKEND ?? (process.platform === 'win32' ? 'windows' : 'wine');
  const paths = opts.paths ?? resolvePaths(env);
  if (kind === 'wine') return new WineBackend(paths, findWine(env));
  if (kind === 'windows') return new WindowsBackend(paths);
  throw new UsageError(`unknown backend "${kind}": use wine or windows`);
}

/** Create a backend and open it (prefix, wineserver, agent), ready for calls. */
export async function openBackend(opts: BackendOptions = {}): Promise<ManagedBackend> {
  const b = createBackend(opts);
  await b.open();
  return b;
}

export type { HostBackend } from './types.js';
export { WineBackend, findWine, WineMissingError } from './wine.js';
export { WindowsBackend } from './windows.js';
