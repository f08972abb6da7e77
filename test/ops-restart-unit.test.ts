// Restart policies, health checks and events' --since, as parsed and decided (src/ops, src/cli/events.ts):
// pure, no Wine. What they do to real duplicates is test/ops-restart.test.ts.
import { describe, expect, it } from 'vitest';
import { parseSince } from '../src/cli/events.js';
import { parseFleet } from '../src/fleet/file.js';
import { UsageError } from '../src/errors.js';
import { parseHealth, resolveProbe } from '../src/ops/health.js';
import { backoffMs, failureActions, parseRestart, shouldRestart } from '../src/ops/restart.js';
import type { VmRecord } from '../src/state/vms.js';

const vm = (v: Partial<VmRecord>): VmRecord => ({ name: 'web1', createdAt: '', policy: '', portMap: {}, ...v });

describe('restart policies', () => {
  it('parses no, on-failure, on-failure:N and always; refuses the rest naming the value', () => {
    expect(parseRestart('no')).toEqual({ kind: 'no' });
    expect(parseRestart('on-failure')).toEqual({ kind: 'on-failure' });
    expect(parseRestart('on-failure:3')).toEqual({ kind: 'on-failure', max: 3 });
    expect(parseRestart('always')).toEqual({ kind: 'always' });
    for (const bad of ['sometimes', 'on-failure:0', 'on-failure:-1', 'always:3', 'on-failure:x', 'on-failure:99', '']) {
      expect(() => parseRestart(bad)).toThrow(UsageError);
      expect(() => parseRestart(bad)).toThrow(`"${bad}"`);
    }
  });

  it('backs off exponentially from 1 s to at most 60 s', () => {
    expect([0, 1, 2, 3, 5, 6, 10, 100].map(backoffMs)).toEqual([1000, 2000, 4000, 8000, 32000, 60000, 60000, 60000]);
  });

  it('is written as failure actions: N restarts, every failure, or none', () => {
    expect(failureActions(parseRestart('on-failure:3')).restarts).toBe(3);
    expect(failureActions(parseRestart('always')).restarts).toBe(-1);
    expect(failureActions(parseRestart('on-failure')).restarts).toBe(-1);
    expect(failureActions(parseRestart('no')).restarts).toBe(0);
  });

  it('restarts a failure (nonzero exit) up to N times; always also a clean end; never what svcdup stopped', () => {
    const crash = { win32ExitCode: 1066 };
    const clean = { win32ExitCode: 0 };
    const p3 = parseRestart('on-failure:3');
    expect([0, 1, 2, 3].map((n) => shouldRestart(p3, crash, n, false))).toEqual([true, true, true, false]);
    expect(shouldRestart(p3, clean, 0, false)).toBe(false);
    expect(shouldRestart(parseRestart('always'), clean, 50, false)).toBe(true);
    expect(shouldRestart(parseRestart('always'), crash, 0, true)).toBe(false);
    expect(shouldRestart(parseRestart('no'), crash, 0, false)).toBe(false);
  });
});

describe('health checks', () => {
  it('parses the four kinds with interval and retries; refuses bad values naming them', () => {
    expect(parseHealth('tcp:8080', '2', '3')).toEqual({ check: 'tcp:8080', interval: 2, retries: 3 });
    expect(parseHealth('pipe:svcdup-testsvc')).toEqual({ check: 'pipe:svcdup-testsvc', interval: 10, retries: 3 });
    for (const [spec, interval, retries, said] of [
      ['udp:53', undefined, undefined, '"udp:53"'],
      ['tcp:http', undefined, undefined, '"tcp:http"'],
      ['tcp:80', '0', undefined, '--interval "0"'],
      ['tcp:80', '-5', undefined, '--interval "-5"'],
      ['tcp:80', undefined, '1.5', '--retries "1.5"'],
      ['pipe:a b', undefined, undefined, '"pipe:a b"'],
    ] as const) {
      expect(() => parseHealth(spec, interval, retries)).toThrow(said);
    }
  });

  it("reaches the VM's address and mapped port; a port the VM does not own is refused naming it", () => {
    expect(resolveProbe(parseHealth('tcp:80'), vm({ address: '127.77.0.2' }))).toEqual({ kind: 'tcp', host: '127.77.0.2', port: 80 });
    expect(resolveProbe(parseHealth('tcp:80'), vm({ address: '127.77.0.2', portMap: { 'tcp/80': 8081 } }))).toEqual({
      kind: 'tcp',
      host: '127.77.0.2',
      port: 8081,
    });
    expect(resolveProbe(parseHealth('tcp:80'), vm({ portMap: { 'tcp/80': 8081 } }))).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8081 });
    expect(() => resolveProbe(parseHealth('tcp:8080'), vm({ portMap: { 'tcp/80': 8081 } }))).toThrow(/tcp:8080: VM web1 does not own port 8080/);
    expect(() => resolveProbe(parseHealth('tcp:70000'), vm({ address: '127.77.0.2' }))).toThrow(/70000/);
    expect(resolveProbe(parseHealth('http://localhost:8080/health'), vm({ address: '127.77.0.9' }))).toEqual({
      kind: 'http',
      url: 'http://127.77.0.9:8080/health',
    });
    expect(() => resolveProbe(parseHealth('http:example.com/x'), vm({ address: '127.77.0.9' }))).toThrow(/example.com is not VM web1's/);
    expect(resolveProbe(parseHealth('pipe:svcdup-testsvc'), vm({}))).toEqual({ kind: 'pipe', name: '\\\\.\\pipe\\svcdup.web1.svcdup-testsvc' });
    expect(resolveProbe(parseHealth('cmd:check.exe --quick "a b"'), vm({}))).toEqual({ kind: 'cmd', argv: ['check.exe', '--quick', 'a b'] });
  });
});

describe('events --since', () => {
  it('takes a time or a duration back from now; refuses the rest naming it', () => {
    const now = Date.parse('2026-12-07T12:00:00Z');
    expect(parseSince('10m', now).toISOString()).toBe('2026-12-07T11:50:00.000Z');
    expect(parseSince('2026-12-07T10:00:00Z', now).toISOString()).toBe('2026-12-07T10:00:00.000Z');
    expect(() => parseSince('yesterday', now)).toThrow('"yesterday"');
  });
});

describe('fleet file restart: and health:', () => {
  const file = (svc: string) => `vms:\n  web1:\n    services:\n      MyWeb: ${svc}\n`;
  it('carries them as dup would take them', () => {
    const f = parseFleet(file('{ restart: "on-failure:3", health: "tcp:80", interval: 2, retries: 4 }'), 'svcdup.yaml');
    expect(f.vms[0]!.services[0]).toMatchObject({ restart: 'on-failure:3', health: 'tcp:80', interval: '2', retries: '4' });
  });
  it('refuses bad ones naming the line and the value', () => {
    const e = (svc: string) => {
      try {
        parseFleet(file(svc), 'svcdup.yaml');
      } catch (err) {
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(e('{ restart: sometimes }')).toMatch(/^svcdup\.yaml:4:\d+: restart "sometimes"/);
    expect(e('{ health: "udp:53" }')).toMatch(/^svcdup\.yaml:4:\d+: health "udp:53"/);
    expect(e('{ health: "tcp:80", interval: 0 }')).toMatch(/^svcdup\.yaml:4:\d+: interval "0"/);
    expect(e('{ retries: 3 }')).toMatch(/^svcdup\.yaml:4:\d+: interval and retries go with health/);
  });
});
