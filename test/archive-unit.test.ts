import { describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../src/backend/types.js';
import { type ArchivedDuplicate, entryPathProblem, entryProblems, importedPlan, parseManifest } from '../src/portable/archive.js';

const manifest = {
  format: 1,
  kind: 'svcdup-vm',
  vm: 'a',
  createdAt: '2026-01-01T00:00:00Z',
  source: { host: 'h1', backend: 'wine' },
  svcdup: '0.1.0',
  entries: [
    { path: 'vm.json', type: 'file', size: 3, sha256: 'aa' },
    { path: 'files', type: 'dir', size: 0, sha256: '' },
  ],
};
const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe('the VM archive manifest', () => {
  it('reads its own format, refuses a newer one and what is not a manifest', () => {
    expect(parseManifest(bytes(manifest)).vm).toBe('a');
    expect(() => parseManifest(bytes({ ...manifest, format: 2 }))).toThrow(/format 2, newer than this svcdup reads \(1\)/);
    expect(() => parseManifest(new TextEncoder().encode('{'))).toThrow(/not JSON/);
    expect(() => parseManifest(bytes({ ...manifest, kind: 'other' }))).toThrow(/malformed \(kind/);
  });

  it('entries: only files and folders under files/<drive>/, no way out', () => {
    expect(entryPathProblem('vm.json', 'File')).toBeUndefined();
    expect(entryPathProblem('files/', 'Directory')).toBeUndefined();
    expect(entryPathProblem('files/C/pgdata/base/1', 'File')).toBeUndefined();
    expect(entryPathProblem('files/C/x/../../../etc/passwd', 'File')).toMatch(/bad path/);
    expect(entryPathProblem('files/C/link', 'SymbolicLink')).toMatch(/only files and folders/);
    expect(entryPathProblem('files/c/x', 'File')).toMatch(/not under files/);
    expect(entryPathProblem('/etc/passwd', 'File')).toMatch(/not under files/);
    expect(entryPathProblem('files/C/a:b', 'File')).toMatch(/bad path/);
  });

  it('every entry as listed: missing, extra, changed', () => {
    const m = parseManifest(bytes(manifest));
    expect(
      entryProblems(
        m,
        new Map([
          ['vm.json', { type: 'file', size: 3, sha256: 'aa' }],
          ['files', { type: 'dir', size: 0, sha256: '' }],
        ]),
      ),
    ).toEqual([]);
    expect(
      entryProblems(
        m,
        new Map([
          ['vm.json', { type: 'file', size: 3, sha256: 'ab' }],
          ['files/C/x', { type: 'file', size: 1, sha256: 'cc' }],
        ]),
      ),
    ).toEqual(['vm.json: checksum mismatch (the archive is damaged)', 'files: missing from the archive', 'files/C/x: not in the manifest']);
  });
});

describe('a duplicate renamed for its new VM and host', () => {
  const original: ServiceConfig = {
    name: 'pgsql',
    displayName: 'PostgreSQL',
    type: 0x10,
    start: 'DEMAND',
    errorControl: 1,
    imagePath: 'C:\\pg\\bin\\pg_ctl.exe runservice -N pgsql',
    loadOrderGroup: '',
    account: 'LocalSystem',
    dependOnService: ['RpcSs'],
    dependOnGroup: [],
    description: '',
  } as unknown as ServiceConfig;
  const d: ArchivedDuplicate = {
    service: 'pgsql',
    scmName: 'pgsql@a',
    start: 'AUTO',
    mode: 'relayed',
    restrictedToken: true,
    plan: {
      service: 'pgsql',
      scmName: 'pgsql@a',
      displayName: 'PostgreSQL (a)',
      imagePath: 'Z:\\old\\svcdup-host.exe --vm a --service pgsql --restricted-token',
      dependOnService: ['RpcSs@a', 'Tcpip'],
      original,
      reason: 'requested',
    },
  };
  it('names, image path and dependencies for the new VM; the restricted token kept', () => {
    const p = importedPlan(d, 'a', 'b', original, { hostExe: 'Z:\\new\\svcdup-host.exe', hookDll: 'Z:\\new\\svcdup-hook.dll' });
    expect(p).toMatchObject({
      scmName: 'pgsql@b',
      displayName: 'PostgreSQL (b)',
      imagePath: 'Z:\\new\\svcdup-host.exe --vm b --service pgsql --restricted-token',
      dependOnService: ['RpcSs@b', 'Tcpip'],
    });
    const direct = importedPlan({ ...d, mode: 'direct', restrictedToken: false }, 'a', 'b', original, { hostExe: 'x', hookDll: 'Z:\\h.dll' });
    expect(direct.imagePath).toBe('C:\\pg\\bin\\pg_ctl@b.exe runservice -N pgsql');
    expect(direct.direct).toMatchObject({ vm: 'b', scmName: 'pgsql@b', copy: 'C:\\pg\\bin\\pg_ctl@b.exe' });
  });
});
