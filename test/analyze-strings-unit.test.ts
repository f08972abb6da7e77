// The string scan (strings.ts) against the regular expressions it replaced: the same strings, in
// the same order, on random bytes of every shape (odd offsets and lengths, long runs cut in
// pieces, runs that reach a section's end), and the candidates are exactly the strings that
// hold a mark or start with an "n". Pixel resources (icons, cursors, bitmaps) are skipped: the
// reference sees their bytes as 0xff, a byte that is no character in either encoding.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePe, type PeImage } from '../src/pe/pe.js';
import { extractStrings, type FoundString, isScannedSection, scanStrings } from '../src/analyze/strings.js';

/** The scan as it was: one regular expression for ASCII runs, one for UTF-16 runs of both parities. */
function reference(img: PeImage, min = 4, max = 1024): FoundString[] {
  const shortest = Math.max(1, Math.min(min, max));
  const asciiRun = new RegExp(`[\\t\\x20-\\x7e]{${shortest},}`, 'g');
  const utf16Run = new RegExp(`(?:[\\t\\x20-\\x7e]\\x00){${shortest},}`, 'g');
  const out: FoundString[] = [];
  const b = img.bytes;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  for (const s of img.sections) {
    if (!isScannedSection(s)) continue;
    const start = s.rawOffset;
    const end = Math.min(b.byteLength, s.rawOffset + s.rawSize);
    if (end <= start) continue;
    const delta = s.rva - s.rawOffset;
    const text = buf.toString('latin1', start, end);
    const push = (list: FoundString[], value: string, encoding: 'ascii' | 'utf16', offset: number): void => {
      list.push({ value, encoding, offset, rva: offset + delta, section: s.name });
    };
    for (let m = asciiRun.exec(text); m; m = asciiRun.exec(text)) {
      const j = m.index + m[0].length;
      let k = m.index;
      for (; j - k >= max; k += max) push(out, text.slice(k, k + max), 'ascii', start + k);
      if (j - k >= min) push(out, text.slice(k, j), 'ascii', start + k);
    }
    const odd: FoundString[] = [];
    for (let m = utf16Run.exec(text); m; m = utf16Run.exec(text)) {
      const list = m.index & 1 ? odd : out;
      const j = start + m.index + m[0].length;
      let k = start + m.index;
      for (; (j - k) / 2 >= max; k += 2 * max) push(list, buf.toString('utf16le', k, k + 2 * max), 'utf16', k);
      if (j < end && (j - k) / 2 >= min) push(list, buf.toString('utf16le', k, j), 'utf16', k);
    }
    out.push(...odd);
  }
  return out;
}

/** The image with its pixel resources' bytes made 0xff (no character in either encoding): what the scan skips. */
function erased(img: PeImage): PeImage {
  const bytes = new Uint8Array(img.bytes);
  for (const r of img.resources)
    if (['RT_ICON', 'RT_CURSOR', 'RT_BITMAP'].includes(r.type) && r.offset !== undefined) bytes.fill(0xff, r.offset, r.offset + r.size);
  return { ...img, bytes };
}

function random(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
}

describe('string scan', () => {
  it('finds what the regular expressions found, on random sections', () => {
    const rnd = random(42);
    // bytes that make runs (printable, marks, n), break them (0x7f, 0xff, newline) and make UTF-16 (0)
    const alphabet = [0, 0, 0, 9, 0x20, 0x41, 0x6e, 0x4e, 0x5c, 0x3a, 0x2e, 0x7e, 0x7f, 0xff, 10];
    for (let t = 0; t < 2000; t++) {
      const n = 1 + Math.floor(rnd() * 200);
      const bytes = new Uint8Array(n + 8);
      for (let i = 0; i < bytes.length; i++) bytes[i] = alphabet[Math.floor(rnd() * alphabet.length)]!;
      const off = Math.floor(rnd() * 3);
      const sections = [
        // odd offsets and lengths; one in five runs past the end of the file
        { name: '.data', rva: 0x1000, virtualSize: n, rawOffset: off, rawSize: n + (t % 5 === 0 ? 16 : 0), characteristics: 0 },
        { name: '.reloc', rva: 0x2000, virtualSize: 8, rawOffset: 0, rawSize: 8, characteristics: 0 },
        { name: '.rsrc', rva: 0x3000, virtualSize: 5, rawOffset: 3, rawSize: 5, characteristics: 0 },
      ];
      // pixel resources (skipped) anywhere, overlapping sections' ends, and a string table (scanned)
      const resources = ['RT_ICON', 'RT_BITMAP', 'RT_STRING', 'RT_CURSOR'].slice(0, t % 5).map((type) => {
        const offset = Math.floor(rnd() * (n + 8));
        return { type, id: '1', lang: 0, rva: 0, codepage: 0, offset, size: Math.floor(rnd() * (n + 8 - offset)) };
      });
      const img = { bytes, sections, resources } as unknown as PeImage;
      const min = 1 + Math.floor(rnd() * 6);
      const max = 1 + Math.floor(rnd() * 8);
      expect(extractStrings(img, { minLength: min, maxLength: max })).toEqual(reference(erased(img), min, max));
      const all = reference(erased(img));
      expect(extractStrings(img)).toEqual(all);
      const table = scanStrings(img);
      const marked = all.flatMap((s, i) => (/[\\:.]/.test(s.value) || /^[\t ]*n/i.test(s.value) ? [i] : []));
      expect(table.candidates).toEqual(marked);
      expect(table.ascii).toBe(all.filter((s) => s.encoding === 'ascii').length);
    }
  });

  const dll = '/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/kernelbase.dll';
  it.skipIf(!existsSync(dll))('finds what the regular expressions found, in a Wine DLL', () => {
    const img = parsePe(new Uint8Array(readFileSync(dll)));
    const all = reference(img);
    expect(all.length).toBeGreaterThan(1000);
    expect(extractStrings(img)).toEqual(all);
  });
});
