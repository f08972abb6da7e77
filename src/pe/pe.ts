// A PE image, read defensively. pe-library parses the headers and the section table after
// svcdup has checked every field it would trust (it copies whatever the header says to copy
// and throws or allocates on bad input); the directories pe-library does not parse (imports,
// delay imports, exports) and the resource tree (whose pe-library reader trusts every count)
// are walked here with bounded readers. Pure: bytes in, structures out, no I/O.
import * as PE from 'pe-library';
import { MalformedPeError } from './errors.js';

export interface PeSection {
  name: string;
  rva: number;
  virtualSize: number;
  rawOffset: number;
  rawSize: number;
  characteristics: number;
}

export interface PeImport {
  dll: string;
  /** function name, or `#<ordinal>` when imported by ordinal */
  name: string;
  /** RVA of this import's IAT slot: what call sites reference */
  iatRva: number;
  delayLoad: boolean;
}

export interface PeExport {
  name?: string;
  ordinal: number;
  rva: number;
  /** "DLL.Function" when the export forwards elsewhere */
  forwarder?: string;
}

export interface PeResource {
  /** RT_* name for the standard numeric types, else the numeric id or the type's own name */
  type: string;
  id: string;
  lang: number;
  rva: number;
  size: number;
  codepage: number;
  /** file offset of the data, when it lies in the file */
  offset?: number;
}

export interface PeImage {
  bytes: Uint8Array;
  machine: number;
  is64: boolean;
  /** IMAGE_FILE_HEADER.Characteristics */
  characteristics: number;
  isDll: boolean;
  subsystem: number;
  dllCharacteristics: number;
  imageBase: number;
  entryPoint: number;
  timestamp: number;
  sizeOfImage: number;
  sizeOfHeaders: number;
  sections: PeSection[];
  /** the 16 data directories (missing ones are zero) */
  directories: { rva: number; size: number }[];
  imports: PeImport[];
  exports: PeExport[];
  /** the export directory's own name for the module */
  exportName?: string;
  resources: PeResource[];
  /** true when the file carries a COFF symbol table (pe-library is given a copy without it) */
  hasCoffSymbols: boolean;
}

export const IMAGE_SCN_CNT_CODE = 0x20;
export const IMAGE_SCN_MEM_EXECUTE = 0x20000000;
export const IMAGE_SCN_MEM_DISCARDABLE = 0x02000000;
export const IMAGE_FILE_DLL = 0x2000;

export const MACHINES: Record<number, string> = {
  0x14c: 'x86',
  0x8664: 'x64',
  0xaa64: 'arm64',
  0x1c0: 'arm',
  0x1c4: 'armnt',
  0x200: 'ia64',
};

export const SUBSYSTEMS: Record<number, string> = {
  1: 'native',
  2: 'windows-gui',
  3: 'windows-cui',
  9: 'windows-ce-gui',
  10: 'efi-application',
  11: 'efi-boot-driver',
  12: 'efi-runtime-driver',
  16: 'boot-application',
};

const RT_NAMES: Record<number, string> = {
  1: 'RT_CURSOR',
  2: 'RT_BITMAP',
  3: 'RT_ICON',
  4: 'RT_MENU',
  5: 'RT_DIALOG',
  6: 'RT_STRING',
  7: 'RT_FONTDIR',
  8: 'RT_FONT',
  9: 'RT_ACCELERATOR',
  10: 'RT_RCDATA',
  11: 'RT_MESSAGETABLE',
  12: 'RT_GROUP_CURSOR',
  14: 'RT_GROUP_ICON',
  16: 'RT_VERSION',
  17: 'RT_DLGINCLUDE',
  19: 'RT_PLUGPLAY',
  20: 'RT_VXD',
  21: 'RT_ANICURSOR',
  22: 'RT_ANIICON',
  23: 'RT_HTML',
  24: 'RT_MANIFEST',
};

/** Bounds: anything beyond these is treated as corrupt, not as work to do. */
export const LIMITS = {
  sections: 2048,
  importDlls: 4096,
  importsPerDll: 65536,
  importsTotal: 262144,
  exports: 65536,
  resourceEntries: 65536,
  nameLength: 4096,
} as const;

const DIR = { EXPORT: 0, IMPORT: 1, RESOURCE: 2, CERTIFICATE: 4, DELAY_IMPORT: 13 } as const;

const hex = (n: number): string => '0x' + n.toString(16);

