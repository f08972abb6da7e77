// The planner is a pure function: these tests feed it configurations and read the plan.
import { describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../src/backend/types.js';
import { dependencyClosure, PlanError } from '../src/plan/closure.js';
import { duplicateServiceName, parseDuplicateName } from '../src/plan/names.js';
import { planDuplicate } from '../src/plan/plan.js';

const svc = (name: string, extra: Partial<ServiceConfig> = {}): ServiceConfig => ({
  name,
  displayName: `${name} service`,
  type: 0x10,
  start: 'DEMAND',
  errorControl: 1,
  imagePath: `C:\\svc\\${name}.exe`,
  loadOrderGroup: '',
  account: 'LocalSystem',
  dependOnService: [],
  dependOnGroup: [],
  description: '',
  ...extra,
});

const chain = [svc('A', { dependOnService: ['B'] }), svc('B', { dependOnService: ['C'] }), svc('C'), svc('Other')];

describe('dependency closure', () => {
  it('orders A -> B -> C dependencies first', () => {
    const c = dependencyClosure('A', chain);
    expect(c.order.map((e) => `${e.name}:${e.action}`)).toEqual(['C:duplicate', 'B:duplicate', 'A:duplicate']);
  });

  it('a shared dependency is not followed further: B shared leaves C to the host', () => {
    const c = dependencyClosure('a', chain, ['b']);
    expect(c.root).toBe('A');
    expect(c.order.map((e) => `${e.name}:${e.action}:${e.reason}`)).toEqual(['B:share:--share', 'A:duplicate:requested']);
  });

  it('expands DependOnGroup into the group members, and names the group', () => {
    const cfgs = [svc('Web', { dependOnGroup: ['Net'] }), svc('N1', { loadOrderGroup: 'Net' }), svc('N2', { loadOrderGroup: 'net' }), svc('X')];
    const c = dependencyClosure('Web', cfgs);
    expect(c.order.map((e) => e.name)).toEqual(['N1', 'N2', 'Web']);
    expect(c.order[0]!.viaGroups).toEqual(['Net']);
    expect(c.order[2]!.dependsOn).toEqual(['N1', 'N2']);
  });

  it('shares drivers automatically, saying why', () => {
    const cfgs = [svc('W3SVC', { dependOnService: ['HTTP'] }), svc('HTTP', { type: 0x1 })];
    const c = dependencyClosure('W3SVC', cfgs);
    expect(c.order[0]).toMatchObject({ name: 'HTTP', action: 'share', reason: 'driver: cannot be duplicated from user mode' });
  });

  it('refuses a driver as the root, cycles, missing dependencies, empty groups and bad --share', () => {
    expect(() => dependencyClosure('HTTP', [svc('HTTP', { type: 0x1 })])).toThrow(/driver/);
    expect(() => dependencyClosure('A', [svc('A', { dependOnService: ['B'] }), svc('B', { dependOnService: ['A'] })])).toThrow('dependency cycle: A -> B -> A');
    expect(() => dependencyClosure('A', [svc('A', { dependOnService: ['Gone'] })])).toThrow('A depends on Gone, which is not installed');
    expect(() => dependencyClosure('A', [svc('A', { dependOnGroup: ['Empty'] })])).toThrow(/group Empty, which has no members/);
    expect(() => dependencyClosure('A', chain, ['Nope'])).toThrow('--share Nope: no such service');
    expect(() => dependencyClosure('Nope', chain)).toThrow(PlanError);
    expect(() => dependencyClosure('A', chain, ['A'])).toThrow(/both duplicated and shared/);
  });

  it('visits a diamond once', () => {
    const cfgs = [svc('T', { dependOnService: ['L', 'R'] }), svc('L', { dependOnService: ['D'] }), svc('R', { dependOnService: ['D'] }), svc('D')];
    expect(dependencyClosure('T', cfgs).order.map((e) => e.name)).toEqual(['D', 'L', 'R', 'T']);
  });
});

describe('duplication plan', () => {
  const hostExe = 'Z:\\opt\\svcdup\\svcdup-host.exe';

  it('names duplicates SERVICE@VM, points them at svcdup-host, and rewrites DependOnService', () => {
    const p = planDuplicate({ service: 'A', vm: 'web1', configs: chain, share: ['C'], hostExe });
    expect(p.services.map((s) => s.scmName)).toEqual(['B@web1', 'A@web1']);
    expect(p.services[0]!.dependOnService).toEqual(['C']);
    expect(p.services[1]!.dependOnService).toEqual(['B@web1']);
    expect(p.services[1]!.imagePath).toBe('Z:\\opt\\svcdup\\svcdup-host.exe --vm web1 --service A');
    expect(p.services[1]!.displayName).toBe('A service (web1)');
    expect(p.shared.map((e) => e.name)).toEqual(['C']);
  });

  it('quotes a host path with spaces', () => {
    const p = planDuplicate({ service: 'C', vm: 'v', configs: chain, hostExe: 'C:\\Program Files\\svcdup\\svcdup-host.exe' });
    expect(p.services[0]!.imagePath).toBe('"C:\\Program Files\\svcdup\\svcdup-host.exe" --vm v --service C');
  });

  it('gives svchost services a VM-private group holding only the duplicated members', () => {
    const sh = (n: string, deps: string[] = []) => svc(n, { type: 0x20, imagePath: 'C:\\windows\\system32\\svchost.exe -k netsvcs', svchostGroup: 'netsvcs', serviceDll: `${n}.dll`, dependOnService: deps });
    const cfgs = [sh('Schedule', ['RpcSs']), sh('BITS'), svc('RpcSs', { type: 0x20 })];
    const p = planDuplicate({ service: 'Schedule', vm: 'v1', configs: cfgs, share: ['RpcSs'], hostExe });
    expect(p.svchostGroups).toEqual({ 'netsvcs@v1': ['Schedule'] });
    expect(p.services[0]!.svchost).toEqual({ group: 'netsvcs', privateGroup: 'netsvcs@v1' });
  });

  it('does not plan again what the VM already has, but depends on it', () => {
    const p = planDuplicate({ service: 'A', vm: 'v', configs: chain, hostExe, existing: ['C'] });
    expect(p.services.map((s) => s.service)).toEqual(['B', 'A']);
    expect(p.services[0]!.dependOnService).toEqual(['C@v']);
    expect(() => planDuplicate({ service: 'A', vm: 'v', configs: chain, hostExe, existing: ['a'] })).toThrow(/already duplicated/);
  });

  it('is deterministic', () => {
    const a = planDuplicate({ service: 'A', vm: 'v', configs: chain, hostExe });
    const b = planDuplicate({ service: 'A', vm: 'v', configs: [...chain].reverse(), hostExe });
    expect(b).toEqual(a);
  });
});

describe('names', () => {
  it('round-trips SERVICE@VM and enforces the SCM length limit', () => {
    expect(parseDuplicateName(duplicateServiceName('RpcSs', 'web1'))).toEqual({ service: 'RpcSs', vm: 'web1' });
    expect(parseDuplicateName('RpcSs')).toBeUndefined();
    expect(() => duplicateServiceName('x'.repeat(250), 'abcdefgh')).toThrow(RangeError);
  });
});
