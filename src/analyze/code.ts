// Call sites of imported functions in x64 code, and the constant arguments passed to them
// (a string, a GUID, a small integer, a service table). Byte patterns, not a disassembler:
// every recovered value must land on a real string/GUID/table to count, so stray matches in
// data bytes are filtered out by construction. Pure.
import { lookupApi, type ArgKind } from './apis.js';
import { type PeImage, type PeImport, type PeSection, IMAGE_SCN_CNT_CODE, IMAGE_SCN_MEM_EXECUTE, rvaToOffset, sectionOfRva } from '../pe/pe.js';

export interface CallArg {
  index: number;
  role: string;
  kind: ArgKind | 'null';
  /** string, GUID text, integer; null for a NULL pointer */
  value: string | number | null;
  /** where a string/GUID/table argument lives */
  rva?: number;
  offset?: number;
  encoding?: 'ascii' | 'utf16';
}

export interface ServiceTableEntry {
  name: string;
  /** RVA of the ServiceMain the entry names */
  serviceMain: number;
}

export interface CallSite {
  /** the import as imported, e.g. "CreateMutexW" */
  api: string;
  dll: string;
  rva: number;
  offset: number;
  section: string;
  via: 'call [iat]' | 'call thunk' | 'call reg';
  args: CallArg[];
  /** StartServiceCtrlDispatcher: the table, when it could be read */
  table?: { entries: ServiceTableEntry[]; rva?: number; method: 'static' | 'stack' | 'data-scan' };
}

export interface CodeScan {
  /** false when the machine is not x64: no call-site recovery was attempted */
  supported: boolean;
  callSites: CallSite[];
}

const isCode = (s: PeSection): boolean => s.rawSize > 0 && (s.characteristics & (IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE)) !== 0;

/** A NUL-terminated printable string at an RVA (UTF-16LE or ASCII), at most 1024 characters. */
export function stringAtRva(img: PeImage, rva: number, prefer?: 'ascii' | 'utf16'): { value: string; encoding: 'ascii' | 'utf16'; offset: number } | undefined {
  const off = rvaToOffset(img, rva);
  if (off === undefined) return undefined;
  const b = img.bytes;
  const ok = (c: number): boolean => (c >= 0x20 && c < 0x7f) || c === 9 || c === 10 || c === 13;
  const tryUtf16 = (): string | undefined => {
    let s = '';
    for (let i = off; i + 1 < b.length && s.length <= 1024; i += 2) {
      const c = b[i]! | (b[i + 1]! << 8);
      if (c === 0) return s.length >= 1 ? s : undefined;
      if (!ok(c)) return undefined;
      s += String.fromCharCode(c);
    }
    return undefined;
  };
  const tryAscii = (): string | undefined => {
    let s = '';
    for (let i = off; i < b.length && s.length <= 1024; i++) {
      const c = b[i]!;
      if (c === 0) return s.length >= 1 ? s : undefined;
      if (!ok(c)) return undefined;
      s += String.fromCharCode(c);
    }
    return undefined;
  };
  const order: ('ascii' | 'utf16')[] = prefer === 'ascii' ? ['ascii', 'utf16'] : ['utf16', 'ascii'];
  for (const enc of order) {
    const v = enc === 'utf16' ? tryUtf16() : tryAscii();
    // a one-character ASCII read of a UTF-16 string ("G\0l\0...") is the wrong encoding
    if (v !== undefined && !(enc === 'ascii' && v.length === 1 && b[off + 2] === 0)) return { value: v, encoding: enc, offset: off };
  }
  return undefined;
}

/** A GUID stored at an RVA, as {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}. */
export function guidAtRva(img: PeImage, rva: number): { value: string; offset: number } | undefined {
  const off = rvaToOffset(img, rva);
  if (off === undefined || off + 16 > img.bytes.length) return undefined;
  const b = img.bytes;
  const h = (i: number): string => b[off + i]!.toString(16).padStart(2, '0');
  const d1 = [3, 2, 1, 0].map(h).join('');
  const d2 = [5, 4].map(h).join('');
  const d3 = [7, 6].map(h).join('');
  const d4 = [8, 9].map(h).join('');
  const d5 = [10, 11, 12, 13, 14, 15].map(h).join('');
  const value = `{${d1}-${d2}-${d3}-${d4}-${d5}}`.toUpperCase();
  if (/^\{0{8}-0{4}-0{4}-0{4}-0{12}\}$/.test(value)) return undefined;
  return { value, offset: off };
}

