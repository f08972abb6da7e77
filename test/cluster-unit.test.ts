// The cluster's pure parts: placement (src/cluster/place.ts) and the fleet file's cluster:
// section (src/cluster/file.ts), without etcd or Wine.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sealGroups } from '../src/cluster/admin.js';
import { readClusterKey, seal, unseal } from '../src/cluster/secret.js';
import { decryptArchive, encryptArchive } from '../src/cluster/transfer.js';
import { FleetFileError } from '../src/fleet/file.js';
import { parseFleet } from '../src/fleet/file.js';
import { parseClusterText, type GroupDecl } from '../src/cluster/file.js';
import { place, type NodeView, type Placed } from '../src/cluster/place.js';

const g = (name: string, replicas: number, more: Partial<GroupDecl> = {}): GroupDecl => ({
  name,
  replicas,
  labels: {},
  spread: 'host',
  onNodeLoss: 'replace',
  grace: 300,
  services: [{ name: 'svc', set: [], share: [], mode: 'auto' }],
  ...more,
});
const n = (name: string, more: Partial<NodeView> = {}): NodeView => ({ name, ready: true, labels: {}, cordoned: false, lost: false, ...more });
const spec = (x: GroupDecl) => `s${x.replicas}${x.services.length}`;
const NOW = 1_000_000;
const hostsOf = (p: Placed[]) => Object.fromEntries(p.map((a) => [a.vm, a.host]));

describe('place', () => {
  it('spreads replicas one per host, least loaded first, deterministic', () => {
    const p = place([g('pg', 3)], [n('c'), n('a'), n('b')], [], NOW, spec);
    expect(hostsOf(p.assignments)).toEqual({ 'pg-0': 'a', 'pg-1': 'b', 'pg-2': 'c' });
    expect(p.assignments.every((a) => a.generation === 1)).toBe(true);
    expect(p.unplaced).toEqual([]);
    // placed again from its own output: nothing moves
    expect(place([g('pg', 3)], [n('a'), n('b'), n('c')], p.assignments, NOW, spec).assignments).toEqual(p.assignments);
  });

  it('names the constraint that fails, per replica', () => {
    expect(place([g('pg', 1)], [], [], NOW, spec).unplaced).toEqual([{ group: 'pg', vm: 'pg-0', constraint: 'no node is registered' }]);
    expect(place([g('pg', 1)], [n('a', { ready: false })], [], NOW, spec).unplaced[0]!.constraint).toBe('no node is ready (1 NotReady)');
    expect(place([g('pg', 1)], [n('a', { cordoned: true })], [], NOW, spec).unplaced[0]!.constraint).toBe('every ready node is cordoned (1)');
    const labels = place([g('pg', 1, { labels: { zone: 'a' } })], [n('a', { labels: { zone: 'b' } })], [], NOW, spec);
    expect(labels.unplaced[0]!.constraint).toBe('labels: no ready, uncordoned node has zone=a');
    const spread = place([g('pg', 3)], [n('a'), n('b')], [], NOW, spec);
    expect(spread.unplaced).toEqual([{ group: 'pg', vm: 'pg-2', constraint: 'spread: host: each of the 2 matching nodes already has a replica of pg' }]);
    const full = place([g('pg', 2, { spread: 'none' })], [n('a', { capacity: 1 })], [], NOW, spec);
    expect(full.unplaced).toEqual([{ group: 'pg', vm: 'pg-1', constraint: 'capacity: the 1 eligible nodes are full' }]);
  });

  it('a NotReady node: replace after the grace with a new generation; wait until lost', () => {
    const groups = [g('r', 1, { grace: 10 }), g('w', 1, { onNodeLoss: 'wait' })];
    const first = place(groups, [n('a'), n('b')], [], NOW, spec).assignments;
    // both on a? r -> a (tie), w -> b (a loaded); put both on a for the case
    const cur = first.map((a) => ({ ...a, host: 'a' }));
    const down = (since: number, lost = false) => [n('a', { ready: false, notReadySince: since, lost }), n('b')];
    const early = place(groups, down(NOW - 5000), cur, NOW, spec);
    expect(hostsOf(early.assignments)).toEqual({ 'r-0': 'a', 'w-0': 'a' });
    expect(early.waiting.map((w) => w.reason)).toEqual(['a NotReady; replaced in 5 s', 'a NotReady; onNodeLoss: wait (until svcdup node lost a)']);
    const late = place(groups, down(NOW - 10_000), cur, NOW, spec);
    expect(hostsOf(late.assignments)).toEqual({ 'r-0': 'b', 'w-0': 'a' });
    expect(late.assignments.find((a) => a.vm === 'r-0')!.generation).toBe(2);
    const lost = place(groups, down(NOW - 1000, true), cur, NOW, spec);
    expect(hostsOf(lost.assignments)).toEqual({ 'r-0': 'b', 'w-0': 'b' });
  });

  it('scale down drops the highest replicas; a changed spec is a new generation in place; cordon keeps what runs', () => {
    const p = place([g('pg', 3)], [n('a'), n('b'), n('c')], [], NOW, spec).assignments;
    expect(hostsOf(place([g('pg', 2)], [n('a'), n('b'), n('c')], p, NOW, spec).assignments)).toEqual({ 'pg-0': 'a', 'pg-1': 'b' });
    const changed = place([g('pg', 3, { services: [] })], [n('a'), n('b'), n('c')], p, NOW, spec).assignments;
    expect(changed.map((a) => [a.host, a.generation])).toEqual([
      ['a', 2],
      ['b', 2],
      ['c', 2],
    ]);
    expect(hostsOf(place([g('pg', 3)], [n('a', { cordoned: true }), n('b'), n('c')], p, NOW, spec).assignments)['pg-0']).toBe('a');
  });
});

