// Which folders a duplicate gets as a snapshot when it is made (docs/state.md, "No torn views").
// Pure: a function of the service's configuration and its Parameters values.
import type { RegValue, ServiceConfig } from '../backend/types.js';
import { imageOf } from '../analyze/config.js';
import type { ConfigFileRead } from '../analyze/configfiles.js';
import { configSettings, winDirname } from '../analyze/settings.js';

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

function normalize(p: string): string {
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
 * a config file's folder), and in its configuration files (`configFolders`). Not the image's own folder nor the ServiceDll's: they hold the
 * binaries (PostgreSQL's bin is 100+ MB) and what a service writes there (logs, pid files)
 * is copied up lazily when the VM writes it. System folders are never included; a folder
 * inside another listed one is dropped. Sorted, case-insensitively unique.
 */
export function snapshotFolders(
  config: Pick<ServiceConfig, 'imagePath' | 'serviceDll' | 'svchostGroup'>,
  params: readonly RegValue[] = [],
  configFiles: readonly Pick<ConfigFileRead, 'path' | 'parsed'>[] = [],
): string[] {
  const found: string[] = [...configFolders(configFiles, imageOf(expand(config.imagePath)))];
  const args = expand(config.imagePath).slice(expand(config.imagePath).indexOf(imageOf(config.imagePath)) + imageOf(config.imagePath).length);
  for (const p of pathsIn(args)) found.push(folderOf(normalize(p)));
  for (const v of params) {
    const texts = v.type === 'REG_SZ' || v.type === 'REG_EXPAND_SZ' ? [v.data] : v.type === 'REG_MULTI_SZ' ? v.data : [];
    for (const t of texts) for (const p of pathsIn(t)) found.push(folderOf(normalize(p)));
  }
  return outermostFolders(found);
}

/** Absolute, non-system folders, case-insensitively unique, a folder inside another dropped; sorted. */
export function outermostFolders(found: readonly string[]): string[] {
  const unique = new Map<string, string>();
  for (const f of found) if (ABS.test(f + '\\') && !SYSTEM.some((r) => r.test(f))) unique.set(f.toLowerCase(), f);
  const keys = [...unique.keys()].sort();
  return keys.filter((k) => !keys.some((o) => o !== k && k.startsWith(o + '\\'))).map((k) => unique.get(k)!);
}

const WRITTEN = new Set(['data-folder', 'log-folder', 'folder']);

/**
 * The folders a service's configuration files name for it to write: data, log and other
 * folders, and the folders of pid and other files (relative paths against the file's
 * folder). Not the image's own folder nor one holding it: that is where the binaries are.
 */
export function configFolders(files: readonly Pick<ConfigFileRead, 'path' | 'parsed'>[], image = ''): string[] {
  const bin = image.includes('\\') ? normalize(winDirname(image)).toLowerCase() : undefined;
  const out: string[] = [];
  for (const f of files) {
    if (!f.parsed) continue;
    for (const s of configSettings(f.path, f.parsed)) {
      const folder = WRITTEN.has(s.meaning)
        ? s.value
        : s.meaning === 'pid-file' || (s.meaning === 'file' && !/\.(exe|dll)$/i.test(s.value))
          ? winDirname(s.value)
          : undefined;
      if (folder === undefined) continue;
      const n = normalize(folder);
      if (bin && (bin === n.toLowerCase() || bin.startsWith(`${n.toLowerCase()}\\`))) continue;
      out.push(n);
    }
  }
  return out;
}