/** Bounded little-endian reads over the file; every read outside it is a MalformedPeError naming `part`. */
class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length(): number {
    return this.bytes.byteLength;
  }
  check(offset: number, size: number, part: string): void {
    if (!Number.isInteger(offset) || offset < 0 || size < 0 || offset + size > this.bytes.byteLength) {
      throw new MalformedPeError(part, `${size} bytes at offset ${hex(offset)} lie outside the ${this.bytes.byteLength}-byte file (truncated?)`);
    }
  }
  u8(o: number, part: string): number {
    this.check(o, 1, part);
    return this.view.getUint8(o);
  }
  u16(o: number, part: string): number {
    this.check(o, 2, part);
    return this.view.getUint16(o, true);
  }
  u32(o: number, part: string): number {
    this.check(o, 4, part);
    return this.view.getUint32(o, true);
  }
  /** 64-bit value as a number; values above 2^53 are not exact, which no field read here needs */
  u64(o: number, part: string): number {
    this.check(o, 8, part);
    return this.view.getUint32(o + 4, true) * 0x100000000 + this.view.getUint32(o, true);
  }
  /** NUL-terminated ASCII (bytes 0x01-0xff taken as latin1) of at most `max` characters */
  cstring(o: number, part: string, max: number = LIMITS.nameLength): string {
    this.check(o, 1, part);
    const end = Math.min(this.bytes.byteLength, o + max + 1);
    const nul = this.bytes.subarray(o, end).indexOf(0);
    if (nul < 0) throw new MalformedPeError(part, `string at offset ${hex(o)} is not terminated within ${max} bytes`);
    return latin1(this.bytes.subarray(o, o + nul));
  }
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, Math.min(b.length, i + 4096)));
  return s;
}

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** RVA to file offset through the section table (or the headers); undefined where the RVA has no bytes in the file. */
export function rvaToOffset(img: Pick<PeImage, 'sections' | 'sizeOfHeaders' | 'bytes'>, rva: number): number | undefined {
  if (rva < 0) return undefined;
  for (const s of img.sections) {
    const span = Math.max(s.virtualSize, s.rawSize);
    if (rva >= s.rva && rva < s.rva + span) {
      const delta = rva - s.rva;
      if (delta >= s.rawSize || s.rawSize === 0) return undefined; // in memory only (bss)
      return s.rawOffset + delta;
    }
  }
  if (rva < img.sizeOfHeaders && rva < img.bytes.byteLength) return rva;
  return undefined;
}

/** The section holding an RVA. */
export function sectionOfRva(img: Pick<PeImage, 'sections'>, rva: number): PeSection | undefined {
  return img.sections.find((s) => rva >= s.rva && rva < s.rva + Math.max(s.virtualSize, s.rawSize));
}

/** The section holding a file offset. */
export function sectionOfOffset(img: Pick<PeImage, 'sections'>, offset: number): PeSection | undefined {
  return img.sections.find((s) => s.rawSize > 0 && offset >= s.rawOffset && offset < s.rawOffset + s.rawSize);
}

/** File offset to RVA, where the offset lies in a section. */
export function offsetToRva(img: Pick<PeImage, 'sections'>, offset: number): number | undefined {
  const s = sectionOfOffset(img, offset);
  return s ? s.rva + (offset - s.rawOffset) : undefined;
}

/**
 * Parse a PE file. Throws MalformedPeError for anything that is not a consistent PE image:
 * no MZ/PE signature, truncation, offsets outside the file, counts beyond LIMITS, loops.
 */
