// Reading the host's files for the analysis, bounded: a PE image up to 512 MiB, a
// configuration file's first 1 MiB, a folder's first entries.
import { promises as fs, statSync } from 'node:fs';
import { UsageError } from '../errors.js';

/** Files larger than this are refused rather than read. */
export const MAX_FILE_BYTES = 512 * 1024 * 1024;
/** A configuration file is read this far; the rest is reported as not read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export const defaultRead = async (p: string): Promise<Uint8Array> => new Uint8Array(await fs.readFile(p));

export async function readPe(path: string, read: (p: string) => Promise<Uint8Array>): Promise<Uint8Array> {
  let size: number | undefined;
  try {
    size = statSync(path).size;
  } catch {
    /* the reader reports it */
  }
  if (size !== undefined && size > MAX_FILE_BYTES) throw new UsageError(`${path} is ${size} bytes: larger than the ${MAX_FILE_BYTES}-byte limit for analysis`);
  return read(path);
}

/** The first MAX_CONFIG_BYTES of a file, and its whole size when it is larger. */
export async function readHead(path: string, max = MAX_CONFIG_BYTES): Promise<{ bytes: Uint8Array; size: number }> {
  const fh = await fs.open(path, 'r');
  try {
    const { size } = await fh.stat();
    const buf = new Uint8Array(Math.min(size, max));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return { bytes: buf.subarray(0, bytesRead), size };
  } finally {
    await fh.close();
  }
}

/** The entries of a folder (at most `max`), or none when it cannot be listed. */
export async function listFolder(path: string, max = 2000): Promise<string[]> {
  try {
    const out: string[] = [];
    const dir = await fs.opendir(path);
    for await (const e of dir) {
      if (e.isFile()) out.push(e.name);
      if (out.length >= max) break;
    }
    return out;
  } catch {
    return [];
  }
}
