// Logs (docs/operate.md, "Logs"): a file a VM's service writes, read as the VM sees it. The
// VM's copy-on-write view (docs/state.md, "Files"): its area's copy when it has one, nothing
// when a whiteout hides the host's, else the host's file. Names match as Windows matches them,
// whatever their case on the Linux disk.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { fileAreaWin, WHITEOUT_PREFIX, type AreaBackend } from '../vm/files.js';

/** Where a VM's duplicates' stdout/stderr files are: <home>/logs/<vm>/<service>.log (and .log.1, the rotated one). */
export const vmLogsDir = (home: string, vm: string): string => join(home, 'logs', vm);

/** The file duplicate `service` of VM `vm` writes its stdout and stderr to (named as the hook spelled it: any case). */
export function dupLogPath(home: string, vm: string, service: string): string {
  const dir = vmLogsDir(home, vm);
  return join(dir, entry(dir, `${service}.log`) ?? `${service}.log`);
}

/** What it wrote, the rotated file first; undefined when nothing was kept. */
export function readDupLog(home: string, vm: string, service: string): { path: string; text: string } | undefined {
  const path = dupLogPath(home, vm, service);
  const parts = [`${path}.1`, path].filter((p) => existsSync(p));
  if (parts.length === 0) return undefined;
  return { path, text: parts.map((p) => readFileSync(p, 'utf8')).join('') };
}

/** `X:\a\b` as its drive letter and components; one line for anything else. */
function splitWinPath(path: string): { drive: string; parts: string[] } {
  const m = /^([A-Za-z]):[\\/](.*)$/.exec(path);
  if (!m) throw new UsageError(`--file ${path}: a full Windows path, as the VM's service writes it (e.g. C:\\app\\logs\\app.log)`);
  const parts = m[2]!.split(/[\\/]+/).filter(Boolean);
  if (parts.length === 0 || parts.some((p) => p === '..' || p === '.')) throw new UsageError(`--file ${path}: a file's full path, without . or ..`);
  return { drive: m[1]!.toUpperCase(), parts };
}

/** The entry of `dir` named `name` as Windows compares names (upcase), or undefined. */
function entry(dir: string, name: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const want = name.toUpperCase();
  return names.find((n) => n === name) ?? names.find((n) => n.toUpperCase() === want);
}

/** Where `winPath` is on the Linux disk for VM `vm`, and whose it is; undefined when the VM sees no such file. */
export function resolveVmFile(
  backend: AreaBackend & { toHostPath(p: string): string },
  vm: string,
  winPath: string,
): { path: string; from: 'vm' | 'host' } | undefined {
  const { drive, parts } = splitWinPath(winPath);
  // the VM's area: a copy, or a whiteout on the way that hides the host's
  const area = backend.toHostPath(fileAreaWin(vm));
  const areaDrive = entry(area, drive);
  let dir: string | undefined = areaDrive ? join(area, areaDrive) : undefined;
  for (const [i, p] of parts.entries()) {
    if (!dir) break;
    if (entry(dir, `${WHITEOUT_PREFIX}${p}`)) return undefined;
    const e = entry(dir, p);
    if (!e) break;
    dir = join(dir, e);
    if (i === parts.length - 1 && statSync(dir).isFile()) return { path: dir, from: 'vm' };
  }
  let host = backend.toHostPath(`${drive}:\\`);
  for (const p of parts) {
    const e = entry(host, p);
    if (!e) return undefined;
    host = join(host, e);
  }
  return existsSync(host) && statSync(host).isFile() ? { path: host, from: 'host' } : undefined;
}

/** The last `n` lines of a text (n undefined: all). */
export function tailLines(text: string, n?: number): string {
  if (n === undefined) return text;
  const lines = text.split('\n');
  const trailing = lines.at(-1) === '' ? 1 : 0;
  return lines.slice(Math.max(0, lines.length - trailing - n)).join('\n');
}
