// A direct duplicate's image (docs/dup.md, "Direct duplicates"): a copy of the service's
// executable that the SCM starts itself, with svcdup-hook.dll loaded before any of its code
// runs. The copy differs from the original in one added section, `.svcdup`, holding
//  - a new import directory: svcdup-hook.dll first (by full path, ordinal 1, as inject.c
//    writes it into a suspended child), then the image's own descriptors unchanged;
//  - the marker the hook reads to know its VM (DIRECT_MAGIC, then the VM and the duplicate's
//    SCM name, UTF-16 and NUL-terminated).
// Bound imports (they would let the loader skip ours), the checksum and the certificate
// entry (the signature no longer matches) are cleared. Pure: bytes in, bytes out.
import { MalformedPeError } from '../pe/errors.js';
import { parsePe, rvaToOffset } from '../pe/pe.js';

export const DIRECT_SECTION = '.svcdup';
/** what the hook looks for at the start of the marker (native/hook/direct.c) */
export const DIRECT_MAGIC = 'svcdup-direct-1';

const IMPORT = 1;
const SECURITY = 4;
const BOUND_IMPORT = 11;
const DESC = 20; // IMAGE_IMPORT_DESCRIPTOR
const FORCE_INTEGRITY = 0x80;
const SCN_DATA_RW = 0xc0000040; // initialized data, read, write (the loader writes the IAT)

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

export interface DirectMarker {
  vm: string;
  /** the duplicate's name in the host SCM */
  scmName: string;
}

/**
 * The direct copy of a 64-bit service image. `hookPath` is svcdup-hook.dll's Windows path
 * (ASCII: an import names its DLL in ANSI). Throws MalformedPeError for what cannot be
 * patched safely: not a 64-bit executable, no room for one more section header, already a
 * direct copy.
 */
