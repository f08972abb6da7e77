// ASCII and UTF-16LE strings in a PE image's sections, each with its file offset. Pure.
import type { PeImage, PeSection } from '../pe/pe.js';

export interface FoundString {
  value: string;
  encoding: 'ascii' | 'utf16';
  /** file offset of the first character */
  offset: number;
  /** RVA of the first character */
  rva: number;
  section: string;
}

export interface StringScanOptions {
  /** shortest run kept; default 4 */
  minLength?: number;
  /** longer runs are cut into pieces of this many characters; default 1024 */
  maxLength?: number;
}

/** Sections that hold no strings a program uses: debug info (COFF long names "/N" too), relocations, unwind data. */
export function isScannedSection(s: PeSection): boolean {
  const n = s.name.toLowerCase();
  if (s.rawSize === 0) return false;
  if (n.startsWith('.debug') || n.startsWith('/') || n.startsWith('.zdebug')) return false;
  return !['.reloc', '.pdata', '.xdata', '.tls', '.crt'].includes(n);
}

// per byte value: 1 if it is a string character (tab, 0x20-0x7e), 2 more if it is a mark
// (a string holding a backslash, colon or dot may name something: StringTable.candidates)
const CHAR = 1;
const MARK = 2;
const BYTE = ((): Uint8Array => {
  const t = new Uint8Array(256);
  t[9] = CHAR;
  for (let c = 0x20; c <= 0x7e; c++) t[c] = CHAR;
  for (const c of [0x5c, 0x3a, 0x2e]) t[c] = CHAR | MARK;
  return t;
})();

/**
 * The strings of an image's scanned sections, kept as positions: a large
 * DLL has tens of thousands (most of them bytes of icons and bitmaps that happen to be
 * printable), and making each a JS string and an object took as long as finding them. Only
 * the strings a caller asks for are made (`at`). Index order is extractStrings' order.
 */
export class StringTable {
  /** how many of the strings are ASCII; the rest are UTF-16LE */
  ascii = 0;
  /** file offset of each string's first character */
  readonly offsets: number[] = [];
  /** each string's length in characters */
  readonly lengths: number[] = [];
  /** per string: its section's index << 2 | 2 if UTF-16 | 1 if it may name something (see `candidates`) */
  readonly flags: number[] = [];
  /**
   * The strings that hold a backslash, a colon or a dot, or start (after blanks) with an "n":
   * every string that classifyString can find a name in (all its categories need `\\` or `:`
   * or are protocol sequences, "nca..."), and every one that names a program (`.exe`).
   */
  readonly candidates: number[] = [];
  /** bytes the scan read: the scanned sections less their pixel resources */
  scannedBytes = 0;
  private readonly made = new Map<number, FoundString>();
  private readonly buf: Buffer;
  constructor(readonly img: PeImage) {
    const b = img.bytes;
    this.buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }
  get length(): number {
    return this.offsets.length;
  }
  isUtf16(i: number): boolean {
    return (this.flags[i]! & 2) !== 0;
  }
  section(i: number): PeSection {
    return this.img.sections[this.flags[i]! >> 2]!;
  }
  /** string i, made once */
  at(i: number): FoundString {
    let s = this.made.get(i);
    if (!s) this.made.set(i, (s = this.make(i)));
    return s;
  }
  /** every string, made */
  all(): FoundString[] {
    const out: FoundString[] = [];
    for (let i = 0; i < this.length; i++) out.push(this.made.get(i) ?? this.make(i));
    return out;
  }
  private make(i: number): FoundString {
    const o = this.offsets[i]!;
    const n = this.lengths[i]!;
    const sec = this.section(i);
    const utf16 = this.isUtf16(i);
    const value = utf16 ? this.buf.toString('utf16le', o, o + 2 * n) : this.buf.toString('latin1', o, o + n);
    return { value, encoding: utf16 ? 'utf16' : 'ascii', offset: o, rva: o + sec.rva - sec.rawOffset, section: sec.name };
  }
}

/**
 * Every string in the scanned sections, in file order per encoding: per section, the ASCII
 * runs, then the UTF-16LE runs at even and at odd offsets (from the section's start). A run of
 * `maxLength` characters or more is cut into pieces of `maxLength`, and what is left kept if
 * `minLength` long; a UTF-16 run that reaches the section's last character position is kept
 * only in whole pieces (what the scan has always done, so that findings stay the same).
 */
export function extractStrings(img: PeImage, opts: StringScanOptions = {}): FoundString[] {
  return scanStrings(img, opts).all();
}

/**
 * The strings of extractStrings, as a StringTable.
 *
 * A run of at least `shortest` characters holds one of every `shortest` positions: the scan
 * reads only those, and where one is a character, reads the run around it (for UTF-16, every
 * second position of each parity). In code and binary data most such positions are not, so
 * most bytes are never read: some three times faster than the regular expressions this
 * replaces (which tried a match at every byte, once for ASCII and once for UTF-16).
 */
