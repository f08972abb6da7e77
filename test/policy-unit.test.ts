// The rules grammar and the shared defaults file (native/hook/policy-defaults.txt), no Wine.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config.js';
import { UsageError } from '../src/errors.js';
import { decide, DEFAULT_OPEN, DEFAULT_RULES, DEFAULTS_FILE, parseRules } from '../src/vm/policy.js';
import { nativeDir } from './helpers.js';

describe('the defaults file', () => {
  it('is read by src/vm/policy.ts', () => {
    expect(DEFAULTS_FILE).toBe(join(packageRoot, 'native', 'hook', 'policy-defaults.txt'));
    expect(DEFAULT_OPEN.pipes).toContain('svcctl');
    expect(DEFAULT_OPEN.pipes).not.toContain('net\\NtControlPipe*'); // only a direct image's own (docs/vm.md)
    expect(DEFAULT_OPEN.objects).toEqual(['__wine*']);
    expect(DEFAULT_OPEN.services).toEqual(['HTTP']);
    expect(DEFAULT_RULES.every((r) => r.verdict === 'open')).toBe(true);
  });

  it('is what the built hook compiled in (native/build/gen/policy-defaults.h is up to date)', () => {
    const header = readFileSync(join(nativeDir, 'gen', 'policy-defaults.h'), 'utf8');
    const lines = [...header.matchAll(/^ {4}L"(.*)\\n";?$/gm)].map((m) => m[1]!.replace(/\\\\/g, '\\'));
    expect(parseRules(lines.join('\n')).rules).toEqual(DEFAULT_RULES);
  });

  it('decides the defaults for every kind, and a VM rule wins over them', () => {
    for (const r of DEFAULT_RULES) expect(decide('', r.kind, r.pattern.replace('*', 'x'))).toBe('open');
    expect(decide('private pipes svcctl', 'pipes', 'svcctl')).toBe('renamed');
    expect(decide('closed services HTTP', 'services', 'http')).toBe('denied');
  });
});

describe('the rules grammar', () => {
  it('parses every verdict and kind, net lines and comments, as the hook does', () => {
    const r = parseRules('# c\nopen pipes a b\ncow files C:\\data\\*\r\ncow keys \\Registry\\x\nnet address 127.77.0.9\nnet portmap tcp 80 8080\n\n');
    expect(r.rules).toEqual([
      { verdict: 'open', kind: 'pipes', pattern: 'a b' },
      { verdict: 'cow', kind: 'files', pattern: 'C:\\data\\*' },
      { verdict: 'cow', kind: 'keys', pattern: '\\Registry\\x' },
    ]);
    expect(r.net).toEqual({ address: '127.77.0.9', portMap: [{ proto: 'tcp', from: 80, to: 8080 }] });
    expect(parseRules('open pipes x').net).toBeUndefined();
  });

  it('rejects what the hook rejects, naming the line', () => {
    expect(() => parseRules('open pipes x\nopen sockets y')).toThrow(/line 2 .*the kind is not/);
    expect(() => parseRules('share pipes x')).toThrow(UsageError);
    expect(() => parseRules('open pipes')).toThrow(/no pattern|the kind/);
    expect(() => parseRules('open  pipes x')).toThrow(/the kind/); // words are split at single spaces
    expect(() => parseRules('net address 127.0.0.1')).toThrow(/127\.0\.0\.0\/8/);
    expect(() => parseRules('net portmap tcp 80 81\nnet portmap tcp 80 82')).toThrow(/mapped twice/);
  });

  it('decides with precedence closed, private, cow, open; svcdup names and the relay pipe', () => {
    const t = 'open files C:\\d\\*\ncow files C:\\d\\*\nclosed files C:\\d\\secret\nprivate objects p*\nopen objects p*';
    expect(decide(t, 'files', 'c:\\D\\x')).toBe('cow');
    expect(decide(t, 'files', 'C:\\d\\secret')).toBe('denied');
    expect(decide(t, 'objects', 'p1')).toBe('renamed');
    expect(decide(t, 'keys', 'anything')).toBe('cow');
    expect(decide('private keys HKLM\\SOFTWARE\\x', 'keys', 'HKLM\\SOFTWARE\\x')).toBe('private');
    expect(decide('open pipes svcdup.*', 'pipes', 'svcdup.vmctl.x')).toBe('renamed');
    expect(decide('', 'pipes', 'svcdup.relay.1.2')).toBe('open');
    expect(decide('', 'objects', 'svcdup.relay.1.2')).toBe('renamed');
  });
});