/** A pointer stored in the image, as an RVA (undefined if it does not point into the image). */
/** jmp [rip+disp32]: an import thunk */
const JMP_IND = Buffer.from([0xff, 0x25]);

export function pointerAt(img: PeImage, offset: number): number | undefined {
  const b = img.bytes;
  const size = img.is64 ? 8 : 4;
  if (offset < 0 || offset + size > b.length) return undefined;
  const lo = (b[offset]! | (b[offset + 1]! << 8) | (b[offset + 2]! << 16) | (b[offset + 3]! << 24)) >>> 0;
  const hi = img.is64 ? (b[offset + 4]! | (b[offset + 5]! << 8) | (b[offset + 6]! << 16) | (b[offset + 7]! << 24)) >>> 0 : 0;
  const va = hi * 0x100000000 + lo;
  if (va === 0) return 0;
  const rva = va - img.imageBase;
  return rva > 0 && rva < img.sizeOfImage ? rva : undefined;
}

function readTable(img: PeImage, rva: number): ServiceTableEntry[] | undefined {
  const off = rvaToOffset(img, rva);
  if (off === undefined) return undefined;
  const ptr = img.is64 ? 8 : 4;
  const entries: ServiceTableEntry[] = [];
  for (let k = 0; k < 64; k++) {
    const n = pointerAt(img, off + k * 2 * ptr);
    const f = pointerAt(img, off + k * 2 * ptr + ptr);
    if (n === undefined || f === undefined) return undefined;
    if (n === 0 && f === 0) return entries.length ? entries : undefined;
    if (n === 0 || f === 0) return undefined;
    const name = stringAtRva(img, n, 'utf16');
    const sec = sectionOfRva(img, f);
    if (!name || !sec || !isCode(sec)) return undefined;
    entries.push({ name: name.value, serviceMain: f });
  }
  return undefined;
}

const s32 = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);

interface Setter {
  pos: number;
  reg: number;
  kind: 'lea' | 'imm' | 'zero';
  value: number;
}

/** Instructions that set an argument register to a constant, in [from, to) of a code section. */
function settersIn(b: Uint8Array, from: number, to: number, rvaOf: (i: number) => number): Setter[] {
  const out: Setter[] = [];
  for (let j = from; j < to; j++) {
    const x = b[j]!;
    // lea r64, [rip+disp32]: 48|4C 8D modrm(00 rrr 101)
    if ((x === 0x48 || x === 0x4c) && b[j + 1] === 0x8d && ((b[j + 2] ?? 0) & 0xc7) === 0x05 && j + 7 <= to) {
      out.push({ pos: j, reg: ((b[j + 2]! >> 3) & 7) + (x === 0x4c ? 8 : 0), kind: 'lea', value: rvaOf(j) + 7 + s32(b, j + 3) });
      j += 6;
      continue;
    }
    // mov r32, imm32: B8+r (41 B8+r for r8d-r15d)
    if (x === 0x41 && ((b[j + 1] ?? 0) & 0xf8) === 0xb8 && j + 6 <= to) {
      out.push({ pos: j, reg: 8 + (b[j + 1]! & 7), kind: 'imm', value: s32(b, j + 2) >>> 0 });
      j += 5;
      continue;
    }
    if ((x & 0xf8) === 0xb8 && b[j - 1] !== 0x41 && b[j - 1] !== 0x48 && b[j - 1] !== 0x49 && j + 5 <= to) {
      out.push({ pos: j, reg: x & 7, kind: 'imm', value: s32(b, j + 1) >>> 0 });
      j += 4;
      continue;
    }
    // xor r32, r32 (31 /r or 33 /r with mod=11, reg=rm); 45 prefix for r8d-r15d
    if ((x === 0x31 || x === 0x33) && j + 2 <= to) {
      const m = b[j + 1]!;
      if ((m & 0xc0) === 0xc0 && ((m >> 3) & 7) === (m & 7)) {
        const ext = b[j - 1] === 0x45 ? 8 : 0;
        out.push({ pos: j, reg: (m & 7) + ext, kind: 'zero', value: 0 });
      }
    }
  }
  return out;
}

/** x64 argument registers by index: rcx, rdx, r8, r9. */
const ARG_REGS = [1, 2, 8, 9];

