// Which folders a duplicate gets as a snapshot when it is made (docs/state.md, "No torn views").
// Pure: a function of the service's configuration and its Parameters values.
import type { RegValue, ServiceConfig } from '../backend/types.js';
import { imageOf } from './image.js';

const ABS = /^[A-Za-z]:\\/;
/** Folders never snapshotted: the system's own (huge, and written by the system, not the service). */
const SYSTEM = [
  /^[A-Za-z]:\\windows(\\|$)/i,
  /^[A-Za-z]:\\?$/,
  /^[A-Za-z]:\\program files( \(x86\))?\\?$/i,
  /^[A-Za-z]:\\programdata\\?$/i,
  /^[A-Za-z]:\\users\\?$/i,
];

function expand(s: string): string {
  return s
    .replace(/%(SystemRoot|windir)%/gi, 'C:\\windows')
    .replace(/%ProgramFiles%/gi, 'C:\\Program Files')
    .replace(/%ProgramData%/gi, 'C:\\ProgramData')
    .replace(/%SystemDrive%/gi, 'C:');
}

/** A folder as svcdup compares it: environment names expanded, one kind of separator, no trailing one. */
export function normalize(p: string): string {
  return expand(p).replace(/\//g, '\\').replace(/\\+/g, '\\').replace(/\\$/, '');
}

const parentOf = (p: string) => p.slice(0, Math.max(p.lastIndexOf('\\'), 2));
/** A path naming a file (its last part has an extension) stands for its folder. */
const folderOf = (p: string) => (/\.[A-Za-z0-9]{1,4}$/.test(p.split('\\').pop() ?? '') ? parentOf(p) : p);

/** Absolute paths inside a string: whole values, --opt=PATH, quoted or space-separated arguments. */
function pathsIn(text: string): string[] {
  const out: string[] = [];
  for (const m of expand(text).matchAll(/"([A-Za-z]:\\[^"]*)"|(?:^|[\s=,;])([A-Za-z]:\\[^\s",;]*)/g)) out.push((m[1] ?? m[2])!);
  return out;
}

/**
 * The folders a service is known to write, snapshotted whole when its duplicate is made:
 * folders named in ImagePath arguments and in its Parameters values (a data directory,
 * a config file's folder), and the folders its configuration files name (`extra`: derived by
 * `configFolders` in src/analyze/configfiles.ts, which reads them). Not the image's own folder nor the ServiceDll's: they hold the
 * binaries (PostgreSQL's bin is 100+ MB) and what a service writes there (logs, pid files)
 * is copied up lazily when the VM writes it. System folders are never included; a folder
 * inside another listed one is dropped. Sorted, case-insensitively unique.
 */
export function snapshotFolders(
  config: Pick<ServiceConfig, 'imagePath' | 'serviceDll' | 'svchostGroup'>,
  params: readonly RegValue[] = [],
  extra: readonly string[] = [],
): string[] {
  return outermostFolders([...extra, ...namedFolders(config, params)]);
}

/** The folders named in ImagePath arguments and Parameters values (a file stands for its folder). */
function namedFolders(config: Pick<ServiceConfig, 'imagePath'>, params: readonly RegValue[]): string[] {
  const found: string[] = [];
  const args = expand(config.imagePath).slice(expand(config.imagePath).indexOf(imageOf(config.imagePath)) + imageOf(config.imagePath).length);
  for (const p of pathsIn(args)) found.push(folderOf(normalize(p)));
  for (const v of params) {
    const texts = v.type === 'REG_SZ' || v.type === 'REG_EXPAND_SZ' ? [v.data] : v.type === 'REG_MULTI_SZ' ? v.data : [];
    for (const t of texts) for (const p of pathsIn(t)) found.push(folderOf(normalize(p)));
  }
  return found;
}

/**
 * The drive roots an ImagePath argument or a Parameters value names (`C:\`, or a file in it):
 * snapshotFolders drops them with the system folders, and dup lists them as not snapshotted
 * (snapshotRefusal says why), so that a user sees the folder was named and left out.
 * Uppercase drives (`C:`), case-insensitively unique, in the order named.
 */
export function driveRootsNamed(config: Pick<ServiceConfig, 'imagePath'>, params: readonly RegValue[] = []): string[] {
  const roots = namedFolders(config, params).filter((f) => /^[A-Za-z]:$/.test(f));
  return [...new Set(roots.map((f) => f.toUpperCase()))];
}

/** Absolute, non-system folders, case-insensitively unique, a folder inside another dropped; sorted. */
export function outermostFolders(found: readonly string[]): string[] {
  const unique = new Map<string, string>();
  for (const f of found) if (ABS.test(f + '\\') && !SYSTEM.some((r) => r.test(f))) unique.set(f.toLowerCase(), f);
  const keys = [...unique.keys()].sort();
  return keys.filter((k) => !keys.some((o) => o !== k && k.startsWith(o + '\\'))).map((k) => unique.get(k)!);
}
