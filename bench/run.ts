// npm run bench [-- --json] [-- NAME...]: every benchmark (or the ones named), one after the
// other. With --json each prints one object of named figures, and they are written to
// bench/results.json with the machine they ran on (cores, memory, Wine version), keeping
// the entries of benchmarks not run this time; scripts/status.ts turns that file into the
// benchmark section of docs/status.md. BENCH_DENSITY=N,N,... sets the density sizes,
// BENCH_DUP_N the number of duplicates bench/dup runs at once.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { args, json, machine } from './lib.js';

const ALL = ['agent', 'namespace', 'dup', 'network', 'analyze', 'density', 'files', 'portable'];
const here = dirname(fileURLToPath(import.meta.url));
const results = join(here, 'results.json');
const names = args.length ? args : ALL;
for (const n of names) if (!ALL.includes(n)) throw new Error(`unknown benchmark ${n}: one of ${ALL.join(', ')}`);

const extra: Record<string, string[]> = {
  density: process.env.BENCH_DENSITY ? [process.env.BENCH_DENSITY] : [],
  dup: process.env.BENCH_DUP_N ? [process.env.BENCH_DUP_N] : [],
};
const out: Record<string, unknown> = {};
const thisMachine = machine();
for (const name of names) {
  process.stderr.write(`== bench/${name}\n`);
  const tsx = join(here, '..', 'node_modules', '.bin', 'tsx');
  const r = spawnSync(tsx, [join(here, `${name}.ts`), ...(extra[name] ?? []), ...(json ? ['--json'] : [])], {
    stdio: ['ignore', json ? 'pipe' : 'inherit', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    process.stderr.write(`bench/${name} failed (exit ${r.status ?? r.signal})\n`);
    process.exit(1);
  }
  if (json) {
    const last = r.stdout.trim().split('\n').pop() ?? '';
    out[name] = { ...(JSON.parse(last) as object), at: new Date().toISOString(), machine: thisMachine };
    // after each benchmark, so that a later one failing or interrupted loses nothing
    const prev = existsSync(results) ? (JSON.parse(readFileSync(results, 'utf8')) as { benches?: Record<string, unknown> }) : {};
    writeFileSync(results, JSON.stringify({ machine: thisMachine, benches: { ...(prev.benches ?? {}), [name]: out[name] } }, null, 2) + '\n');
    process.stderr.write(`written: ${results} (${name})\n`);
  }
}
if (json) process.stdout.write(JSON.stringify(out) + '\n');