export function directImage(bytes: Uint8Array, hookPath: string, marker: DirectMarker): Uint8Array {
  const img = parsePe(bytes);
  if (!img.is64 || img.machine !== 0x8664)
    throw new MalformedPeError('image', 'a direct duplicate needs a 64-bit (x64) executable: the hook is built for x64 only');
  const stub = new TextDecoder('latin1').decode(bytes.subarray(0x40, 0x54));
  if (/^Wine (builtin|placeholder) DLL/.test(stub))
    throw new MalformedPeError('image', 'a Wine builtin: Wine loads its code by the file name, which a copy does not have (duplicate it without --direct)');
  if (img.isDll) throw new MalformedPeError('image', 'a DLL, not an executable');
  if (img.sections.some((s) => s.name === DIRECT_SECTION)) throw new MalformedPeError('image', `already a direct copy (has a ${DIRECT_SECTION} section)`);
  if (!/^[\x20-\x7e]+$/.test(hookPath)) throw new MalformedPeError('image', `svcdup-hook.dll's path must be ASCII to be named in an import table: ${hookPath}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nt = dv.getUint32(0x3c, true);
  const fileHeader = nt + 4;
  const nSections = dv.getUint16(fileHeader + 2, true);
  const optHeader = fileHeader + 20;
  const sectionTable = optHeader + dv.getUint16(fileHeader + 16, true);
  const dirs = optHeader + 112; // PE32+ data directories
  const fileAlign = dv.getUint32(optHeader + 36, true);
  const sectAlign = dv.getUint32(optHeader + 32, true);
  const newHeader = sectionTable + nSections * 40;
  const firstRaw = Math.min(img.sizeOfHeaders, ...img.sections.filter((s) => s.rawSize > 0).map((s) => s.rawOffset));
  if (newHeader + 40 > firstRaw) throw new MalformedPeError('section table', 'no room for one more section header before the first section');
  if (bytes.subarray(newHeader, newHeader + 40).some((b) => b !== 0))
    throw new MalformedPeError('section table', 'the bytes after the last section header are in use');

  // the image's own import descriptors, up to the null one
  const own: Uint8Array[] = [];
  const imp = img.directories[IMPORT]!;
  if (imp.rva) {
    const at = rvaToOffset(img, imp.rva);
    if (at === undefined) throw new MalformedPeError('imports', 'the import directory lies outside the file');
    for (let o = at; ; o += DESC) {
      if (o + DESC > bytes.byteLength) throw new MalformedPeError('imports', 'the import directory runs past the end of the file');
      const d = bytes.subarray(o, o + DESC);
      if (dv.getUint32(o + 12, true) === 0 && dv.getUint32(o + 16, true) === 0) break;
      if (own.length > 4096) throw new MalformedPeError('imports', 'more than 4096 import descriptors');
      own.push(d);
    }
  }

  // the section: descriptors | lookup[2] | iat[2] | hook path | marker
  const va = align(Math.max(...img.sections.map((s) => s.rva + Math.max(s.virtualSize, s.rawSize))), sectAlign);
  const descBytes = (own.length + 2) * DESC;
  const lookupAt = align(descBytes, 8);
  const iatAt = lookupAt + 16;
  const pathAt = iatAt + 16;
  const markerAt = align(pathAt + hookPath.length + 1, 8);
  const text = `${DIRECT_MAGIC}\0${marker.vm}\0${marker.scmName}\0`;
  const size = markerAt + text.length * 2;
  const data = new Uint8Array(align(size, fileAlign));
  const ddv = new DataView(data.buffer);
  ddv.setUint32(0, va + lookupAt, true); // OriginalFirstThunk
  ddv.setUint32(12, va + pathAt, true); // Name
  ddv.setUint32(16, va + iatAt, true); // FirstThunk
  for (const [i, d] of own.entries()) data.set(d, (i + 1) * DESC);
  for (const at of [lookupAt, iatAt]) ddv.setBigUint64(at, 0x8000000000000001n, true); // by ordinal 1: svcdup_hook_anchor
  for (let i = 0; i < hookPath.length; i++) data[pathAt + i] = hookPath.charCodeAt(i);
  for (let i = 0; i < text.length; i++) ddv.setUint16(markerAt + i * 2, text.charCodeAt(i), true);

  // the file: the original (any overlay kept), padded to the file alignment, then the section
  const raw = align(bytes.byteLength, fileAlign);
  const out = new Uint8Array(raw + data.byteLength);
  out.set(bytes);
  out.set(data, raw);
  const odv = new DataView(out.buffer);
  const name = new TextEncoder().encode(DIRECT_SECTION);
  out.set(name, newHeader);
  odv.setUint32(newHeader + 8, size, true); // VirtualSize
  odv.setUint32(newHeader + 12, va, true);
  odv.setUint32(newHeader + 16, data.byteLength, true); // SizeOfRawData
  odv.setUint32(newHeader + 20, raw, true); // PointerToRawData
  odv.setUint32(newHeader + 36, SCN_DATA_RW, true);
  odv.setUint16(fileHeader + 2, nSections + 1, true);
  odv.setUint32(optHeader + 56, align(va + size, sectAlign), true); // SizeOfImage
  odv.setUint32(optHeader + 64, 0, true); // CheckSum
  odv.setUint16(optHeader + 70, odv.getUint16(optHeader + 70, true) & ~FORCE_INTEGRITY, true);
  odv.setUint32(dirs + IMPORT * 8, va, true);
  odv.setUint32(dirs + IMPORT * 8 + 4, descBytes, true);
  for (const d of [SECURITY, BOUND_IMPORT]) {
    odv.setUint32(dirs + d * 8, 0, true);
    odv.setUint32(dirs + d * 8 + 4, 0, true);
  }
  return out;
}

/** The marker of a direct copy, or undefined: for `analyze` and the tests. */
export function directMarker(bytes: Uint8Array): DirectMarker | undefined {
  const img = parsePe(bytes);
  const s = img.sections.find((x) => x.name === DIRECT_SECTION);
  if (!s) return undefined;
  const words: number[] = [];
  for (let o = s.rawOffset; o + 1 < s.rawOffset + s.rawSize; o += 2) words.push(bytes[o]! | (bytes[o + 1]! << 8));
  const text = String.fromCharCode(...words);
  const at = text.indexOf(`${DIRECT_MAGIC}\0`);
  if (at < 0) return undefined;
  const [vm, scmName] = text.slice(at + DIRECT_MAGIC.length + 1).split('\0');
  return vm && scmName ? { vm, scmName } : undefined;
}
