// A direct duplicate's image (src/plan/direct.ts), over the project's analyze test binaries:
// what the copy's loader will read (the import directory, the new section, the headers it
// must not trust) and what is refused. The copies are run under Wine in test/direct.test.ts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MalformedPeError, parsePe } from '../src/analyze/index.js';
import { DIRECT_SECTION, directImage, directMarker } from '../src/plan/direct.js';
import { ensureTestbins, readBytes, testbin, wineDir } from './fixtures/analyze/helpers.js';

const HOOK = 'Z:\\opt\\svcdup\\native\\build\\svcdup-hook.dll';
const marker = { vm: 'v1', scmName: 'ana-svc@v1' };
let svc: Uint8Array;

beforeAll(() => {
  ensureTestbins();
  svc = readBytes(testbin('ana-svc.exe'));
});

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (err instanceof MalformedPeError) return err.message;
    throw err;
  }
  throw new Error('not refused');
};

describe('directImage', () => {
  it('imports the hook first, by ordinal 1 and full path, then every import of the original in order', () => {
    const before = parsePe(svc);
    const after = parsePe(directImage(svc, HOOK, marker));
    expect(after.imports[0]).toMatchObject({ dll: HOOK, name: '#1' });
    expect(after.imports.slice(1).map((i) => [i.dll, i.name, i.iatRva])).toEqual(before.imports.map((i) => [i.dll, i.name, i.iatRva]));
  });

  it('adds one section after the others, covered by SizeOfImage; the rest of the image is unchanged', () => {
    const before = parsePe(svc);
    const out = directImage(svc, HOOK, marker);
    const after = parsePe(out);
    expect(after.sections.slice(0, -1)).toEqual(before.sections);
    const s = after.sections.at(-1)!;
    expect(s.name).toBe(DIRECT_SECTION);
    const last = before.sections.at(-1)!;
    expect(s.rva).toBeGreaterThanOrEqual(last.rva + Math.max(last.virtualSize, last.rawSize));
    expect(after.sizeOfImage).toBeGreaterThanOrEqual(s.rva + s.virtualSize);
    expect(after.entryPoint).toBe(before.entryPoint);
    // bytes before the section table's new entry and the original sections' data are the original's
    expect(Buffer.from(out.subarray(before.sections[0]!.rawOffset, svc.byteLength)).equals(Buffer.from(svc.subarray(before.sections[0]!.rawOffset)))).toBe(
      true,
    );
    // bound imports and the certificate entry would be wrong now: cleared
    expect(after.directories[11]).toEqual({ rva: 0, size: 0 });
    expect(after.directories[4]).toEqual({ rva: 0, size: 0 });
    expect(after.directories[1]).toMatchObject({ rva: s.rva });
  });

  it('carries the marker the hook reads: the VM and the duplicate', () => {
    expect(directMarker(directImage(svc, HOOK, marker))).toEqual(marker);
    expect(directMarker(svc)).toBeUndefined();
  });

  it('refuses a copy of a copy, a DLL, a non-ASCII hook path and a Wine builtin', () => {
    expect(refusal(() => directImage(directImage(svc, HOOK, marker), HOOK, marker))).toMatch(/already a direct copy/);
    expect(refusal(() => directImage(readBytes(testbin('ana-svc.dll')), HOOK, marker))).toMatch(/DLL/);
    expect(refusal(() => directImage(svc, 'C:\\Prögramme\\svcdup-hook.dll', marker))).toMatch(/ASCII/);
    const rpcss = join(wineDir, 'rpcss.exe');
    if (existsSync(rpcss)) expect(refusal(() => directImage(new Uint8Array(readFileSync(rpcss)), HOOK, marker))).toMatch(/Wine builtin/);
  });

  it('damaged images: a MalformedPeError or a consistent copy, never anything else', () => {
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    const headerEnd = parsePe(svc).sizeOfHeaders;
    for (let i = 0; i < 400; i++) {
      const m = svc.slice(0, i % 4 === 0 ? rnd(svc.byteLength) : svc.byteLength);
      for (let k = 0; k < 4; k++) m[rnd(Math.min(headerEnd, m.byteLength || 1))] = rnd(256);
      try {
        const out = directImage(m, HOOK, marker);
        expect(parsePe(out).imports[0]!.dll).toBe(HOOK);
      } catch (err) {
        expect(err, `mutant ${i}`).toBeInstanceOf(MalformedPeError);
      }
    }
  });
});
