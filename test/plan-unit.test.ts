// The planner is a pure function: these tests feed it configurations and read the plan.
import { describe, expect, it } from 'vitest';
import { dependencyClosure, PlanError } from '../src/plan/closure.js';
import { duplicateServiceName, parseDuplicateName } from '../src/plan/names.js';
import { hostCommandLine, planDuplicate, planUndup } from '../src/plan/plan.js';
import { describeStep } from '../src/plan/steps.js';
import { MAX_RULES_CHARS, rulesSizeProblem } from '../src/plan/system.js';
import { planVmCreate, planVmForget } from '../src/vm/lifecycle.js';
import { svc } from './service-config.js';

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

  it('passes --restricted-token to svcdup-host for every planned duplicate, only when asked', () => {
    const p = planDuplicate({ service: 'A', vm: 'v', configs: chain, share: ['C'], hostExe, restrictedToken: true });
    expect(p.services.map((s) => s.imagePath)).toEqual([
      'Z:\\opt\\svcdup\\svcdup-host.exe --vm v --service B --restricted-token',
      'Z:\\opt\\svcdup\\svcdup-host.exe --vm v --service A --restricted-token',
    ]);
  });

  it('marks svchost services with their group (each duplicate runs its own svchost -k GROUP)', () => {
    const sh = (n: string, deps: string[] = []) =>
      svc(n, {
        type: 0x20,
        imagePath: 'C:\\windows\\system32\\svchost.exe -k netsvcs',
        svchostGroup: 'netsvcs',
        serviceDll: `${n}.dll`,
        dependOnService: deps,
      });
    const cfgs = [sh('Schedule', ['RpcSs']), sh('BITS'), svc('RpcSs', { type: 0x20 })];
    const p = planDuplicate({ service: 'Schedule', vm: 'v1', configs: cfgs, share: ['RpcSs'], hostExe });
    expect(p.services.map((s) => s.service)).toEqual(['Schedule']);
    expect(p.services[0]!.svchost).toEqual({ group: 'netsvcs' });
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

describe('the plan as steps', () => {
  const hostExe = 'Z:\\svcdup-host.exe';
  const V = 'HKLM\\SOFTWARE\\svcdup\\VMs\\v';
  const base = { service: 'A', vm: 'v', configs: chain, hostExe };

  it('registers the whole closure: copies, SCM registrations, records and the policy at once, then --set', () => {
    const p = planDuplicate({
      ...base,
      edits: [{ subkey: 'Parameters', value: { name: 'Port', type: 'REG_DWORD', data: 8080 } }],
      policy: { user: 'closed pipes x\n', net: 'net address 127.77.0.2\n', aliases: 'alias files C: Z:\\p\\drive_c\n', duplicates: [] },
    });
    expect(p.steps.map((s) => [s.kind, s.batch])).toEqual([
      ['reg.copy', 0],
      ['scm.create', 0],
      ['db.duplicate', 0],
      ['reg.copy', 0],
      ['scm.create', 0],
      ['db.duplicate', 0],
      ['reg.copy', 0],
      ['scm.create', 0],
      ['db.duplicate', 0],
      ['reg.setValue', 0],
      ['reg.setValue', 1],
    ]);
    expect(p.steps[0]).toMatchObject({
      args: { from: 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\C', to: `${V}\\Services\\C`, root: 'HKLM\\SOFTWARE\\svcdup' },
    });
    expect(p.steps[7]).toMatchObject({ args: { name: 'A@v', dependOnService: ['B@v'], start: 'DEMAND', imagePath: 'Z:\\svcdup-host.exe --vm v --service A' } });
    // --set goes into the root's copy only
    expect(p.steps[10]).toEqual({
      kind: 'reg.setValue',
      batch: 1,
      args: { key: `${V}\\Services\\A\\Parameters`, value: { name: 'Port', type: 'REG_DWORD', data: 8080 } },
    });
    // a Policy value that was not there: the undo deletes it
    expect(p.steps[9]).toEqual({
      kind: 'reg.setValue',
      batch: 0,
      args: { key: V, value: { name: 'Policy', type: 'REG_SZ', data: 'closed pipes x\nnet address 127.77.0.2\nalias files C: Z:\\p\\drive_c\n' } },
    });
  });

  it('keeps the old Policy value for the undo, and leaves an unchanged one alone', () => {
    const current = { name: 'Policy', type: 'REG_SZ' as const, data: 'old\n' };
    const rpc = [svc('RpcSs')];
    const p = planDuplicate({ service: 'RpcSs', vm: 'v', configs: rpc, hostExe, policy: { user: 'old', net: '', aliases: '', duplicates: [], current } });
    const last = p.steps.at(-1)!;
    expect(last.kind).toBe('reg.setValue');
    expect(last.args).toMatchObject({ previous: current, value: { data: expect.stringContaining('private pipes epmapper') } });
    const same = planDuplicate({ ...base, policy: { user: 'old', net: '', aliases: '', duplicates: [], current } });
    expect(same.steps.filter((s) => s.kind === 'reg.setValue')).toEqual([]);
    // shared host dependencies are opened to the VM
    const shared = planDuplicate({ ...base, share: ['B'], policy: { user: '', net: '', aliases: '', duplicates: [] } });
    expect(shared.steps.at(-1)!.args).toMatchObject({ value: { data: expect.stringContaining('open services B') } });
  });

  it('refuses names with @ and names already in the SCM, before any step', () => {
    expect(() => planDuplicate({ ...base, service: 'x@a' })).toThrow(/"x@a" cannot be duplicated: it contains '@'/);
    expect(() => planDuplicate({ ...base, share: ['b@c'] })).toThrow(PlanError);
    expect(() => planDuplicate({ ...base, scmNames: ['RpcSs', 'b@v'] })).toThrow(/B@v already exists in the host SCM/);
  });

  it('undup removes the SCM registration, the copy and the record, dependents first as given', () => {
    const p = planDuplicate({ ...base });
    const refs = [...p.services].reverse().map((s) => ({ vm: 'v', service: s.service, scmName: s.scmName, createdAt: 't', plan: s }));
    const tree = { name: 'A', values: [{ name: 'Start', type: 'REG_DWORD' as const, data: 3 }], subkeys: [] };
    const steps = planUndup('v', refs, new Map([['a', tree]]), {
      user: '',
      net: '',
      aliases: '',
      duplicates: refs.map((r) => ({ service: r.service, dependOnService: r.plan.dependOnService })),
      current: { name: 'Policy', type: 'REG_SZ', data: 'x' },
    });
    expect(steps.map((s) => `${s.kind} ${'name' in s.args ? s.args.name : 'key' in s.args ? s.args.key : ''}`)).toEqual([
      'scm.delete A@v',
      `reg.deleteTree ${V}\\Services\\A`,
      'db.forgetDuplicate ',
      'scm.delete B@v',
      `reg.deleteTree ${V}\\Services\\B`,
      'db.forgetDuplicate ',
      'scm.delete C@v',
      `reg.deleteTree ${V}\\Services\\C`,
      'db.forgetDuplicate ',
      `reg.setValue ${V}`,
    ]);
    expect(steps[1]!.args).toMatchObject({ tree });
    expect(steps.at(-1)!.args).toMatchObject({ value: { data: '\n' }, previous: { data: 'x' } });
  });

  it('every step describes itself and its undo in one line each', () => {
    for (const s of planDuplicate({ ...base, policy: { user: '', net: '', aliases: '', duplicates: [] } }).steps) {
      const d = describeStep(s);
      expect(d.does).not.toMatch(/\n/);
      expect(d.undo.length).toBeGreaterThan(0);
    }
  });

  it('vm create and vm rm are plans too', () => {
    const create = planVmCreate('web', 'closed pipes x\n', { address: '127.77.0.9', portMap: [] }, 'rules');
    expect(create).toEqual([
      { kind: 'db.vm', args: { name: 'web', policy: 'closed pipes x\n', address: '127.77.0.9', portMap: {} } },
      {
        kind: 'reg.ownKey',
        args: { key: 'HKLM\\SOFTWARE\\svcdup\\VMs\\web', values: [{ name: 'Policy', type: 'REG_SZ', data: 'rules' }], root: 'HKLM\\SOFTWARE' },
      },
    ]);
    const rec = { name: 'web', createdAt: 't', policy: '', portMap: {} };
    expect(planVmForget('web', rec, undefined)).toEqual([{ kind: 'db.forgetVm', args: rec }]);
    expect(planVmForget('web', undefined, { name: 'web', values: [], subkeys: [] }).map((s) => s.kind)).toEqual(['reg.deleteTree']);
  });

  it('refuses rules larger than the hook config section, naming the limit', () => {
    expect(rulesSizeProblem('x'.repeat(MAX_RULES_CHARS))).toBeUndefined();
    expect(rulesSizeProblem('x'.repeat(MAX_RULES_CHARS + 1))).toMatch(/CFG_SECTION_SIZE, 64 KiB\) holds at most 32730/);
  });
});

describe('names', () => {
  it('round-trips SERVICE@VM and enforces the SCM length limit', () => {
    expect(parseDuplicateName(duplicateServiceName('RpcSs', 'web1'))).toEqual({ service: 'RpcSs', vm: 'web1' });
    expect(parseDuplicateName('RpcSs')).toBeUndefined();
    expect(() => duplicateServiceName('x'.repeat(250), 'abcdefgh')).toThrow(RangeError);
    // one parser: the last @ separates the VM (VM names hold none)
    expect(parseDuplicateName('a@b@c')).toEqual({ service: 'a@b', vm: 'c' });
    expect(() => duplicateServiceName('x@a', 'b')).toThrow(/contains '@'/);
  });

  it("svcdup-host's command line takes names by svcdup-host's own rule, never as syntax (issue 20 item 6)", () => {
    const exe = 'Z:\\opt\\svcdup\\svcdup-host.exe';
    expect(hostCommandLine(exe, 'va', 'My Service')).toBe(`${exe} --vm va --service "My Service"`);
    expect(hostCommandLine('C:\\Program Files\\svcdup-host.exe', 'va', 'x', true)).toBe(
      '"C:\\Program Files\\svcdup-host.exe" --vm va --service x --restricted-token',
    );
    // the route of issue 20: a name that closes the quote and adds flags for another VM
    for (const bad of ['x" --vm vb --service "vbsvc', 'a\\b', 'a/b', 'a@b', 'a\nb', '', 'x'.repeat(257)])
      expect(() => hostCommandLine(exe, 'va', bad), JSON.stringify(bad)).toThrow(PlanError);
    expect(() => hostCommandLine(exe, 'vb --service x', 'y')).toThrow(/VM name/);
    expect(() => planDuplicate({ service: 'x" --vm vb --service "v', vm: 'va', configs: [svc('x" --vm vb --service "v')], hostExe: exe })).toThrow(
      /svcdup-host/,
    );
  });
});