describe('the cluster: section', () => {
  const ok = `cluster:
  pg:
    replicas: 3
    placement: { labels: { zone: a }, spread: host }
    ports: ["5432:5432"]
    onNodeLoss: wait
    grace: 60
    services: { postgresql-x64-15: {} }
`;
  it('parses groups, with defaults', () => {
    expect(parseClusterText(ok, 'f.yaml')).toEqual([
      {
        name: 'pg',
        replicas: 3,
        labels: { zone: 'a' },
        spread: 'host',
        ports: '5432:5432',
        onNodeLoss: 'wait',
        grace: 60,
        services: [{ name: 'postgresql-x64-15', set: [], share: [], mode: 'auto' }],
      },
    ]);
    expect(parseClusterText('cluster:\n  w: { replicas: 1, services: { s: {} } }\n', 'f.yaml')[0]).toMatchObject({
      spread: 'host',
      onNodeLoss: 'replace',
      grace: 300,
    });
    // up reads the same file and ignores the section
    expect(parseFleet(ok, 'f.yaml').vms).toEqual([]);
  });

  it('reports problems with their line and column', () => {
    const err = (text: string) => {
      try {
        parseClusterText(text, 'f.yaml');
      } catch (e) {
        expect(e).toBeInstanceOf(FleetFileError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(err(ok.replace('onNodeLoss: wait', 'onNodeLoss: later'))).toMatch(/^f\.yaml:6:17: cluster\.pg\.onNodeLoss: /);
    expect(err(ok.replace('grace: 60', 'grase: 60'))).toBe(
      'f.yaml:7:5: unknown key "grase" in cluster.pg (expected replicas, placement, ports, onNodeLoss, grace, services)',
    );
    expect(err(ok.replace('spread: host', 'spred: host'))).toMatch(/^f\.yaml:4:39: unknown key "spred" in cluster\.pg\.placement/);
    expect(err(ok.replace('"5432:5432"', '"x:y"'))).toMatch(/^f\.yaml:5:12: ports: /);
    expect(err(ok.replace('  pg:', '  PG_x:'))).toMatch(/^f\.yaml:2:3: group name "PG_x": /);
    expect(err(ok.replace('postgresql-x64-15', 'a@b'))).toMatch(/service name "a@b"/);
  });
});

describe('sealed set: values', () => {
  const dir = mkdtempSync(join(tmpdir(), 'svcdup-key-'));
  const keyFile = (name: string, bytes: Buffer, mode = 0o600) => {
    const f = join(dir, name);
    writeFileSync(f, bytes, { mode });
    return f;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const withSet = g('db', 1, { services: [{ name: 'svc', set: ['Parameters\\Password=hunter2'], share: [], mode: 'auto' }] });

  it('seal and unseal round-trip; another key or no key is a clear error', () => {
    const k = readClusterKey(keyFile('a', randomBytes(32)));
    const sealed = seal(k, 'Parameters\\Password=hunter2');
    expect(sealed).toMatch(/^sealed:v1:/);
    expect(sealed).not.toContain('hunter2');
    expect(unseal(k, sealed)).toBe('Parameters\\Password=hunter2');
    expect(() => unseal(readClusterKey(keyFile('b', randomBytes(32))), sealed)).toThrow(/does not open with this --secret-key/);
    expect(() => unseal(undefined, sealed)).toThrow(/start the node agent with --secret-key/);
    expect(unseal(undefined, 'plain=1')).toBe('plain=1');
  });

  it('apply refuses set: values without a key; with one, the spec identity is stable and nothing is in clear', () => {
    expect(() => sealGroups([withSet], undefined)).toThrow(/cluster\.db: set: values would be stored in etcd in clear/);
    expect(sealGroups([g('plain', 1)], undefined)[0]).toEqual(g('plain', 1));
    const k = readClusterKey(keyFile('c', randomBytes(40)));
    const [a] = sealGroups([withSet], k);
    const [b] = sealGroups([withSet], k);
    expect(JSON.stringify(a)).not.toContain('hunter2');
    expect(a!.services[0]!.set[0]).not.toBe(b!.services[0]!.set[0]); // fresh IV each time
    expect(a!.spec).toBe(b!.spec); // ... but the same spec: re-applying moves nothing
    expect(() => readClusterKey(keyFile('short', randomBytes(8)))).toThrow(/give at least 32 random bytes/);
    expect(() => readClusterKey(keyFile('open', randomBytes(32), 0o644))).toThrow(/readable by others/);
  });
});

describe('the drain transfer', () => {
  const d = mkdtempSync(join(tmpdir(), 'svcdup-transfer-'));
  afterAll(() => rmSync(d, { recursive: true, force: true }));

  it('the served archive is encrypted under the move key; a changed byte or another key is refused', async () => {
    const plain = randomBytes(200_000);
    writeFileSync(join(d, 'a.tgz'), plain);
    const key = await encryptArchive(join(d, 'a.tgz'), join(d, 'a.enc'));
    const enc = readFileSync(join(d, 'a.enc'));
    expect(enc.length).toBe(plain.length + 28);
    expect(enc.includes(plain.subarray(0, 64))).toBe(false);
    await decryptArchive(join(d, 'a.enc'), join(d, 'a.out'), key, 'h1');
    expect(readFileSync(join(d, 'a.out')).equals(plain)).toBe(true);
    enc[1000] = enc[1000]! ^ 1;
    writeFileSync(join(d, 'b.enc'), enc);
    await expect(decryptArchive(join(d, 'b.enc'), join(d, 'b.out'), key, 'h1')).rejects.toThrow(/the archive from h1 does not open with its move's key/);
    await expect(decryptArchive(join(d, 'a.enc'), join(d, 'c.out'), randomBytes(32).toString('hex'), 'h1')).rejects.toThrow(/does not open/);
  });
});