export function parsePe(input: Uint8Array): PeImage {
  const bytes = input;
  const r = new Reader(bytes);
  if (bytes.byteLength === 0) throw new MalformedPeError('DOS header', 'the file is empty: not a PE file');
  if (bytes[0] !== 0x4d || bytes[1] !== 0x5a) throw new MalformedPeError('DOS header', 'no MZ signature: not a PE file');
  if (bytes.byteLength < 64) throw new MalformedPeError('DOS header', `file is ${bytes.byteLength} bytes, shorter than a DOS header`);
  const lfanew = r.u32(0x3c, 'DOS header');
  if (lfanew + 24 > bytes.byteLength)
    throw new MalformedPeError('DOS header', `e_lfanew ${hex(lfanew)} points past the end of the ${bytes.byteLength}-byte file`);
  if (r.u32(lfanew, 'NT headers') !== 0x4550) throw new MalformedPeError('NT headers', `no PE signature at e_lfanew ${hex(lfanew)}`);
  const fh = lfanew + 4;
  const machine = r.u16(fh, 'file header');
  const nsec = r.u16(fh + 2, 'file header');
  const timestamp = r.u32(fh + 4, 'file header');
  const numberOfSymbols = r.u32(fh + 12, 'file header');
  const optSize = r.u16(fh + 16, 'file header');
  const characteristics = r.u16(fh + 18, 'file header');
  const oh = fh + 20;
  const magic = r.u16(oh, 'optional header');
  if (magic !== 0x10b && magic !== 0x20b) throw new MalformedPeError('optional header', `magic ${hex(magic)} is neither PE32 (0x10b) nor PE32+ (0x20b)`);
  const is64 = magic === 0x20b;
  const stdSize = is64 ? 240 : 224;
  if (optSize !== stdSize) {
    throw new MalformedPeError(
      'optional header',
      `SizeOfOptionalHeader is ${optSize}, not the standard ${stdSize} for ${is64 ? 'PE32+' : 'PE32'} (not supported)`,
    );
  }
  r.check(oh, optSize, 'optional header');
  if (nsec === 0) throw new MalformedPeError('file header', 'NumberOfSections is 0');
  if (nsec > LIMITS.sections) throw new MalformedPeError('file header', `NumberOfSections ${nsec} exceeds ${LIMITS.sections}`);
  const secTable = oh + optSize;
  r.check(secTable, nsec * 40, 'section table');

  const entryPoint = r.u32(oh + 16, 'optional header');
  const _imageBase = is64 ? r.u64(oh + 24, 'optional header') : r.u32(oh + 28, 'optional header');
  const sectionAlignment = r.u32(oh + 32, 'optional header');
  const fileAlignment = r.u32(oh + 36, 'optional header');
  const sizeOfImage = r.u32(oh + 56, 'optional header');
  const sizeOfHeaders = r.u32(oh + 60, 'optional header');
  const subsystem = r.u16(oh + 68, 'optional header');
  const dllCharacteristics = r.u16(oh + 70, 'optional header');
  const nDirs = r.u32(oh + (is64 ? 108 : 92), 'optional header');
  if (!isPow2(fileAlignment) || fileAlignment > 0x10000)
    throw new MalformedPeError('optional header', `FileAlignment ${hex(fileAlignment)} is not a power of two up to 64 KiB`);
  if (!isPow2(sectionAlignment) || sectionAlignment > 0x10000000)
    throw new MalformedPeError('optional header', `SectionAlignment ${hex(sectionAlignment)} is not a power of two`);
  // NumberOfRvaAndSizes above 16 is capped at 16, as the loader does
  const dirBase = oh + (is64 ? 112 : 96);
  const directories: { rva: number; size: number }[] = [];
  for (let i = 0; i < 16; i++) {
    directories.push(
      i < nDirs ? { rva: r.u32(dirBase + i * 8, 'data directories'), size: r.u32(dirBase + i * 8 + 4, 'data directories') } : { rva: 0, size: 0 },
    );
  }

  // Section table, checked before pe-library copies anything it describes.
  const sections: PeSection[] = [];
  let rawTotal = 0;
  for (let i = 0; i < nsec; i++) {
    const o = secTable + i * 40;
    let name = latin1(bytes.subarray(o, o + 8));
    const nul = name.indexOf('\0');
    if (nul >= 0) name = name.slice(0, nul);
    const virtualSize = r.u32(o + 8, 'section table');
    const rva = r.u32(o + 12, 'section table');
    const rawSize = r.u32(o + 16, 'section table');
    const rawOffset = r.u32(o + 20, 'section table');
    const chars = r.u32(o + 36, 'section table');
    const part = `section ${i} (${JSON.stringify(name)})`;
    if (rawSize > 0 && rawOffset > 0 && rawOffset + rawSize > bytes.byteLength) {
      throw new MalformedPeError(part, `raw data ${hex(rawOffset)}+${hex(rawSize)} extends past the end of the ${bytes.byteLength}-byte file (truncated?)`);
    }
    if (rva + Math.max(virtualSize, rawSize) > 0xffffffff) throw new MalformedPeError(part, `virtual range ${hex(rva)}+${hex(virtualSize)} overflows 32 bits`);
    if (rawOffset && rawSize) rawTotal += rawSize;
    sections.push({
      name,
      rva,
      virtualSize,
      rawOffset: rawSize && rawOffset ? rawOffset : 0,
      rawSize: rawSize && rawOffset ? rawSize : 0,
      characteristics: chars,
    });
  }
  if (rawTotal > 2 * bytes.byteLength + 0x10000) {
    throw new MalformedPeError('section table', `sections claim ${rawTotal} bytes of raw data in a ${bytes.byteLength}-byte file (overlapping sections)`);
  }
  const cert = directories[DIR.CERTIFICATE]!;
  if (cert.size > 0 && (cert.rva + cert.size > bytes.byteLength || cert.rva === 0)) {
    throw new MalformedPeError('certificate directory', `file range ${hex(cert.rva)}+${hex(cert.size)} lies outside the ${bytes.byteLength}-byte file`);
  }

  // pe-library reads the headers and the section table, in place: its format views over the
  // caller's bytes copy nothing (NtExecutable.from copied every section, some 15 MB of a large
  // DLL, which the analysis never reads through it, and refuses the COFF symbol table every
  // Wine and unstripped mingw binary has).
  const hasCoffSymbols = numberOfSymbols > 0;
  let imageBase: number;
  try {
    const dos = PE.Format.ImageDosHeader.from(bytes);
    const nt = PE.Format.ImageNtHeaders.from(bytes, dos.newHeaderAddress);
    const libSections = PE.Format.ImageSectionHeaderArray.from(bytes.buffer as ArrayBuffer, nsec, bytes.byteOffset + secTable);
    const agree =
      dos.isValid() &&
      nt.isValid() &&
      nt.fileHeader.numberOfSections === nsec &&
      nt.is32bit() !== is64 &&
      nt.fileHeader.machine === machine &&
      sections.every((sec, i) => libSections.get(i).virtualAddress === sec.rva);
    if (!agree) throw new MalformedPeError('headers', 'pe-library and the section table disagree');
    imageBase = nt.optionalHeader.imageBase;
  } catch (err) {
    if (err instanceof MalformedPeError) throw err;
    throw new MalformedPeError('headers', `pe-library: ${(err as Error).message}`);
  }

  const img: PeImage = {
    bytes,
    machine,
    is64,
    characteristics,
    isDll: (characteristics & IMAGE_FILE_DLL) !== 0,
    subsystem,
    dllCharacteristics,
    imageBase,
    entryPoint,
    timestamp,
    sizeOfImage,
    sizeOfHeaders: Math.min(sizeOfHeaders, bytes.byteLength),
    sections,
    directories,
    imports: [],
    exports: [],
    resources: [],
    hasCoffSymbols,
  };
  img.imports = [...readImports(img, r), ...readDelayImports(img, r)];
  const ex = readExports(img, r);
  img.exports = ex.exports;
  if (ex.name !== undefined) img.exportName = ex.name;
  img.resources = readResources(img, r);
  return img;
}

