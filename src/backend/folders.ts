// Folder copies on this machine's file system, for the backends' copyFolder/removeFolder
// (a duplicate's snapshot, docs/state.md "No torn views"). Reflinks where the file system
// has them (COPYFILE_FICLONE falls back to a plain copy), whole or nothing: the tree is
// copied to `.svcdup-tmp.snapshot.<name>` beside its place (a name the hook never shows to a
// VM process) and renamed into place.
import { constants, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SvcdupError } from '../errors.js';

const tempOf = (dst: string): string => join(dirname(dst), `.svcdup-tmp.snapshot.${basename(dst)}`);

export async function copyTree(src: string, dst: string): Promise<void> {
  const st = await fs.stat(src).catch(() => undefined);
  if (!st?.isDirectory()) throw new SvcdupError(`cannot snapshot ${src}: not a folder`);
  if (await fs.lstat(dst).catch(() => undefined)) throw new SvcdupError(`cannot snapshot into ${dst}: it exists already`);
  const tmp = tempOf(dst);
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(dirname(dst), { recursive: true });
  try {
    await fs.cp(src, tmp, { recursive: true, mode: constants.COPYFILE_FICLONE, preserveTimestamps: true, verbatimSymlinks: true });
    await fs.rename(tmp, dst);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export async function removeTree(dst: string): Promise<void> {
  await fs.rm(tempOf(dst), { recursive: true, force: true });
  await fs.rm(dst, { recursive: true, force: true });
}

/** Bytes of the files under a folder; undefined when it is not a folder. Stops counting past `limit`. */
export async function treeBytes(dir: string, limit = Number.POSITIVE_INFINITY): Promise<number | undefined> {
  const st = await fs.stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return undefined;
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      if (total > limit) return;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += (await fs.stat(p)).size;
    }
  };
  await walk(dir);
  return total;
}

/**
 * Write a file that must not exist yet, whole or not at all: to a temporary name beside it,
 * then hard-linked into place (which fails, leaving nothing, when the name is taken).
 */
export async function writeNewFile(dst: string, data: Uint8Array): Promise<void> {
  const tmp = tempOf(dst);
  try {
    // a temporary file left by a killed write is removed first (one file operation fewer when there is none)
    await fs.writeFile(tmp, data, { flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
      await fs.rm(tmp, { force: true });
      await fs.writeFile(tmp, data, { flag: 'wx' });
    });
    await fs.link(tmp, dst);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new SvcdupError(`cannot write ${dst}: it exists already`);
    throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** Delete a file (and a half-written copy of it); nothing when absent. */
export async function removeFile(dst: string): Promise<void> {
  await fs.rm(tempOf(dst), { force: true });
  await fs.rm(dst, { force: true });
}

/**
 * The file operations of a backend whose Windows paths map onto this machine's files (both
 * backends: toHostPath says how). The ManagedBackend methods of the same names.
 */
export abstract class HostFiles {
  abstract toHostPath(winPath: string): string;

  async copyFolder(fromWin: string, toWin: string): Promise<void> {
    await copyTree(this.toHostPath(fromWin), this.toHostPath(toWin));
  }

  async removeFolder(win: string): Promise<void> {
    await removeTree(this.toHostPath(win));
  }

  async readFile(win: string): Promise<Uint8Array> {
    return fs.readFile(this.toHostPath(win));
  }

  async writeNewFile(win: string, data: Uint8Array): Promise<void> {
    await writeNewFile(this.toHostPath(win), data);
  }

  async removeFile(win: string): Promise<void> {
    await removeFile(this.toHostPath(win));
  }
}
