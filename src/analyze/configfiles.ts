// The configuration files of a service, read the same way for `analyze` (its footprint) and
// for `dup` (the folders they name are snapshotted: docs/state.md "No torn views"): the files
// its ImagePath arguments and Parameters name, and the configuration-like files in the data
// folders they name, in the image's own folder and in the folders of programs they name.
import { existsSync, statSync } from 'node:fs';
import type { RegValue } from '../backend/types.js';
import { listFolder, readHead } from './files.js';
import { directSettings } from './footprint.js';
import type { SettingFinding } from './report.js';
import { imageOf } from '../plan/image.js';
import { normalize } from '../plan/snapshot.js';
import { CONFIG_FILE, configSettings, isWinPath, parseCommandLine, parseConfigText, type ParsedConfig, winDirname } from './settings.js';

export interface ConfigFileRead {
  path: string;
  parsed?: ParsedConfig;
  error?: string;
}

/** At most this many files are read per service, and this many config-like files per folder. */
const MAX_FILES = 20;
const MAX_PER_FOLDER = 10;

/** Where to look (pure): the files the settings name, and the folders whose config-like files are read. */
export function configFileSearch(settings: readonly SettingFinding[], image: string): { named: string[]; folders: string[] } {
  const named = settings.filter((s) => s.meaning === 'config-file').map((s) => s.value);
  const folders = settings.filter((s) => s.meaning === 'data-folder' || s.meaning === 'folder').map((s) => s.value);
  // programs named in the settings (their own configuration files are the service's too)
  for (const s of settings) if (s.meaning === 'file' && /\.exe$/i.test(s.value)) folders.push(winDirname(s.value));
  if (isWinPath(image) && !/^[A-Za-z]:\\windows\\/i.test(image)) folders.push(winDirname(image));
  return { named, folders };
}

/** The Parameters values as name/value strings (what the settings are read from). */
export function parameterStrings(values: readonly RegValue[]): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const v of values) {
    if (typeof v.data === 'string' && (v.type === 'REG_SZ' || v.type === 'REG_EXPAND_SZ')) out.push({ name: v.name, value: v.data });
    else if (Array.isArray(v.data)) for (const s of v.data.slice(0, 50)) out.push({ name: v.name, value: s });
    else if (v.type === 'REG_DWORD' && typeof v.data === 'number') out.push({ name: v.name, value: String(v.data) });
  }
  return out.slice(0, 500);
}

/** Read the files `configFileSearch` names, bounded (MAX_CONFIG_BYTES each). */
export async function readConfigFiles(
  toHostPath: (winPath: string) => string,
  named: readonly string[],
  folders: readonly string[],
): Promise<ConfigFileRead[]> {
  const local = (p: string): string | undefined => {
    try {
      return toHostPath(p);
    } catch {
      return undefined;
    }
  };
  const paths = new Map<string, string>();
  for (const p of named) paths.set(p.toLowerCase(), p);
  const seen = new Set<string>();
  for (const f of folders) {
    const lp = local(f);
    if (!lp || seen.has(f.toLowerCase())) continue;
    seen.add(f.toLowerCase());
    for (const name of (await listFolder(lp, 500)).filter((n) => CONFIG_FILE.test(n)).slice(0, MAX_PER_FOLDER))
      paths.set(`${f}\\${name}`.toLowerCase(), `${f}\\${name}`);
  }
  const out: ConfigFileRead[] = [];
  for (const path of [...paths.values()].slice(0, MAX_FILES)) {
    const lp = local(path);
    if (!lp || !existsSync(lp)) {
      out.push({ path, error: 'named in its settings, but not found' });
      continue;
    }
    try {
      if (!statSync(lp).isFile()) continue;
      const { bytes, size } = await readHead(lp);
      out.push({ path, parsed: parseConfigText(bytes, size > bytes.length ? size : undefined) });
    } catch (err) {
      out.push({ path, error: `cannot read it: ${(err as Error).message}` });
    }
  }
  return out;
}

/** A service's configuration files from its ImagePath and Parameters values, as `dup` reads them. */
export async function serviceConfigFiles(toHostPath: (winPath: string) => string, imagePath: string, params: readonly RegValue[]): Promise<ConfigFileRead[]> {
  const commandLine = parseCommandLine(imagePath);
  const settings = directSettings(commandLine, commandLine.image, parameterStrings(params));
  const { named, folders } = configFileSearch(settings, commandLine.image);
  return readConfigFiles(toHostPath, named, folders);
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

/** The folders a service's configuration files name, beside its ImagePath's image (what `snapshotFolders` takes as `extra`). */
export function configFoldersOf(config: { imagePath: string }, files: readonly Pick<ConfigFileRead, 'path' | 'parsed'>[]): string[] {
  return configFolders(files, imageOf(normalize(config.imagePath)));
}