/** Every call of an import in the executable sections, with the constant arguments that can be recovered. */
export function scanCode(img: PeImage): CodeScan {
  if (img.machine !== 0x8664) return { supported: false, callSites: [] };
  const iat = new Map<number, PeImport>();
  for (const imp of img.imports) iat.set(imp.iatRva, imp);
  const b = img.bytes;
  const sites: CallSite[] = [];
  const code = img.sections.filter(isCode);
  // import thunks: jmp [rip+disp32] to an IAT slot
  const thunks = new Map<number, PeImport>();
  // found by Buffer.indexOf (native), which a byte-at-a-time loop over a large DLL's code is not
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  for (const s of code) {
    const end = Math.min(b.length, s.rawOffset + s.rawSize);
    for (let i = buf.indexOf(JMP_IND, s.rawOffset); i >= 0 && i + 6 <= end; i = buf.indexOf(JMP_IND, i + 1)) {
      const rva = s.rva + (i - s.rawOffset);
      const imp = iat.get(rva + 6 + s32(b, i + 2));
      if (imp) thunks.set(b[i - 1] === 0x48 ? rva - 1 : rva, imp);
    }
  }
  for (const s of code) {
    const start = s.rawOffset;
    const end = Math.min(b.length, s.rawOffset + s.rawSize);
    const rvaOf = (i: number): number => s.rva + (i - start);
    const found: { pos: number; imp: PeImport; via: CallSite['via'] }[] = [];
    for (let i = start; i + 5 <= end; i++) {
      const x = b[i]!;
      if (x === 0xff && b[i + 1] === 0x15 && i + 6 <= end) {
        const imp = iat.get(rvaOf(i) + 6 + s32(b, i + 2));
        if (imp) found.push({ pos: i, imp, via: 'call [iat]' });
      } else if (x === 0xe8) {
        const imp = thunks.get(rvaOf(i) + 5 + s32(b, i + 1));
        if (imp) found.push({ pos: i, imp, via: 'call thunk' });
      } else if ((x === 0x48 || x === 0x4c) && b[i + 1] === 0x8b && ((b[i + 2] ?? 0) & 0xc7) === 0x05 && i + 7 <= end) {
        const imp = iat.get(rvaOf(i) + 7 + s32(b, i + 3));
        if (!imp) continue;
        // mov reg, [iat]; ... call reg (until the register is loaded again)
        const reg = ((b[i + 2]! >> 3) & 7) + (x === 0x4c ? 8 : 0);
        const limit = Math.min(end - 1, i + 1024);
        let calls = 0;
        for (let j = i + 7; j < limit && calls < 16; j++) {
          const y = b[j]!;
          if ((y === 0x48 || y === 0x4c) && (b[j + 1] === 0x8b || b[j + 1] === 0x8d) && ((b[j + 2] ?? 0) & 0xc7) === 0x05) {
            if (((b[j + 2]! >> 3) & 7) + (y === 0x4c ? 8 : 0) === reg) break;
          }
          const hit = reg < 8 ? y === 0xff && b[j + 1] === 0xd0 + reg && b[j - 1] !== 0x41 : y === 0x41 && b[j + 1] === 0xff && b[j + 2] === 0xd0 + reg - 8;
          if (hit) {
            found.push({ pos: j, imp, via: 'call reg' });
            calls++;
          }
        }
      }
    }
    found.sort((a, c) => a.pos - c.pos);
    // one import per call instruction: the nearest load wins (later entries at the same position come from earlier loads)
    for (let k = found.length - 1; k > 0; k--) if (found[k]!.pos === found[k - 1]!.pos) found.splice(k - 1, 1);
    let barrier = start;
    for (const f of found) {
      const site: CallSite = { api: f.imp.name, dll: f.imp.dll, rva: rvaOf(f.pos), offset: f.pos, section: s.name, via: f.via, args: [] };
      const api = lookupApi(f.imp.name);
      if (api?.info.args) {
        const from = lastCallEnd(b, Math.max(barrier, f.pos - 96), f.pos, rvaOf, img);
        const setters = settersIn(b, from, f.pos, rvaOf);
        const last = new Map<number, Setter>();
        for (const st of setters) last.set(st.reg, st);
        for (const spec of api.info.args) {
          const st = last.get(ARG_REGS[spec.index] ?? -1);
          if (!st) continue;
          const arg = resolveArg(img, spec.index, spec.role, spec.kind, st, api.wide);
          if (arg) site.args.push(arg);
        }
        if (api.info.args.some((a) => a.kind === 'table')) {
          const t = site.args.find((a) => a.kind === 'table');
          if (t && t.rva !== undefined) {
            const entries = readTable(img, t.rva);
            if (entries) site.table = { entries, rva: t.rva, method: 'static' };
          }
          if (!site.table) {
            // a table built on the stack: names and ServiceMain pointers loaded just before the call
            const window = settersIn(b, lastCallEnd(b, Math.max(barrier, f.pos - 256), f.pos, rvaOf, img), f.pos, rvaOf).filter((x) => x.kind === 'lea');
            const names: string[] = [];
            const mains: number[] = [];
            for (const w of window) {
              const sec = sectionOfRva(img, w.value);
              if (sec && isCode(sec)) mains.push(w.value);
              else {
                const str = stringAtRva(img, w.value, 'utf16');
                if (str?.encoding === 'utf16') names.push(str.value);
              }
            }
            const n = Math.min(names.length, mains.length);
            if (n > 0) site.table = { entries: names.slice(0, n).map((name, k) => ({ name, serviceMain: mains[k]! })), method: 'stack' };
          }
        }
      }
      sites.push(site);
      barrier = f.pos + 2;
    }
  }
  return { supported: true, callSites: sites };
}

