// A VM's private file area (docs/state.md): where the hook keeps the VM's copies,
// new files and whiteouts, and what the control plane does with it: diff, clone, remove.
// The area is reached through the backend's path mapping (toHostPath): the Wine
// prefix's drive_c on Linux, the same path on Windows where svcdup runs on the host.
import { cpSync, existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Paths } from '../config.js';
import type { HostBackend } from '../backend/types.js';

/** The parts of a backend the file area needs. */
export interface AreaBackend extends Pick<HostBackend, 'kind' | 'toWindowsPath'> {
  readonly paths: Paths;
  toHostPath(winPath: string): string;
}

export const WHITEOUT_PREFIX = '.svcdup-wh.';
export const TEMP_PREFIX = '.svcdup-tmp.';

/** svcdup's Windows state folder: every VM's folder is in it. */
export const SVCDUP_STATE_WIN = 'C:\\ProgramData\\svcdup';
/** The VM's folder under svcdup's Windows home; `vm rm` deletes it whole. */
export const vmStateDirWin = (vm: string): string => `${SVCDUP_STATE_WIN}\\VMs\\${vm}`;
/** Where the hook puts the VM's files: <area>\<drive letter>\<path>. */
export const fileAreaWin = (vm: string): string => `${vmStateDirWin(vm)}\\files`;

/**
 * Rules lines telling the hook which other spellings name a drive's root: under Wine
 * the prefix's drive_c is also Z:\<prefix>\drive_c (and its dosdevices\c: link).
 */
export function fileAliasRules(backend: Pick<AreaBackend, 'kind' | 'paths' | 'toWindowsPath'>): string {
  if (backend.kind !== 'wine') return '';
  const spellings = new Set<string>();
  const driveC = join(backend.paths.prefix, 'drive_c');
  spellings.add(driveC);
  try {
    spellings.add(realpathSync(driveC));
  } catch {
    /* the prefix is made later */
  }
  spellings.add(join(backend.paths.prefix, 'dosdevices', 'c:'));
  return [...spellings].map((p) => `alias files C: ${backend.toWindowsPath(p)}\n`).join('') + ownStateRules(backend);
}

/**
 * Rules lines closing svcdup's home on Linux to every VM process, in every spelling: its state
 * database, every VM's rules, and the Wine prefix outside drive_c (dosdevices, the registry
 * files). The hook checks an opened file's canonical name (Wine's, from its real unix path)
 * against these folders, whatever the VM's own rules say (native/hook/files_own.c). drive_c
 * itself is C: to the hook, never one of these names. Part of fileAliasRules' text, so every
 * VM's composed rules carry it.
 */
export function ownStateRules(backend: Pick<AreaBackend, 'kind' | 'paths' | 'toWindowsPath'>): string {
  if (backend.kind !== 'wine') return '';
  const folders = new Set<string>([backend.paths.home]);
  for (const p of [backend.paths.home, backend.paths.prefix])
    try {
      folders.add(realpathSync(p)); // a home or prefix that is a link elsewhere
    } catch {
      /* made later */
    }
  const spellings = [
    ...[...folders].map((p) => backend.toWindowsPath(p)),
    ...ownDriveRules(backend.paths, [...folders, join(backend.paths.prefix, 'drive_c', 'ProgramData', 'svcdup')]),
  ];
  // one line per folder not already inside another (the rules text has a size limit)
  const inside = (a: string, b: string): boolean => a !== b && a.toUpperCase().startsWith(b.toUpperCase().replace(/\\?$/, '\\'));
  const kept = [...new Set(spellings)].filter((p, _, all) => !all.some((q) => inside(p, q)));
  return kept.map((p) => `own files ${p}\n`).join('');
}

/**
 * The same folders by the prefix's other drive letters (dosdevices links): Wine names a file by the
 * deepest drive whose root holds it, so a drive whose root is one of these folders' ancestors
 * spells them `X:\rel`, and a drive whose root is inside one is closed whole (`X:\`). The hook also
 * asks the first spelling itself at run time (a drive added later); the second only this can see.
 * C: is drive_c, judged by the C: rules.
 */