export function scanStrings(img: PeImage, opts: StringScanOptions = {}): StringTable {
  const min = opts.minLength ?? 4;
  const max = opts.maxLength ?? 1024;
  const shortest = Math.max(1, Math.min(min, max));
  const t = new StringTable(img);
  const b = img.bytes;
  const pixels = pixelRanges(img);
  img.sections.forEach((s, si) => {
    if (!isScannedSection(s)) return;
    const start = s.rawOffset;
    const end = Math.min(b.byteLength, s.rawOffset + s.rawSize);
    if (end <= start) return;
    const parts = scannedParts(start, end, pixels);
    for (const [from, to] of parts) t.scannedBytes += to - from;
    // a string of `chars` characters `step` bytes apart at file offset `at`
    const found = (at: number, chars: number, step: 1 | 2): void => {
      const to = at + chars * step;
      let k = at;
      while (k < to && (b[k] === 0x20 || b[k] === 9)) k += step;
      let candidate = k < to && (b[k] === 0x6e || b[k] === 0x4e); // n, N
      for (let j = at; j < to && !candidate; j += step) candidate = (BYTE[b[j]!]! & MARK) !== 0;
      if (candidate) t.candidates.push(t.offsets.length);
      if (step === 1) t.ascii++;
      t.offsets.push(at);
      t.lengths.push(chars);
      t.flags.push((si << 2) | (step === 2 ? 2 : 0) | (candidate ? 1 : 0));
    };
    // ASCII runs, cut in pieces of `max`, the rest kept if `min` long
    const runs: number[] = [];
    for (const [from, to] of parts) {
      runs.length = 0;
      asciiRuns(b.subarray(from, to), shortest, runs);
      for (let i = 0; i < runs.length; i += 2) {
        const end = from + runs[i + 1]!;
        let p = from + runs[i]!;
        for (; end - p >= max; p += max) found(p, max, 1);
        if (end - p >= min) found(p, end - p, 1);
      }
    }
    // UTF-16LE at even, then at odd offsets from the section's start
    for (const parity of [0, 1]) {
      for (const [from, to] of parts) {
        runs.length = 0;
        utf16Runs(b.subarray(from, to), shortest, (parity + from - start) & 1, runs);
        for (let i = 0; i < runs.length; i += 2) {
          const last = from + runs[i + 1]!;
          let p = from + runs[i]!;
          for (; (last - p) / 2 >= max; p += 2 * max) found(p, max, 2);
          // a run that reaches the section's last character position is kept only in whole pieces
          if (last < end && (last - p) / 2 >= min) found(p, (last - p) / 2, 2);
        }
      }
    }
  });
  return t;
}

/**
 * File ranges of the resources that are pixels (icons, cursors, bitmaps): in a large DLL
 * most of its bytes (shell32: 7.8 of its 9.5 MB), and never a name a program uses, so the
 * scan skips them. Sorted by offset.
 */
function pixelRanges(img: PeImage): [number, number][] {
  const out: [number, number][] = [];
  for (const r of img.resources) if (r.offset !== undefined && r.size > 0 && PIXELS.has(r.type)) out.push([r.offset, r.offset + r.size]);
  return out.sort((a, b) => a[0] - b[0]);
}
const PIXELS = new Set(['RT_ICON', 'RT_CURSOR', 'RT_BITMAP']);

/** [start, end) less the skipped ranges, as the file ranges left. */
function scannedParts(start: number, end: number, skip: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let p = start;
  for (const [from, to] of skip) {
    if (to <= p || from >= end) continue;
    if (from > p) out.push([p, from]);
    p = Math.max(p, to);
  }
  if (p < end) out.push([p, end]);
  return out;
}

// The two scans below keep their state in locals (no closure shares them), which V8 keeps in registers.

/** The runs of at least `shortest` ASCII characters in `bytes`, as [from, to) pairs. */
function asciiRuns(bytes: Uint8Array, shortest: number, out: number[]): void {
  const n = bytes.length;
  for (let k = shortest - 1; k < n; ) {
    if (!(BYTE[bytes[k]!]! & CHAR)) {
      k += shortest;
      continue;
    }
    let from = k;
    while (from > 0 && BYTE[bytes[from - 1]!]! & CHAR) from--;
    let to = k + 1;
    while (to < n && BYTE[bytes[to]!]! & CHAR) to++;
    if (to - from >= shortest) out.push(from, to);
    // the next run starts after `to` (not a character) and, if long enough, holds `to + shortest`
    k = to + shortest;
  }
}

/** The runs of at least `shortest` UTF-16LE characters (a printable byte, then 0) at offsets of one parity, as [from, to) pairs. */
function utf16Runs(bytes: Uint8Array, shortest: number, parity: number, out: number[]): void {
  const n = bytes.length;
  for (let k = parity + 2 * (shortest - 1); k + 1 < n; ) {
    if (!(BYTE[bytes[k]!]! & CHAR) || bytes[k + 1] !== 0) {
      k += 2 * shortest;
      continue;
    }
    let from = k;
    while (from >= 2 && BYTE[bytes[from - 2]!]! & CHAR && bytes[from - 1] === 0) from -= 2;
    let to = k + 2;
    while (to + 1 < n && BYTE[bytes[to]!]! & CHAR && bytes[to + 1] === 0) to += 2;
    if ((to - from) / 2 >= shortest) out.push(from, to);
    k = to + 2 * shortest;
  }
}

/** The string (either encoding) that starts exactly at an RVA, if the scan found one. */
export function indexByRva(strings: FoundString[]): Map<number, FoundString> {
  const m = new Map<number, FoundString>();
  for (const s of strings) if (!m.has(s.rva) || s.encoding === 'utf16') m.set(s.rva, s);
  return m;
}