/**
 * Where the argument window before a call starts: after the last call instruction in [from, to)
 * (a call clobbers the argument registers). Byte patterns: call rel32 into code, call [rip+x],
 * call reg. A stray match only shortens the window: values are lost, never invented.
 */
function lastCallEnd(b: Uint8Array, from: number, to: number, rvaOf: (i: number) => number, img: PeImage): number {
  for (let j = to - 2; j >= from; j--) {
    const x = b[j]!;
    if (x === 0xe8 && j + 5 <= to) {
      const target = rvaOf(j) + 5 + s32(b, j + 1);
      const sec = sectionOfRva(img, target);
      if (sec && isCode(sec)) return j + 5;
    } else if (x === 0xff && b[j + 1] === 0x15 && j + 6 <= to) return j + 6;
    else if (x === 0xff && ((b[j + 1] ?? 0) & 0xf8) === 0xd0 && j + 2 <= to) return j + 2;
  }
  return from;
}

function resolveArg(img: PeImage, index: number, role: string, kind: ArgKind, st: Setter, wide?: boolean): CallArg | undefined {
  if (st.kind === 'zero') return kind === 'int' ? { index, role, kind, value: 0 } : { index, role, kind: 'null', value: null };
  if (kind === 'int') return st.kind === 'imm' ? { index, role, kind, value: st.value } : undefined;
  if (st.kind !== 'lea') return undefined;
  if (kind === 'str') {
    const str = stringAtRva(img, st.value, wide === false ? 'ascii' : 'utf16');
    if (!str) return undefined;
    return { index, role, kind, value: str.value, rva: st.value, offset: str.offset, encoding: str.encoding };
  }
  if (kind === 'guid') {
    const g = guidAtRva(img, st.value);
    return g ? { index, role, kind, value: g.value, rva: st.value, offset: g.offset } : undefined;
  }
  // table
  const off = rvaToOffset(img, st.value);
  return off !== undefined ? { index, role, kind, value: null, rva: st.value, offset: off } : undefined;
}

/**
 * SERVICE_TABLE_ENTRY arrays in initialized data, found without code: pointer pairs
 * {UTF-16 name, ServiceMain in code} ending in a NULL pair. For machines without call-site
 * recovery, and tables the code scan could not tie to a call.
 */
export function findServiceTables(img: PeImage): { rva: number; entries: ServiceTableEntry[] }[] {
  const ptr = img.is64 ? 8 : 4;
  const out: { rva: number; entries: ServiceTableEntry[] }[] = [];
  for (const s of img.sections) {
    if (isCode(s) || s.rawSize === 0) continue;
    const n = s.name.toLowerCase();
    if (n.startsWith('.debug') || n.startsWith('/') || n === '.reloc' || n === '.rsrc' || n === '.pdata' || n === '.xdata') continue;
    const end = s.rawOffset + s.rawSize - 2 * ptr;
    for (let o = s.rawOffset; o <= end && out.length < 16; o += ptr) {
      const first = pointerAt(img, o);
      if (!first) continue;
      const fn = pointerAt(img, o + ptr);
      if (!fn) continue;
      const sec = sectionOfRva(img, fn);
      if (!sec || !isCode(sec)) continue;
      const rva = s.rva + (o - s.rawOffset);
      const entries = readTable(img, rva);
      if (entries) {
        out.push({ rva, entries });
        o += (entries.length * 2 + 1) * ptr;
      }
    }
  }
  return out;
}
