// Soak: random svcdup commands from 3 concurrent clients for N minutes against one Wine host,
// then the invariants: the database, the SCM, the VM keys and the file areas agree
// (`svcdup repair --dry-run` finds nothing, no operation left running), no command printed a
// stack trace or hung, and after removing everything the host's Services key is as before.
// Not part of the test suite nor of bench/run.ts (docs/status.md has its last result).
//
//   npx tsx bench/soak.ts [--minutes 15] [--clients 3]
// Uses the test template (.svcdup-test/template: made by the wine tests' global setup).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../src/backend/index.js';
import { packageRoot, resolvePaths } from '../src/config.js';
import { VMS_KEY } from '../src/plan/keys.js';
import { openDb } from '../src/state/db.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '15' }, clients: { type: 'string', default: '3' } } });
const minutes = Number(values.minutes);
const clients = Number(values.clients);
const testRoot = join(packageRoot, '.svcdup-test');
const home = join(testRoot, 'homes', `soak-${process.pid}-0`);
mkdirSync(home, { recursive: true });
const paths = { ...resolvePaths({ SVCDUP_HOME: home, SVCDUP_TEMPLATE: join(testRoot, 'template') }), nativeDir: join(packageRoot, 'native', 'build') };
const env = { ...process.env, SVCDUP_HOME: paths.home, SVCDUP_TEMPLATE: paths.template, SVCDUP_NATIVE_DIR: paths.nativeDir };
const SVC = 'svcdup-testsvc';
const VMS = ['s1', 's2', 's3', 's4'];

interface Outcome {
  args: string[];
  code: number | null;
  ms: number;
  stderr: string;
}

function svcdup(args: string[], timeoutMs = 180_000): Promise<Outcome> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const c = spawn('node', [join(packageRoot, 'dist/cli.js'), ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ args, code, ms: Date.now() - t0, stderr });
    });
  });
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

function randomCommand(): string[] {
  const vm = pick(VMS);
  return pick([
    ['vm', 'create', vm],
    ['vm', 'rm', vm],
    ['dup', SVC, '--vm', vm],
    ['dup', SVC, '--vm', vm, '--start'],
    ['undup', SVC, '--vm', vm],
    ['start', SVC, '--vm', vm],
    ['stop', SVC, '--vm', vm],
    ['status', '--json'],
    ['vm', 'ls', '--json'],
    ['ps', '--json'],
  ]);
}

const backend = createBackend({ kind: 'wine', paths });
await backend.open();
await backend.call('scm.create', {
  name: SVC,
  displayName: 'svcdup test service',
  imagePath: backend.toWindowsPath(join(paths.nativeDir, 'svcdup-testsvc.exe')),
});
const before = await backend.call('reg.export', { key: 'HKLM\\SYSTEM\\CurrentControlSet\\Services' });
await backend.close();

const end = Date.now() + minutes * 60_000;
const outcomes: Outcome[] = [];
const problems: string[] = [];
await Promise.all(
  Array.from({ length: clients }, async () => {
    while (Date.now() < end) {
      const o = await svcdup(randomCommand());
      outcomes.push(o);
      if (o.code === null) problems.push(`hung: svcdup ${o.args.join(' ')}`);
      else if (/internal error|\n\s+at /.test(o.stderr)) problems.push(`stack trace: svcdup ${o.args.join(' ')}: ${o.stderr}`);
    }
  }),
);

// invariants
const repair = await svcdup(['repair', '--dry-run', '--json']);
await backend.open();
const db = openDb(paths.stateDb);
const open = db.prepare(`SELECT op, target, status FROM journal WHERE status IN ('running', 'failed')`).all();
const vmRows = (db.prepare(`SELECT name FROM vm ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
const dupRows = (db.prepare(`SELECT scm_name FROM duplicate ORDER BY scm_name`).all() as { scm_name: string }[]).map((r) => r.scm_name.toLowerCase());
db.close();
let keys: string[] = [];
try {
  keys = (await backend.call('reg.query', { key: VMS_KEY })).subkeys.sort();
} catch {
  /* none */
}
const scm = (await backend.call('scm.list', {}))
  .map((s) => s.name.toLowerCase())
  .filter((n) => n.includes('@'))
  .sort();
if (open.length) problems.push(`operations left open: ${JSON.stringify(open)}`);
if (JSON.stringify(keys) !== JSON.stringify(vmRows)) problems.push(`VM keys ${keys} != records ${vmRows}`);
if (JSON.stringify(scm) !== JSON.stringify(dupRows)) problems.push(`SCM ${scm} != records ${dupRows}`);
if (repair.code !== 0) problems.push(`repair --dry-run failed: ${repair.stderr}`);
await backend.close();
const actions = (
  JSON.parse(
    (await new Promise<string>((resolve) => {
      const c = spawn('node', [join(packageRoot, 'dist/cli.js'), 'repair', '--dry-run', '--json'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.on('close', () => resolve(out));
    })) || '{"actions":[]}',
  ) as { actions: unknown[] }
).actions;
if (actions.length) problems.push(`repair would do: ${JSON.stringify(actions)}`);

// remove everything; the Services key as before
for (const vm of vmRows) {
  const r = await svcdup(['vm', 'rm', vm]);
  if (r.code !== 0) problems.push(`vm rm ${vm}: ${r.stderr}`);
}
await backend.open();
const after = await backend.call('reg.export', { key: 'HKLM\\SYSTEM\\CurrentControlSet\\Services' });
if (JSON.stringify(after) !== JSON.stringify(before)) problems.push('the Services key differs from before');
const areas = backend.toHostPath('C:\\ProgramData\\svcdup\\VMs');
if (existsSync(areas) && readdirSync(areas).length) problems.push(`areas left: ${readdirSync(areas)}`);
await backend.shutdown();
rmSync(home, { recursive: true, force: true });

const by = (pred: (o: Outcome) => boolean) => outcomes.filter(pred).length;
const summary = {
  minutes,
  clients,
  commands: outcomes.length,
  ok: by((o) => o.code === 0),
  refused: by((o) => o.code === 2),
  other: by((o) => o.code !== 0 && o.code !== 2),
  slowestMs: Math.max(...outcomes.map((o) => o.ms)),
  problems,
};
process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
process.exitCode = problems.length ? 1 : 0;
