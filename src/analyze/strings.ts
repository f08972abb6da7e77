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

const printable = (b: number): boolean => (b >= 0x20 && b < 0x7f) || b === 0x09;

/** Every string in the scanned sections, in file order per encoding. */
export function extractStrings(img: PeImage, opts: StringScanOptions = {}): FoundString[] {
  const min = opts.minLength ?? 4;
  const max = opts.maxLength ?? 1024;
  const out: FoundString[] = [];
  const b = img.bytes;
  for (const s of img.sections) {
    if (!isScannedSection(s)) continue;
    const start = s.rawOffset;
    const end = Math.min(b.byteLength, s.rawOffset + s.rawSize);
    const push = (value: string, encoding: 'ascii' | 'utf16', offset: number): void => {
      out.push({ value, encoding, offset, rva: s.rva + (offset - s.rawOffset), section: s.name });
    };
    // ASCII
    let runStart = -1;
    for (let i = start; i <= end; i++) {
      const ok = i < end && printable(b[i]!);
      if (ok) {
        if (runStart < 0) runStart = i;
        if (i - runStart + 1 === max) {
          push(ascii(b, runStart, i + 1), 'ascii', runStart);
          runStart = -1;
        }
      } else if (runStart >= 0) {
        if (i - runStart >= min) push(ascii(b, runStart, i), 'ascii', runStart);
        runStart = -1;
      }
    }
    // UTF-16LE (ASCII range), at both byte parities
    for (let parity = 0; parity < 2; parity++) {
      runStart = -1;
      for (let i = start + parity; i + 1 <= end; i += 2) {
        const ok = i + 1 < end && b[i + 1] === 0 && printable(b[i]!);
        if (ok) {
          if (runStart < 0) runStart = i;
          if ((i - runStart) / 2 + 1 === max) {
            push(utf16(b, runStart, i + 2), 'utf16', runStart);
            runStart = -1;
          }
        } else if (runStart >= 0) {
          if ((i - runStart) / 2 >= min) push(utf16(b, runStart, i), 'utf16', runStart);
          runStart = -1;
        }
      }
    }
  }
  return out;
}

function ascii(b: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...b.subarray(from, to));
}

function utf16(b: Uint8Array, from: number, to: number): string {
  const codes: number[] = [];
  for (let i = from; i < to; i += 2) codes.push(b[i]!);
  return String.fromCharCode(...codes);
}

/** The string (either encoding) that starts exactly at an RVA, if the scan found one. */
export function indexByRva(strings: FoundString[]): Map<number, FoundString> {
  const m = new Map<number, FoundString>();
  for (const s of strings) if (!m.has(s.rva) || s.encoding === 'utf16') m.set(s.rva, s);
  return m;
}
