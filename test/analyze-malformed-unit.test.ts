// Malformed PE files: truncated, bad offsets, absurd counts, loops, and thousands of mutants of
// real binaries. Each must give a clear MalformedPeError (or, when the damage is harmless, a
// report): never a crash, never a hang.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeBinary, analyzeFile, MalformedPeError, parsePe, type PeImage } from '../src/analyze/index.js';
import { rvaToOffset } from '../src/pe/pe.js';
import { ensureTestbins, haveWineBinaries, readBytes, testbin, wineDir } from './fixtures/analyze/helpers.js';

let svc: Uint8Array;
let dll: Uint8Array;
let tmp: string;

beforeAll(() => {
  ensureTestbins();
  svc = readBytes(testbin('ana-svc.exe'));
  dll = readBytes(testbin('ana-svc.dll'));
  tmp = mkdtempSync(join(tmpdir(), 'svcdup-analyze-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function malformed(bytes: Uint8Array): MalformedPeError {
  try {
    analyzeBinary(bytes);
  } catch (err) {
    if (err instanceof MalformedPeError) return err;
    throw new Error(`expected MalformedPeError, got ${String(err)}`);
  }
  throw new Error('expected MalformedPeError, the file was analyzed');
}

const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b);
const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const lfanew = (b: Uint8Array): number => dv(b).getUint32(0x3c, true);
/** file offset of the optional header's data directory `i` */
const dirOffset = (b: Uint8Array, i: number): number => lfanew(b) + 24 + (dv(b).getUint16(lfanew(b) + 24, true) === 0x20b ? 112 : 96) + i * 8;

describe('malformed headers', () => {
  it('an empty file, a text file, a DOS stub', () => {
    expect(malformed(new Uint8Array(0)).message).toMatch(/DOS header: the file is empty/);
    expect(malformed(new TextEncoder().encode('#!/bin/sh\necho this is not a PE file at all, no sir\n')).message).toMatch(/no MZ signature: not a PE file/);
    const stub = copy(svc.subarray(0, 128));
    expect(malformed(stub).message).toMatch(/NT headers|e_lfanew/);
  });

  it('e_lfanew past the end, or at no PE signature', () => {
    const a = copy(svc);
    dv(a).setUint32(0x3c, 0xfffffff0, true);
    expect(malformed(a)).toMatchObject({ part: 'DOS header' });
    expect(malformed(a).detail).toMatch(/e_lfanew 0xfffffff0 points past the end/);
    const b = copy(svc);
    dv(b).setUint32(0x3c, 0x40, true);
    expect(malformed(b).detail).toMatch(/no PE signature/);
  });

  it('absurd NumberOfSections, a zero one, a bad optional header', () => {
    const a = copy(svc);
    dv(a).setUint16(lfanew(a) + 6, 0xffff, true);
    expect(malformed(a).detail).toMatch(/NumberOfSections 65535 exceeds/);
    const z = copy(svc);
    dv(z).setUint16(lfanew(z) + 6, 0, true);
    expect(malformed(z).detail).toMatch(/NumberOfSections is 0/);
    const m = copy(svc);
    dv(m).setUint16(lfanew(m) + 24, 0x107, true);
    expect(malformed(m)).toMatchObject({ part: 'optional header' });
    const s = copy(svc);
    dv(s).setUint16(lfanew(s) + 20, 0x1234, true);
    expect(malformed(s).detail).toMatch(/SizeOfOptionalHeader is 4660/);
    const f = copy(svc);
    dv(f).setUint32(lfanew(f) + 24 + 36, 0, true);
    expect(malformed(f).detail).toMatch(/FileAlignment 0x0 is not a power of two/);
  });

  it('a truncated file: the section table, or a section, runs past the end', () => {
    const img = parsePe(svc);
    const last = img.sections.filter((s) => s.rawSize).at(-1)!;
    const cut = svc.subarray(0, last.rawOffset + 10);
    const e = malformed(cut);
    expect(e.part).toMatch(/^section \d+/);
    expect(e.detail).toMatch(/extends past the end of the \d+-byte file \(truncated\?\)/);
    expect(malformed(svc.subarray(0, lfanew(svc) + 30)).message).toMatch(/optional header|file header/);
  });

  it('overlapping sections claiming more data than the file holds', () => {
    const a = copy(svc);
    const table = lfanew(a) + 24 + 240;
    const n = dv(a).getUint16(lfanew(a) + 6, true);
    for (let i = 0; i < n; i++) {
      dv(a).setUint32(table + i * 40 + 16, a.length - 0x400, true);
      dv(a).setUint32(table + i * 40 + 20, 0x400, true);
    }
    expect(malformed(a).detail).toMatch(/overlapping sections/);
  });

  it('a certificate directory outside the file', () => {
    const a = copy(svc);
    dv(a).setUint32(dirOffset(a, 4), a.length - 8, true);
    dv(a).setUint32(dirOffset(a, 4) + 4, 0x1000, true);
    expect(malformed(a)).toMatchObject({ part: 'certificate directory' });
  });
});

describe('malformed directories', () => {
  const img = (): PeImage => parsePe(svc);

  it('an import directory at an RVA with no file data', () => {
    const a = copy(svc);
    dv(a).setUint32(dirOffset(a, 1), 0x7ffff000, true);
    const e = malformed(a);
    expect(e.part).toBe('import directory');
    expect(e.detail).toMatch(/descriptor RVA 0x7ffff000 is not backed by file data/);
  });

  it('an import name that never ends, a DLL name out of the image', () => {
    const a = copy(svc);
    const desc = rvaToOffset(img(), img().directories[1]!.rva)!;
    dv(a).setUint32(desc + 12, 0x7fff0000, true);
    expect(malformed(a).detail).toMatch(/DLL name RVA 0x7fff0000/);
  });

  it('an export directory with absurd counts', () => {
    const d = parsePe(dll);
    const exp = rvaToOffset(d, d.directories[0]!.rva)!;
    const a = copy(dll);
    dv(a).setUint32(exp + 20, 0x7fffffff, true);
    expect(malformed(a).detail).toMatch(/NumberOfFunctions 2147483647 exceeds 65536/);
    const b = copy(dll);
    dv(b).setUint32(exp + 24, 5000, true);
    expect(malformed(b).detail).toMatch(/NumberOfNames 5000 exceeds NumberOfFunctions/);
    const c = copy(dll);
    dv(c).setUint32(exp + 28, 0x7ffffff0, true);
    expect(malformed(c).detail).toMatch(/AddressOfFunctions RVA/);
  });

  it('a resource tree that loops, or whose counts run out of the section', () => {
    const d = parsePe(dll);
    const root = rvaToOffset(d, d.directories[2]!.rva)!;
    // the first type entry's subdirectory offset: make it point back at the root
    const loop = copy(dll);
    const n = dv(loop).getUint16(root + 12, true) + dv(loop).getUint16(root + 14, true);
    expect(n).toBeGreaterThan(0);
    dv(loop).setUint32(root + 16 + 4, 0x80000000, true);
    expect(malformed(loop).detail).toMatch(/reached twice \(a loop\)/);
    const counts = copy(dll);
    dv(counts).setUint16(root + 14, 0xffff, true);
    expect(malformed(counts)).toMatchObject({ part: 'resource directory' });
    expect(malformed(counts).detail).toMatch(/outside the resource section/);
  });

  it('names the file when given one, through analyzeFile', async () => {
    const p = join(tmp, 'truncated.exe');
    writeFileSync(p, svc.subarray(0, 700));
    await expect(analyzeFile(p)).rejects.toThrow(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: malformed PE file: `));
  });
});

// --- fuzz: mutants of real binaries ---

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [0, 1, 0x7f, 0xff, 0x100, 0xffff, 0x1000, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];

/** One mutant: truncation, header byte noise, interesting 32-bit values in headers or directories, noise anywhere, a filled run. */
function mutate(base: Uint8Array, r: () => number, dirs: number[]): { bytes: Uint8Array; kind: string } {
  let m = new Uint8Array(base);
  const view = (): DataView => new DataView(m.buffer);
  const hdr = Math.min(m.length, 0x1000);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  switch (Math.floor(r() * 7)) {
    case 0:
      return { bytes: m.subarray(0, Math.floor(r() * (r() < 0.5 ? hdr : m.length))), kind: 'truncate' };
    case 1:
      for (let i = 0, n = 1 + Math.floor(r() * 16); i < n; i++) m[Math.floor(r() * hdr)] = Math.floor(r() * 256);
      return { bytes: m, kind: 'header bytes' };
    case 2:
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++)
        view().setUint32(Math.floor(r() * (hdr - 4)) & ~3, r() < 0.7 ? pick(INTERESTING) : Math.floor(r() * 2 ** 32), true);
      return { bytes: m, kind: 'header dwords' };
    case 3: {
      // inside a directory (imports, exports, resources): where the counts and offsets are
      const at = dirs.length ? pick(dirs) : hdr;
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++) {
        const o = Math.min(m.length - 4, at + Math.floor(r() * 256));
        view().setUint32(o, r() < 0.7 ? pick(INTERESTING) : Math.floor(r() * 2 ** 32), true);
      }
      return { bytes: m, kind: 'directory dwords' };
    }
    case 4:
      for (let i = 0, n = 1 + Math.floor(r() * 64); i < n; i++) m[Math.floor(r() * m.length)] = Math.floor(r() * 256);
      return { bytes: m, kind: 'bytes anywhere' };
    case 5: {
      const o = Math.floor(r() * m.length);
      m.fill(Math.floor(r() * 256), o, o + Math.floor(r() * 4096));
      return { bytes: m, kind: 'filled run' };
    }
    default:
      m = m.subarray(0, Math.max(0, m.length - 1 - Math.floor(r() * 64)));
      return { bytes: m, kind: 'tail cut' };
  }
}

describe('fuzz', () => {
  it('2000 mutants of real binaries: a clear error or a report, never a crash or a hang', () => {
    const files = [testbin('ana-svc.exe'), testbin('ana-svc.dll'), testbin('ana-plain.exe'), testbin('ana-drv.sys')];
    if (haveWineBinaries) files.push(...['rpcss.exe', 'spoolsv.exe', 'http.sys', 'schedsvc.dll'].map((f) => join(wineDir, f)));
    const bases = files.map((f) => {
      const bytes = readBytes(f);
      const img = parsePe(bytes);
      const dirs = [0, 1, 2, 13]
        .map((i) => (img.directories[i]!.rva ? rvaToOffset(img, img.directories[i]!.rva) : undefined))
        .filter((o): o is number => o !== undefined);
      return { bytes, dirs };
    });
    const N = 2000;
    const outcome: Record<string, number> = {};
    const failures: string[] = [];
    let slowest = 0;
    const t0 = performance.now();
    for (let k = 0; k < N; k++) {
      const r = rng(k * 7919 + 17);
      const base = bases[k % bases.length]!;
      const { bytes, kind } = mutate(base.bytes, r, base.dirs);
      const t = performance.now();
      try {
        analyzeBinary(bytes);
        outcome.analyzed = (outcome.analyzed ?? 0) + 1;
      } catch (err) {
        if (!(err instanceof MalformedPeError)) failures.push(`mutant ${k} (${kind} of ${files[k % files.length]}): ${String(err)}`);
        else if (err.part === 'unchecked') failures.push(`mutant ${k} (${kind}): an unchecked read: ${err.detail}`);
        else {
          const part = err.part.replace(/^section \d+.*/, 'section').replace(/\s*\(.*$/, '');
          outcome[part] = (outcome[part] ?? 0) + 1;
        }
      }
      slowest = Math.max(slowest, performance.now() - t);
    }
    const total = (performance.now() - t0) / 1000;
    console.log(`fuzz: ${N} mutants of ${files.length} binaries in ${total.toFixed(1)} s (slowest ${slowest.toFixed(0)} ms):`, outcome);
    expect(failures).toEqual([]);
    // a hang guard, not a performance figure (the shared testbed's load varies tenfold): bench/analyze.ts measures speed
    expect(slowest).toBeLessThan(20_000);
    // both outcomes happen: the fuzz reaches past the header checks
    expect(outcome.analyzed ?? 0).toBeGreaterThan(N / 10);
    expect(N - (outcome.analyzed ?? 0)).toBeGreaterThan(N / 10);
  });
});
