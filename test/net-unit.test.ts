// Network identity: the pure parts (src/net), no Wine needed.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import {
  addressProblem,
  effectiveEndpoint,
  explainBindConflict,
  explainHostConflict,
  listeningEndpoints,
  netRules,
  nextFreeAddress,
  parseNetRules,
  parsePortMap,
  planIdentity,
  portMapFromRecord,
  portMapToRecord,
} from '../src/net/index.js';
import { parseRules } from '../src/vm/policy.js';

describe('VM addresses', () => {
  it('allocates the first free address of 127.77.0.0/16, skipping .0 and .255', () => {
    expect(nextFreeAddress([])).toBe('127.77.0.2');
    expect(nextFreeAddress(['127.77.0.2', '127.77.0.3'])).toBe('127.77.0.4');
    expect(nextFreeAddress(['127.77.0.2', '127.77.0.4'])).toBe('127.77.0.3');
    const row = Array.from({ length: 253 }, (_, i) => `127.77.0.${i + 2}`);
    expect(nextFreeAddress(row)).toBe('127.77.1.1');
  });
  it('says when the range is exhausted', () => {
    const all: string[] = [];
    for (let b = 0; b < 256; b++) for (let c = 0; c < 256; c++) all.push(`127.77.${b}.${c}`);
    expect(() => nextFreeAddress(all)).toThrow(/no free address.*--ip/);
  });
  it('accepts loopback addresses and rejects the others with a reason', () => {
    expect(addressProblem('127.77.0.2')).toBeUndefined();
    expect(addressProblem('127.5.6.7')).toBeUndefined();
    expect(addressProblem('10.0.0.1')).toMatch(/not a loopback address/);
    expect(addressProblem('127.0.0.1')).toMatch(/host's loopback/);
    expect(addressProblem('127.0.0.0')).toMatch(/network address/);
    expect(addressProblem('127.77.0.255')).toMatch(/broadcast/);
    expect(addressProblem('127.77.0.0')).toMatch(/network address/);
    expect(addressProblem('127.77.3.0')).toMatch(/network address/);
    expect(addressProblem('127.255.255.255')).toMatch(/broadcast/);
    expect(addressProblem('127.12.34.56')).toMatch(/Wine's magic loopback/);
    expect(addressProblem('127.77.0.256')).toMatch(/not an IPv4 address/);
    expect(addressProblem('127.077.0.2')).toMatch(/not an IPv4 address/);
    expect(addressProblem('::1')).toMatch(/not an IPv4 address/);
  });
});

describe('port maps', () => {
  it('parses PORT:HOSTPORT lists, tcp unless told', () => {
    expect(parsePortMap('80:8081, udp/53:5353,TCP/443:8443')).toEqual([
      { proto: 'tcp', from: 80, to: 8081 },
      { proto: 'udp', from: 53, to: 5353 },
      { proto: 'tcp', from: 443, to: 8443 },
    ]);
  });
  it('rejects malformed items, ranges and duplicates, naming the item', () => {
    expect(() => parsePortMap('80')).toThrow(/"80" is not \[tcp\/\|udp\/\]PORT:HOSTPORT/);
    expect(() => parsePortMap('80:0')).toThrow(/host port 0 is out of range/);
    expect(() => parsePortMap('70000:1')).toThrow(/port 70000 is out of range/);
    expect(() => parsePortMap('x:1')).toThrow(/"x" is not a port number/);
    expect(() => parsePortMap('80:1,80:2')).toThrow(/tcp port 80 is mapped twice/);
    expect(() => parsePortMap('80:1,81:1')).toThrow(/two tcp ports map to host port 1/);
    expect(() => parsePortMap('80:1,')).toThrow(UsageError);
    expect(parsePortMap('80:1,udp/80:1')).toHaveLength(2);
  });
  it('round-trips through the VmRecord spelling', () => {
    const m = parsePortMap('80:8081,udp/53:5353');
    expect(portMapToRecord(m)).toEqual({ 'tcp/80': 8081, 'udp/53': 5353 });
    expect(portMapFromRecord(portMapToRecord(m))).toEqual(m);
  });
});

describe('planning a VM identity', () => {
  const others = [
    { name: 'web1', address: '127.77.0.2', portMap: [] },
    { name: 'web2', portMap: parsePortMap('80:8081') },
  ];
  it('gives the next free address by default', () => {
    expect(planIdentity({}, others)).toEqual({ address: '127.77.0.3', portMap: [] });
  });
  it("takes --ip, refusing another VM's address", () => {
    expect(planIdentity({ ip: '127.77.9.9' }, others)).toEqual({ address: '127.77.9.9', portMap: [] });
    expect(() => planIdentity({ ip: '127.77.0.2' }, others)).toThrow(/already VM web1's address/);
    expect(() => planIdentity({ ip: '192.168.1.1' }, others)).toThrow(/--ip: .*not a loopback/);
  });
  it('with --port-map alone keeps the host addresses and refuses a host port in use', () => {
    expect(planIdentity({ portMap: '80:8082' }, others)).toEqual({ portMap: [{ proto: 'tcp', from: 80, to: 8082 }] });
    expect(() => planIdentity({ portMap: '8080:8081' }, others)).toThrow(/host port 8081 is already VM web2's \(its port 80\)/);
  });
});

describe('net rules', () => {
  it('renders the lines native/hook/net.c reads, and parses them back', () => {
    const id = { address: '127.77.0.2', portMap: parsePortMap('80:8081,udp/53:5353') };
    const text = netRules(id);
    expect(text).toBe('net address 127.77.0.2\nnet portmap tcp 80 8081\nnet portmap udp 53 5353\n');
    expect(parseNetRules(`open pipes x\n${text}`)).toEqual(id);
    expect(netRules({ portMap: [] })).toBe('');
  });
  it('rejects what the hook rejects', () => {
    expect(() => parseNetRules('net address 127.0.0.1\n')).toThrow(/line 1/);
    expect(() => parseNetRules('net address 127.77.0.2\nnet address 127.77.0.3\n')).toThrow(/line 2/);
    expect(() => parseNetRules('net portmap sctp 1 2\n')).toThrow(/not a valid net rule/);
    expect(() => parseNetRules('net portmap tcp 1 2\nnet portmap tcp 1 3\n')).toThrow(/mapped twice/);
  });
  it('accepts what the hook accepts, as the policy parser does: one parser of net lines', () => {
    // net_line in native/hook/policy.c takes up to 3 digits a part, leading zeros too
    const text = 'net address 127.077.000.02\nnet  portmap\tTCP 80 8081\n';
    expect(parseNetRules(text)).toEqual({ address: '127.77.0.2', portMap: [{ proto: 'tcp', from: 80, to: 8081 }] });
    expect(parseRules(text).net).toEqual(parseNetRules(text));
    expect(() => parseNetRules('net address 127.0077.0.2\n')).toThrow(/not an IPv4 address/);
    expect(() => parseRules('net address 127.0077.0.2\n')).toThrow(/not an IPv4 address/);
  });
  it('says where a VM listener is reachable', () => {
    const id = { address: '127.77.0.2', portMap: parsePortMap('80:8081') };
    expect(effectiveEndpoint(id, 'tcp', 80)).toBe('127.77.0.2:8081');
    expect(effectiveEndpoint(id, 'udp', 80)).toBe('127.77.0.2:80');
    expect(effectiveEndpoint({ portMap: parsePortMap('80:8081') }, 'tcp', 80)).toBe('0.0.0.0:8081');
  });
});

describe('conflicts explained', () => {
  it('names the Linux wildcard rule and both fixes under Wine', () => {
    const t = explainBindConflict({ vm: 'web1', proto: 'tcp', address: '127.77.0.2', port: 80, platform: 'wine', hostWildcard: true });
    expect(t).toMatch(/host process listens on 0\.0\.0\.0:80/);
    expect(t).toMatch(/On Linux \(so under Wine\)/);
    expect(t).toMatch(/Windows would allow both/);
    expect(t).toMatch(/bind the host instance to 127\.0\.0\.1/);
    expect(t).toMatch(/--port-map 80:<free port>/);
    expect(explainBindConflict({ vm: 'dns', proto: 'udp', address: '127.77.0.2', port: 53, platform: 'wine', hostWildcard: true })).toMatch(
      /--port-map udp\/53:/,
    );
    expect(explainBindConflict({ vm: 'web1', proto: 'tcp', address: '127.77.0.2', port: 80, platform: 'windows', hostWildcard: true })).toMatch(
      /SO_EXCLUSIVEADDRUSE/,
    );
    expect(explainHostConflict(80, ['web1', 'web2'], 'wine')).toMatch(/VM web1, web2 listen on 127\.77\.x\.y:80.*127\.0\.0\.1/);
  });
});

describe('listening endpoints per VM', () => {
  const ss = [
    'tcp   LISTEN 0      4096      127.77.0.2:7100      0.0.0.0:*',
    'tcp   LISTEN 0      4096       127.0.0.1:7100      0.0.0.0:*',
    'udp   UNCONN 0      0         127.77.0.3:7200      0.0.0.0:*',
    'tcp   LISTEN 0      4096         0.0.0.0:8081      0.0.0.0:*',
    'tcp   LISTEN 0      4096            [::]:22           [::]:*',
  ].join('\n');
  it('attributes sockets by address and by mapped host port', () => {
    const vms = [
      { name: 'a', address: '127.77.0.2', portMap: [] },
      { name: 'b', address: '127.77.0.3', portMap: [] },
      { name: 'c', portMap: parsePortMap('80:8081') },
    ];
    expect(listeningEndpoints(ss, vms)).toEqual([
      { proto: 'tcp', local: '127.77.0.2:7100', vm: 'a', inVm: '*:7100' },
      { proto: 'tcp', local: '127.0.0.1:7100' },
      { proto: 'udp', local: '127.77.0.3:7200', vm: 'b', inVm: '*:7200' },
      { proto: 'tcp', local: '0.0.0.0:8081', vm: 'c', inVm: '*:80' },
      { proto: 'tcp', local: '[::]:22' },
    ]);
  });
});
