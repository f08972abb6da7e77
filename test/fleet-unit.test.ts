// The fleet file and the reconcile planner, without Wine: parse errors with line and column,
// and planFleet's changes for the cases `up` meets.
import { describe, expect, it } from 'vitest';
import { FleetFileError, parseFleet } from '../src/fleet/file.js';
import { describeChange, planFleet, type ActualVm, type FleetActual } from '../src/fleet/plan.js';

const FILE = `vms:
  web1:
    ip: 127.77.1.1
    services:
      RpcSs: {}
      MyWeb: { set: { 'Parameters\\Greeting': hello }, share: [HTTP] }
  web2: { services: { RpcSs: {}, MyWeb: {} } }
  web3:
    ports: ["80:8081"]
`;

function errorOf(text: string): FleetFileError {
  try {
    parseFleet(text, 'svcdup.yaml');
  } catch (e) {
    if (e instanceof FleetFileError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('fleet file', () => {
  it('parses the issue example', () => {
    const f = parseFleet(FILE, '/tmp/x/svcdup.yaml');
    expect(f.file).toBe('/tmp/x/svcdup.yaml');
    expect(f.vms.map((v) => v.name)).toEqual(['web1', 'web2', 'web3']);
    expect(f.vms[0]).toMatchObject({
      ip: '127.77.1.1',
      services: [
        { name: 'RpcSs', set: [], share: [], mode: 'auto' },
        { name: 'MyWeb', set: ['Parameters\\Greeting=hello'], share: ['HTTP'], mode: 'auto' },
      ],
    });
    expect(f.vms[2]).toMatchObject({ ports: '80:8081', services: [] });
  });

  it('names the line and column of a misspelt key', () => {
    const e = errorOf(FILE.replace('    services:\n      RpcSs', '    servces:\n      RpcSs'));
    expect([e.line, e.col]).toEqual([4, 5]);
    expect(e.message).toMatch(/^svcdup\.yaml:4:5: unknown key "servces" in vms\.web1/);
  });

  it('names the line of a bad value, a bad VM name, a bad address and broken YAML', () => {
    expect(errorOf(FILE.replace('share: [HTTP]', 'share: HTTP')).line).toBe(6);
    expect(errorOf(FILE.replace('  web2:', '  Web2:')).message).toMatch(/:7:3: VM name "Web2"/);
    expect(errorOf(FILE.replace('127.77.1.1', '10.0.0.1')).message).toMatch(/:3:9: ip: 10\.0\.0\.1 is not a loopback address/);
    expect(errorOf(FILE.replace('"80:8081"', '"80:x"')).line).toBe(9);
    expect(errorOf('vms:\n  web1: {services: {a: {}\n').line).toBeGreaterThanOrEqual(2);
    expect(errorOf('vms:\n  a: 1\n  a: 2\n').message).toMatch(/^svcdup\.yaml:3:/);
  });
});

const fleet = parseFleet(FILE, '/f/svcdup.yaml');
const running = (vm: string, service: string, deps: string[] = [], values = {}) => ({
  service,
  scmName: `${service}@${vm}`,
  dependOnService: deps,
  state: 'RUNNING' as const,
  values,
});
const matching = (): ActualVm[] => [
  {
    name: 'web1',
    address: '127.77.1.1',
    portMap: {},
    policy: '',
    duplicates: [
      running('web1', 'RpcSs'),
      running('web1', 'MyWeb', ['RpcSs@web1', 'HTTP'], { 'parameters\\greeting': { name: 'Greeting', type: 'REG_SZ', data: 'hello' } }),
    ],
  },
  { name: 'web2', address: '127.77.0.2', portMap: {}, policy: '', duplicates: [running('web2', 'RpcSs'), running('web2', 'MyWeb', ['RpcSs@web2'])] },
  { name: 'web3', portMap: { 'tcp/80': 8081 }, policy: '', duplicates: [] },
];
const actual = (vms: ActualVm[], more: Partial<FleetActual> = {}): FleetActual => ({
  vms,
  owned: ['web1', 'web2', 'web3'],
  hostDeps: { myweb: ['RpcSs', 'HTTP'], rpcss: [], http: [] },
  policies: {},
  ...more,
});

describe('planFleet', () => {
  it('creates everything on an empty host, dependencies first, then starts', () => {
    const c = planFleet(fleet, actual([], { owned: [] }));
    expect(c.map((x) => `${x.op} ${x.vm}${'service' in x ? ` ${x.service}` : ''}`)).toEqual([
      'vm.create web1',
      'dup web1 RpcSs',
      'dup web1 MyWeb',
      'vm.create web2',
      'dup web2 RpcSs',
      'dup web2 MyWeb',
      'vm.create web3',
      'start web1 RpcSs',
      'start web1 MyWeb',
      'start web2 RpcSs',
      'start web2 MyWeb',
    ]);
    expect(c[0]).toMatchObject({ ip: '127.77.1.1' });
    expect(c[6]).toMatchObject({ ports: '80:8081' });
  });

  it('changes nothing when the host matches', () => {
    expect(planFleet(fleet, actual(matching()))).toEqual([]);
  });

  it('starts what is stopped, re-duplicates what differs, removes what left the file', () => {
    const vms = matching();
    vms[1]!.duplicates[0]!.state = 'STOPPED';
    vms[0]!.duplicates[1]!.values = { 'parameters\\greeting': { name: 'Greeting', type: 'REG_SZ', data: 'bye' } };
    vms[1]!.duplicates.push(running('web2', 'Extra'));
    vms.push({ name: 'old', address: '127.77.0.9', portMap: {}, policy: '', duplicates: [running('old', 'RpcSs')] });
    const c = planFleet(fleet, actual(vms, { owned: ['old', 'web1', 'web2', 'web3'] }));
    expect(c.map((x) => `${x.op} ${x.vm}${'service' in x ? ` ${x.service}` : ''}`)).toEqual([
      'vm.rm old',
      'undup web1 MyWeb',
      'undup web2 Extra',
      'dup web1 MyWeb',
      'start web1 MyWeb',
      'start web2 RpcSs',
    ]);
  });

  it('mode: direct (or direct: true) makes a direct duplicate, and re-duplicates one that runs the other way', () => {
    for (const spelling of ['mode: direct', 'direct: true']) {
      const direct = parseFleet(FILE.replace('share: [HTTP] }', `share: [HTTP], ${spelling} }`), '/f/svcdup.yaml');
      expect(direct.vms[0]!.services[1]).toMatchObject({ name: 'MyWeb', mode: 'direct' });
      const fresh = planFleet(direct, actual([], { owned: [] }));
      expect(fresh.find((x) => x.op === 'dup' && x.vm === 'web1' && x.service === 'MyWeb')).toMatchObject({ mode: 'direct' });
      expect(fresh.find((x) => x.op === 'dup' && x.vm === 'web2' && x.service === 'MyWeb')).not.toHaveProperty('mode');
      const c = planFleet(direct, actual(matching()));
      expect(c.map((x) => `${x.op} ${x.vm}${'service' in x ? ` ${x.service}` : ''}`)).toEqual(['undup web1 MyWeb', 'dup web1 MyWeb', 'start web1 MyWeb']);
      expect(c[1]).toMatchObject({ mode: 'direct', why: 'declared direct, runs relayed: re-duplicated' });
      expect(describeChange(c[1]!)).toBe('dup MyWeb@web1 --direct (declared direct, runs relayed: re-duplicated)');
      const vms = matching();
      vms[0]!.duplicates[1]!.direct = true;
      expect(planFleet(direct, actual(vms))).toEqual([]);
    }
    expect(errorOf(FILE.replace('share: [HTTP] }', 'share: [HTTP], direct: yes please }')).line).toBe(6);
    expect(errorOf(FILE.replace('share: [HTTP] }', 'share: [HTTP], mode: fast }')).line).toBe(6);
    expect(errorOf(FILE.replace('share: [HTTP] }', 'share: [HTTP], mode: relayed, direct: true }')).problem).toMatch(/contradicts mode: relayed/);
  });

  it('no mode (auto) takes a duplicate as it runs, either way; mode: relayed re-duplicates a direct one', () => {
    const vms = matching();
    vms[0]!.duplicates[1]!.direct = true;
    expect(planFleet(fleet, actual(vms))).toEqual([]);
    const relayed = parseFleet(FILE.replace('share: [HTTP] }', 'share: [HTTP], mode: relayed }'), '/f/svcdup.yaml');
    expect(planFleet(relayed, actual(vms))[1]).toMatchObject({ op: 'dup', mode: 'relayed', why: 'declared relayed, runs direct: re-duplicated' });
  });

  it('leaves VMs it does not own alone, and re-creates a VM whose address differs', () => {
    const vms = matching();
    vms[0]!.address = '127.77.1.2';
    vms.push({ name: 'handmade', portMap: {}, policy: '', address: '127.77.0.5', duplicates: [] });
    const c = planFleet(fleet, actual(vms));
    expect(c.filter((x) => x.vm === 'handmade')).toEqual([]);
    expect(c[0]).toMatchObject({ op: 'vm.rm', vm: 'web1' });
    expect(c.filter((x) => x.vm === 'web1').map((x) => x.op)).toEqual(['vm.rm', 'vm.create', 'dup', 'dup', 'start', 'start']);
  });

  it('keeps duplicated dependencies of declared services', () => {
    const f = parseFleet('vms:\n  a: { services: { Schedule: {} } }\n', '/f.yaml');
    const vms: ActualVm[] = [
      { name: 'a', address: '127.77.0.2', portMap: {}, policy: '', duplicates: [running('a', 'RpcSs'), running('a', 'Schedule', ['RpcSs@a'])] },
    ];
    expect(planFleet(f, actual(vms, { owned: ['a'] }))).toEqual([]);
  });
});

describe('fleet files that would exhaust the parser', () => {
  it('a YAML alias bomb is refused with a clean error', () => {
    const level = (n: number) => `l${n}: &l${n} [${Array.from({ length: 9 }, () => (n ? `*l${n - 1}` : '"x"')).join(',')}]`;
    const bomb = [...[0, 1, 2, 3, 4].map(level), 'vms: {}'].join('\n');
    expect(() => parseFleet(bomb, 'bomb.yaml')).toThrow(FleetFileError);
    expect(() => parseFleet(bomb, 'bomb.yaml')).toThrow(/too many YAML aliases/);
  });

  it('a file over the size cap is refused before it is read, as is a device', async () => {
    const { readFleet, MAX_FLEET_BYTES } = await import('../src/fleet/file.js');
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'fleet-big-'));
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `vms:\n${'#'.repeat(MAX_FLEET_BYTES)}\n`);
    expect(() => readFleet(big)).toThrow(/a fleet file may be \d+ bytes at most/);
    expect(() => readFleet('/dev/zero')).toThrow(/not a regular file/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('device names are refused as VM and service names', () => {
    expect(() => parseFleet('vms:\n  con: {}\n', 'f.yaml')).toThrow(/Windows device name/);
    expect(() => parseFleet('vms:\n  ok:\n    services:\n      NUL.txt: {}\n', 'f.yaml')).toThrow(/Windows device name/);
  });
});