/** File offset of an RVA that must be in the file, else a MalformedPeError for `part`. */
function need(img: PeImage, rva: number, part: string, what: string): number {
  const off = rvaToOffset(img, rva);
  if (off === undefined) throw new MalformedPeError(part, `${what} RVA ${hex(rva)} is not backed by file data`);
  return off;
}

function readThunks(
  img: PeImage,
  r: Reader,
  part: string,
  dll: string,
  intRva: number,
  iatRva: number,
  delayLoad: boolean,
  budget: { left: number },
): PeImport[] {
  const out: PeImport[] = [];
  const ptr = img.is64 ? 8 : 4;
  for (let i = 0; ; i++) {
    if (i >= LIMITS.importsPerDll) throw new MalformedPeError(part, `${dll}: more than ${LIMITS.importsPerDll} imported functions (unterminated thunk array?)`);
    if (--budget.left < 0) throw new MalformedPeError(part, `more than ${LIMITS.importsTotal} imported functions in all`);
    const off = need(img, intRva + i * ptr, part, `${dll} thunk`);
    const lo = r.u32(off, part);
    const hi = img.is64 ? r.u32(off + 4, part) : 0;
    if (lo === 0 && hi === 0) break;
    const byOrdinal = img.is64 ? (hi & 0x80000000) !== 0 : (lo & 0x80000000) !== 0;
    let name: string;
    if (byOrdinal) name = `#${lo & 0xffff}`;
    else {
      if (img.is64 && hi !== 0) throw new MalformedPeError(part, `${dll}: name thunk ${hex(hi)}${lo.toString(16).padStart(8, '0')} is not an RVA`);
      const nameRva = delayLoad && lo >= img.imageBase && img.imageBase > 0 && !img.is64 ? lo - img.imageBase : lo;
      name = r.cstring(need(img, nameRva + 2, part, `${dll} import name`), part, 1024);
    }
    out.push({ dll, name, iatRva: iatRva + i * ptr, delayLoad });
  }
  return out;
}

