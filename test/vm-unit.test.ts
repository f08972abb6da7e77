// VM names and policies: the pure parts, no Wine needed.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { compilePolicy, decide } from '../src/vm/policy.js';
import { parsePolicy } from '../src/vm/policy-file.js';
import { objectNameInVm, pipeNameInVm, validateVmName, vmNameProblem } from '../src/vm/names.js';

describe('VM names', () => {
  it('accepts lowercase names with digits and inner hyphens, up to 32 characters', () => {
    for (const n of ['a', 'web1', 'db-2', 'x'.repeat(32)]) expect(vmNameProblem(n)).toBeUndefined();
  });
  it('rejects bad names with a reason', () => {
    expect(vmNameProblem('')).toMatch(/empty/);
    expect(vmNameProblem('Web')).toMatch(/lowercase/);
    expect(vmNameProblem('1web')).toMatch(/start with a letter/);
    expect(vmNameProblem('web-')).toMatch(/hyphen/);
    expect(vmNameProblem('a.b')).toMatch(/no dots/);
    expect(vmNameProblem('a\\b')).toMatch(/backslashes/);
    expect(vmNameProblem('x'.repeat(33))).toMatch(/longer than 32/);
    expect(() => validateVmName('a b')).toThrow(UsageError);
  });
  it('spells VM names with one prefixed component', () => {
    expect(objectNameInVm('web1', 'Global\\X')).toBe('Global\\svcdup.web1.X');
    expect(objectNameInVm('web1', 'X')).toBe('svcdup.web1.X');
    expect(pipeNameInVm('web1', '\\\\.\\pipe\\lrpc\\ep')).toBe('\\\\.\\pipe\\svcdup.web1.lrpc\\ep');
  });
});

describe('VM policy files', () => {
  const p = parsePolicy(
    JSON.stringify({ version: 1, open: { pipes: ['shared-*'] }, closed: { pipes: ['secret-*'], objects: ['forbidden*'] }, private: { pipes: ['epmapper'] } }),
  );
  it('compiles to the rules text the hook reads', () => {
    expect(compilePolicy(p)).toBe('open pipes shared-*\nclosed objects forbidden*\nclosed pipes secret-*\nprivate pipes epmapper\n');
    expect(compilePolicy({})).toBe('');
  });
  it('decides like the hook: closed, then private, then open, then the defaults', () => {
    expect(decide(p, 'pipes', 'SHARED-1')).toBe('open');
    expect(decide(p, 'pipes', 'secret-x')).toBe('denied');
    expect(decide(p, 'objects', 'forbidden')).toBe('denied');
    expect(decide(p, 'pipes', 'epmapper')).toBe('renamed');
    expect(decide(p, 'pipes', 'net\\NtControlPipe12')).toBe('renamed'); // only a direct image's own, in the hook
    expect(decide(p, 'objects', '__wine_SvcctlStarted')).toBe('open');
    expect(decide(p, 'pipes', 'mine')).toBe('renamed');
  });
  it('rejects invalid files, naming every problem', () => {
    expect(() => parsePolicy('{', 'p.json')).toThrow(/p\.json is not valid JSON/);
    expect(() => parsePolicy(JSON.stringify({ open: { sockets: ['x'] } }))).toThrow(/open: Unrecognized key/i);
    expect(() => parsePolicy(JSON.stringify({ open: { files: ['x'] } }))).toThrow(/open\.files\.0: a file pattern is an absolute Windows path/);
    expect(() => parsePolicy(JSON.stringify({ open: { pipes: ['\\\\.\\pipe\\x'] } }))).toThrow(/open\.pipes\.0: a pattern names what follows/);
    expect(() => parsePolicy(JSON.stringify({ open: { objects: ['svcdup.pid.*'] } }))).toThrow(/svcdup's own/);
    expect(() => parsePolicy(JSON.stringify({ closed: { pipes: ['a\nb'] } }))).toThrow(/line breaks/);
    expect(() => parsePolicy(JSON.stringify({ version: 2 }))).toThrow(/version/);
  });
});

describe('Windows device names', () => {
  it('are refused as VM names and as service names, in any case and with any extension', async () => {
    const { serviceNameProblem } = await import('../src/plan/names.js');
    for (const n of ['con', 'nul', 'aux', 'prn', 'com1', 'com9', 'lpt1', 'lpt9']) expect(vmNameProblem(n), n).toMatch(/Windows device name/);
    for (const n of ['con', 'NUL', 'Aux', 'prn.txt', 'COM1', 'com9.log', 'LPT1.x.y', 'lpt9']) expect(serviceNameProblem(n), n).toMatch(/Windows device name/);
    for (const n of ['console', 'com10', 'lpt0', 'nulla', 'auxiliary']) {
      expect(vmNameProblem(n), n).toBeUndefined();
      expect(serviceNameProblem(n), n).toBeUndefined();
    }
  });
});
