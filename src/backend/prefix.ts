// The Wine prefix svcdup manages: a pristine template made once with wineboot,
// and cheap clones of it. A clone hard-links the template's system binaries
// (Wine only reads them) and copies everything Wine writes (registry files, ini files),
// so a fresh prefix costs a few tens of milliseconds instead of a 700 MB copy.
import { promises as fs, existsSync, readFileSync } from 'node:fs';
import { join, extname, dirname, basename } from 'node:path';

/** Files Wine maps or reads but never writes once the prefix exists. */
const SHARED_EXTENSIONS = new Set([
  '.dll',
  '.exe',
  '.sys',
  '.drv',
  '.ocx',
  '.acm',
  '.cpl',
  '.tlb',
  '.nls',
  '.ds',
  '.com',
  '.msstyles',
  '.icm',
  '.manifest',
  '.ax',
  '.vxd',
  '.tsp',
  '.mui',
]);

export const STAMP_FILE = '.svcdup-stamp';

export interface Stamp {
  wineVersion: string;
  createdAt: string;
}

export function readStamp(dir: string): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, STAMP_FILE), 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

export async function writeStamp(dir: string, wineVersion: string): Promise<void> {
  const stamp: Stamp = { wineVersion, createdAt: new Date().toISOString() };
  await fs.writeFile(join(dir, STAMP_FILE), JSON.stringify(stamp) + '\n');
}

/** Clone `src` into `dest` (which must not exist): hard links for shared binaries, copies for the rest. */
export async function clonePrefix(src: string, dest: string): Promise<{ linked: number; copied: number }> {
  const tmp = join(dirname(dest), `.${basename(dest)}.tmp-${process.pid}`);
  await fs.rm(tmp, { recursive: true, force: true });
  const counts = { linked: 0, copied: 0 };
  try {
    await cloneDir(src, tmp, counts);
    // Atomic: a kill mid-clone leaves only a .tmp directory, never a half prefix.
    await fs.rename(tmp, dest);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return counts;
}

async function cloneDir(src: string, dest: string, counts: { linked: number; copied: number }): Promise<void> {
  await fs.mkdir(dest);
  for (const ent of await fs.readdir(src, { withFileTypes: true })) {
    // wineserver's socket directory link and the stamp are per-prefix
    if (ent.name === STAMP_FILE) continue;
    const s = join(src, ent.name);
    const d = join(dest, ent.name);
    if (ent.isDirectory()) await cloneDir(s, d, counts);
    else if (ent.isSymbolicLink()) await fs.symlink(await fs.readlink(s), d);
    else if (ent.isFile()) {
      if (SHARED_EXTENSIONS.has(extname(ent.name).toLowerCase())) {
        try {
          await fs.link(s, d);
          counts.linked++;
          continue;
        } catch {
          /* another file system: fall back to a copy */
        }
      }
      await fs.copyFile(s, d);
      counts.copied++;
    }
  }
}

/**
 * Give a prefix private copies of every hard-linked file. Needed before Wine updates a
 * prefix in place (a new Wine version rewrites its system DLLs), which would otherwise
 * write through the links into the template.
 */
export async function unsharePrefix(dir: string): Promise<number> {
  let n = 0;
  const walk = async (d: string): Promise<void> => {
    for (const ent of await fs.readdir(d, { withFileTypes: true })) {
      const p = join(d, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isFile()) {
        const st = await fs.stat(p);
        if (st.nlink > 1) {
          const tmp = `${p}.svcdup-unshare`;
          await fs.copyFile(p, tmp);
          await fs.rename(tmp, p);
          n++;
        }
      }
    }
  };
  if (existsSync(dir)) await walk(dir);
  return n;
}
