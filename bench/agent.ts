// bench/agent: median round trip of a registry query through the running agent,
// against running `reg query` as its own Wine process (what the agent saves us),
// and the cost of a fresh prefix cloned from the template against a full copy.
// Usage: npx tsx bench/agent.ts [--json]
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { clonePrefix } from '../src/backend/prefix.js';
import { openTestHost, templateDir, testRoot } from '../test/helpers.js';
import { findWine, WineBackend } from '../src/backend/wine.js';
import { resolvePaths } from '../src/config.js';
import { report, round, say } from './lib.js';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number): string => `${x.toFixed(3)} ms`;

await new WineBackend(resolvePaths({ SVCDUP_HOME: join(testRoot, 'template-home'), SVCDUP_TEMPLATE: templateDir }), findWine()).ensureTemplate();
const host = await openTestHost('bench-agent');
const figures: Record<string, number> = {};
try {
  const key = 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\RpcSs';
  for (let i = 0; i < 50; i++) await host.backend.call('reg.get', { key, name: 'ImagePath' });
  const rt: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const t = performance.now();
    await host.backend.call('reg.get', { key, name: 'ImagePath' });
    rt.push(performance.now() - t);
  }
  const spawned: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await host.backend.exec(['reg', 'query', key, '/v', 'ImagePath']);
    spawned.push(performance.now() - t);
  }
  Object.assign(figures, {
    agentRoundTripMs: round(median(rt), 3),
    regQueryProcessMs: round(median(spawned), 1),
    agentOverProcess: round(median(rt) / median(spawned), 4),
  });
  say(`agent reg.get round trip, median of 1000:       ${ms(median(rt))}`);
  say(`wine reg query as a process, median of 10:      ${ms(median(spawned))}`);
  say(`ratio agent / process:                          ${(median(rt) / median(spawned)).toFixed(4)}`);
} finally {
  await host.dispose();
}

const clones: number[] = [];
const copies: number[] = [];
for (let i = 0; i < 3; i++) {
  const dest = join(testRoot, `bench-clone-${i}`);
  rmSync(dest, { recursive: true, force: true });
  let t = performance.now();
  await clonePrefix(templateDir, dest);
  clones.push(performance.now() - t);
  rmSync(dest, { recursive: true, force: true });
  t = performance.now();
  spawnSync('cp', ['-a', templateDir, dest]);
  copies.push(performance.now() - t);
  rmSync(dest, { recursive: true, force: true });
}
say(`fresh prefix from template (clone), median of 3: ${ms(median(clones))}`);
say(`full copy of the template (cp -a), median of 3:  ${ms(median(copies))}`);
say(`ratio clone / copy:                              ${(median(clones) / median(copies)).toFixed(4)}`);
report({
  bench: 'agent',
  ...figures,
  cloneMs: round(median(clones), 1),
  copyMs: round(median(copies), 1),
  cloneOverCopy: round(median(clones) / median(copies), 4),
});