/**
 * An import-like directory (imports, delay imports): its descriptors of `size` bytes, at most
 * LIMITS.importDlls; of each, the u32 fields at `fields` go to `decode`, which gives its DLL
 * name and thunk arrays (undefined at the terminator); then the thunks are read.
 */
function readImportTable(
  img: PeImage,
  r: Reader,
  table: { dir: number; size: number; part: string; fields: readonly number[]; delayLoad: boolean },
  decode: (v: number[]) => { nameRva: number; names: number; iat: number } | undefined,
): PeImport[] {
  const { size, part } = table;
  const dir = img.directories[table.dir]!;
  if (!dir.rva || !dir.size) return [];
  const out: PeImport[] = [];
  const budget = { left: LIMITS.importsTotal };
  for (let i = 0; ; i++) {
    if (i >= LIMITS.importDlls) throw new MalformedPeError(part, `more than ${LIMITS.importDlls} descriptors (unterminated?)`);
    const off = need(img, dir.rva + i * size, part, 'descriptor');
    r.check(off, size, part);
    const d = decode(table.fields.map((f) => r.u32(off + f, part)));
    if (!d) break;
    const dll = r.cstring(need(img, d.nameRva, part, 'DLL name'), part, 256);
    out.push(...readThunks(img, r, part, dll, d.names, d.iat, table.delayLoad, budget));
  }
  return out;
}

/** IMAGE_IMPORT_DESCRIPTOR: OriginalFirstThunk, Name, FirstThunk; the loader stops at the first without a name. */
const readImports = (img: PeImage, r: Reader): PeImport[] =>
  readImportTable(img, r, { dir: DIR.IMPORT, size: 20, part: 'import directory', fields: [0, 12, 16], delayLoad: false }, ([oft, name, ft]) =>
    name ? { nameRva: name, names: oft! || ft!, iat: ft! } : undefined,
  );

/** IMAGE_DELAYLOAD_DESCRIPTOR: Attributes, DllNameRVA, ImportAddressTableRVA, ImportNameTableRVA; old-style ones (attribute bit 0 clear, 32-bit) hold VAs. */
const readDelayImports = (img: PeImage, r: Reader): PeImport[] =>
  readImportTable(
    img,
    r,
    { dir: DIR.DELAY_IMPORT, size: 32, part: 'delay-import directory', fields: [0, 4, 12, 16], delayLoad: true },
    ([attrs, name, iat, int]) => {
      if (!name) return undefined;
      const va = (attrs! & 1) === 0 && !img.is64 ? img.imageBase : 0;
      return { nameRva: name - va, names: int! - va || iat! - va, iat: iat! - va };
    },
  );

function readExports(img: PeImage, r: Reader): { exports: PeExport[]; name?: string } {
  const dir = img.directories[DIR.EXPORT]!;
  if (!dir.rva || !dir.size) return { exports: [] };
  const part = 'export directory';
  const off = need(img, dir.rva, part, 'directory');
  r.check(off, 40, part);
  const nameRva = r.u32(off + 12, part);
  const base = r.u32(off + 16, part);
  const nFunc = r.u32(off + 20, part);
  const nNames = r.u32(off + 24, part);
  const funcs = r.u32(off + 28, part);
  const names = r.u32(off + 32, part);
  const ords = r.u32(off + 36, part);
  if (nFunc > LIMITS.exports) throw new MalformedPeError(part, `NumberOfFunctions ${nFunc} exceeds ${LIMITS.exports}`);
  if (nNames > nFunc) throw new MalformedPeError(part, `NumberOfNames ${nNames} exceeds NumberOfFunctions ${nFunc}`);
  const name = nameRva ? r.cstring(need(img, nameRva, part, 'module name'), part, 512) : undefined;
  const fOff = nFunc ? need(img, funcs, part, 'AddressOfFunctions') : 0;
  r.check(fOff, nFunc * 4, part);
  const nOff = nNames ? need(img, names, part, 'AddressOfNames') : 0;
  r.check(nOff, nNames * 4, part);
  const oOff = nNames ? need(img, ords, part, 'AddressOfNameOrdinals') : 0;
  r.check(oOff, nNames * 2, part);
  const nameOf = new Map<number, string>();
  for (let i = 0; i < nNames; i++) {
    const idx = r.u16(oOff + i * 2, part);
    if (idx >= nFunc) throw new MalformedPeError(part, `name ordinal ${idx} is beyond NumberOfFunctions ${nFunc}`);
    nameOf.set(idx, r.cstring(need(img, r.u32(nOff + i * 4, part), part, 'export name'), part, 1024));
  }
  const out: PeExport[] = [];
  for (let i = 0; i < nFunc; i++) {
    const rva = r.u32(fOff + i * 4, part);
    if (rva === 0) continue;
    const e: PeExport = { ordinal: base + i, rva };
    const n = nameOf.get(i);
    if (n !== undefined) e.name = n;
    if (rva >= dir.rva && rva < dir.rva + dir.size) {
      const fo = rvaToOffset(img, rva);
      if (fo !== undefined) e.forwarder = r.cstring(fo, part, 512);
    }
    out.push(e);
  }
  return name !== undefined ? { exports: out, name } : { exports: out };
}

