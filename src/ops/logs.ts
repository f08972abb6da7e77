// Logs (docs/operate.md, "Logs"): a file a VM's service writes, read as the VM sees it. The
// VM's copy-on-write view (docs/state.md, "Files"): its area's copy when it has one, nothing
// when a whiteout hides the host's, else the host's file. Names match as Windows matches them,
// whatever their case on the Linux disk.
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
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

/** What it wrote, the rotated file first; undefined when nothing was kept. `since`: only what was
 *  written from then on, as far as the time marks tell (at most one look of the watcher earlier). */
export function readDupLog(home: string, vm: string, service: string, since?: Date): { path: string; text: string; end: number } | undefined {
  const path = dupLogPath(home, vm, service);
  const parts = [`${path}.1`, path].filter((p) => existsSync(p));
  if (parts.length === 0) return undefined;
  const read = parts.map((p) => (since ? readSince(p, since.getTime()) : whole(p)));
  // `end`: how far the current log was read, where `logs -f` goes on (its size read again later
  // would skip what the image appended in between)
  return { path, text: read.map((r) => r.text).join(''), end: parts.at(-1) === path ? read.at(-1)!.end : 0 };
}

function whole(log: string): { text: string; end: number } {
  const buf = readFileSync(log);
  return { text: buf.toString('utf8'), end: buf.length };
}

// ---- rotation and time marks: the watcher's, at each look (docs/operate.md, "Logs") ----

/** The size over which the watcher rotates a running duplicate's log (the hook: at its start, 10 MiB). */
export function logMaxBytes(env: NodeJS.ProcessEnv = process.env): number {
  const m = /^(\d+)([kmg]?)$/i.exec(env.SVCDUP_LOG_MAX?.trim() ?? '');
  const n = m ? Number(m[1]) * { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'] : 0;
  return n >= 4096 ? n : 10 * 2 ** 20;
}

/** Beside each log: `epochMs size` lines, "at this time the file had this many bytes". */
const marksOf = (log: string) => `${log}.times`;

function marks(log: string): [number, number][] {
  try {
    return readFileSync(marksOf(log), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ').map(Number) as [number, number]);
  } catch {
    return [];
  }
}

/** The part of `log` written at or after `since`: from the size it had at the last mark not after
 *  it, cut to a whole line; all of it when no mark is that old (and it changed since), none when
 *  it has not changed since. */
function readSince(log: string, since: number): { text: string; end: number } {
  const st = statSync(log);
  if (st.mtimeMs < since) return { text: '', end: st.size };
  const before = marks(log).filter(([t]) => t <= since);
  const from = before.length ? Math.min(before.at(-1)![1], st.size) : 0;
  // from the byte before `from`, to tell whether the mark fell in the middle of a line
  const start = from > 0 ? from - 1 : 0;
  const buf = readRange(log, start, st.size);
  let text = buf.subarray(from - start).toString('utf8');
  // a mark in the middle of a line (the image was writing it): from the next one
  if (from > 0 && buf[0] !== 0x0a) text = text.slice(text.indexOf('\n') + 1);
  return { text, end: st.size };
}

/** Bytes [from, to) of a file. */
export function readRange(path: string, from: number, to: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(to - from);
    readSync(fd, buf, 0, buf.length, from);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/**
 * The watcher's care of the running duplicates' logs, at each look: a time mark when one grew
 * (for `logs --since`), and one over `max` rotated. The image holds its log open, appending, so
 * the log is not renamed (the image would go on writing the renamed file) but copied to `.log.1`
 * and emptied in place ("copytruncate"); the image's next write lands at the new end. What it
 * writes between the copy's last read and the truncation (microseconds) is lost.
 */
export class DupLogKeeper {
  private readonly sizes = new Map<string, number>();

  constructor(
    private readonly home: string,
    private readonly max = logMaxBytes(),
  ) {}

  /** One duplicate's log; 'rotated' when it was. */
  look(vm: string, service: string, now = Date.now()): 'rotated' | undefined {
    const log = dupLogPath(this.home, vm, service);
    let size: number;
    try {
      size = statSync(log).size;
    } catch {
      return undefined;
    }
    const was = this.sizes.get(log);
    this.sizes.set(log, size);
    // smaller than at the last look: the hook rotated it at a start (its marks are the old file's)
    if (was !== undefined && size < was && existsSync(marksOf(log))) renameSync(marksOf(log), marksOf(`${log}.1`));
    if (size <= this.max) {
      if (was !== undefined && size !== was) appendFileSync(marksOf(log), `${now} ${size}\n`);
      return undefined;
    }
    copyFileSync(log, `${log}.1`);
    const fd = openSync(log, 'r+');
    try {
      // what was appended after the copy's end (the copy reads to the end it finds, not to `size`)
      const copied = statSync(`${log}.1`).size;
      const grown = fstatSync(fd).size;
      if (grown > copied) {
        const buf = Buffer.alloc(grown - copied);
        readSync(fd, buf, 0, buf.length, copied);
        appendFileSync(`${log}.1`, buf);
      }
      ftruncateSync(fd, 0);
    } finally {
      closeSync(fd);
    }
    if (existsSync(marksOf(log))) renameSync(marksOf(log), marksOf(`${log}.1`));
    else rmSync(marksOf(`${log}.1`), { force: true });
    writeFileSync(marksOf(log), `${now} 0\n`);
    this.sizes.set(log, 0);
    return 'rotated';
  }
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