function ownDriveRules(paths: Paths, folders: string[]): string[] {
  const dosdevices = join(paths.prefix, 'dosdevices');
  let names: string[];
  try {
    names = readdirSync(dosdevices);
  } catch {
    return []; // the prefix is made later
  }
  const real = folders.map((f) => {
    try {
      return realpathSync(f);
    } catch {
      return f;
    }
  });
  const under = (a: string, b: string): boolean => a === b || a.startsWith(b.endsWith('/') ? b : `${b}/`);
  const out = new Set<string>();
  for (const n of names) {
    if (!/^[abd-z]:$/i.test(n)) continue;
    let root: string;
    try {
      root = realpathSync(join(dosdevices, n));
    } catch {
      continue; // a dangling link names nothing
    }
    const drive = n.toUpperCase();
    for (const f of real) {
      if (under(root, f)) out.add(`${drive}\\`);
      else if (under(f, root)) out.add(`${drive}${f.slice(root === '/' ? 0 : root.length).replace(/\//g, '\\')}`);
    }
  }
  return [...out];
}

export type DiffKind = 'A' | 'C' | 'D';
export interface FileChange {
  kind: DiffKind;
  /** the Windows path as the VM sees it, e.g. C:\data\x.txt */
  path: string;
}

function sameContent(a: string, b: string): boolean {
  const sa = statSync(a);
  const sb = statSync(b);
  if (sa.size !== sb.size) return false;
  return readFileSync(a).equals(readFileSync(b));
}

/**
 * Files Added, Changed and Deleted in the VM's view against the host's, as `docker diff`
 * lists them. A copied-up file whose bytes equal the host's is not listed; a folder the
 * host also has is listed only when its own attributes changed (never: folders are only
 * containers here).
 */
export function diffFiles(backend: AreaBackend, vm: string): FileChange[] {
  const root = backend.toHostPath(fileAreaWin(vm));
  const out: FileChange[] = [];
  if (!existsSync(root)) return out;
  const walk = (dir: string, win: string) => {
    for (const name of readdirSync(dir).sort((a, b) => (a.toUpperCase() < b.toUpperCase() ? -1 : a.toUpperCase() > b.toUpperCase() ? 1 : 0))) {
      const full = join(dir, name);
      if (name.startsWith(TEMP_PREFIX)) continue;
      if (name.startsWith(WHITEOUT_PREFIX)) {
        out.push({ kind: 'D', path: `${win}\\${name.slice(WHITEOUT_PREFIX.length)}` });
        continue;
      }
      const vmPath = `${win}\\${name}`;
      let hostPath: string | undefined;
      try {
        hostPath = backend.toHostPath(vmPath);
      } catch {
        hostPath = undefined;
      }
      const onHost = hostPath !== undefined && existsSync(hostPath);
      const isDir = lstatSync(full).isDirectory();
      if (isDir) {
        if (!onHost) out.push({ kind: 'A', path: vmPath });
        walk(full, vmPath);
      } else if (!onHost) out.push({ kind: 'A', path: vmPath });
      else if (statSync(hostPath!).isDirectory() || !sameContent(full, hostPath!)) out.push({ kind: 'C', path: vmPath });
    }
  };
  for (const drive of readdirSync(root).sort()) {
    if (!/^[A-Za-z]$/.test(drive)) continue;
    walk(join(root, drive), `${drive.toUpperCase()}:`);
  }
  const key = (p: string) => p.toUpperCase();
  return out.sort((a, b) => (key(a.path) < key(b.path) ? -1 : key(a.path) > key(b.path) ? 1 : 0));
}

/** Copy one VM's private files to another (reflinks where the file system has them). */
export function cloneFiles(backend: AreaBackend, from: string, to: string): void {
  const src = backend.toHostPath(fileAreaWin(from));
  if (!existsSync(src)) return;
  const dst = backend.toHostPath(fileAreaWin(to));
  rmSync(dst, { recursive: true, force: true });
  cpSync(src, dst, { recursive: true, preserveTimestamps: true, filter: (s) => !s.split(/[\\/]/).pop()!.startsWith(TEMP_PREFIX) });
}

/** Delete the VM's whole state folder (files; registry hives live elsewhere). */
export function removeVmState(backend: AreaBackend, vm: string): void {
  let dir: string;
  try {
    dir = backend.toHostPath(vmStateDirWin(vm));
  } catch {
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}