function readResources(img: PeImage, r: Reader): PeResource[] {
  const dir = img.directories[DIR.RESOURCE]!;
  if (!dir.rva || !dir.size) return [];
  const part = 'resource directory';
  const base = need(img, dir.rva, part, 'root');
  const sec = sectionOfRva(img, dir.rva);
  // every directory offset is relative to the root and must stay in the section's file data
  const limit = sec ? sec.rawOffset + sec.rawSize : r.length;
  const out: PeResource[] = [];
  const seen = new Set<number>();
  let entries = 0;
  const at = (rel: number, size: number): number => {
    const o = base + rel;
    if (o + size > limit) throw new MalformedPeError(part, `offset ${hex(rel)} (+${size}) lies outside the resource section`);
    return o;
  };
  const nameAt = (rel: number): string => {
    const o = at(rel, 2);
    const len = r.u16(o, part);
    const s = at(rel + 2, len * 2);
    let t = '';
    for (let i = 0; i < len; i++) t += String.fromCharCode(r.u16(s + i * 2, part));
    return t;
  };
  const walk = (rel: number, level: number, path: (string | number)[]): void => {
    if (seen.has(rel)) throw new MalformedPeError(part, `directory at ${hex(rel)} is reached twice (a loop)`);
    seen.add(rel);
    const o = at(rel, 16);
    const n = r.u16(o + 12, part) + r.u16(o + 14, part);
    at(rel + 16, n * 8);
    for (let i = 0; i < n; i++) {
      if (++entries > LIMITS.resourceEntries) throw new MalformedPeError(part, `more than ${LIMITS.resourceEntries} entries`);
      const e = o + 16 + i * 8;
      const nameField = r.u32(e, part);
      const dataField = r.u32(e + 4, part);
      const key: string | number = nameField & 0x80000000 ? nameAt(nameField & 0x7fffffff) : nameField & 0xffff;
      const isDir = (dataField & 0x80000000) !== 0;
      if (level < 2) {
        if (!isDir) throw new MalformedPeError(part, `entry at level ${level} points to data instead of a directory`);
        walk(dataField & 0x7fffffff, level + 1, [...path, key]);
      } else {
        if (isDir) throw new MalformedPeError(part, 'a language entry points to a fourth directory level');
        const d = at(dataField, 16);
        const rva = r.u32(d, part);
        const size = r.u32(d + 4, part);
        const codepage = r.u32(d + 8, part);
        const [t, id] = path as [string | number, string | number];
        const res: PeResource = {
          type: typeof t === 'number' ? (RT_NAMES[t] ?? String(t)) : t,
          id: String(id),
          lang: typeof key === 'number' ? key : 0,
          rva,
          size,
          codepage,
        };
        const fo = rvaToOffset(img, rva);
        if (fo !== undefined && fo + size <= r.length) res.offset = fo;
        out.push(res);
      }
    }
  };
  walk(0, 0, []);
  return out;
}

export function machineName(machine: number): string {
  return MACHINES[machine] ?? `0x${machine.toString(16)}`;
}

export function subsystemName(subsystem: number): string {
  return SUBSYSTEMS[subsystem] ?? `0x${subsystem.toString(16)}`;
}
