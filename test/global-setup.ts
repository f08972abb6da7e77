// Once per test run: make the Wine template every test prefix is cloned from.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { resolvePaths } from '../src/config.js';
import { findWine, WineBackend } from '../src/backend/wine.js';
import { templateDir, testRoot } from './helpers.js';

export default async function setup(): Promise<() => void> {
  removeDead();
  const paths = resolvePaths({ SVCDUP_HOME: join(testRoot, 'template-home'), SVCDUP_TEMPLATE: templateDir });
  await new WineBackend(paths, findWine()).ensureTemplate();
  // and at the end: test processes end killed, so their native copies (test/helpers.ts) stay behind
  return removeDead;
}

/** Homes and native copies left by test processes that are gone; a concurrent run's stay. */
function removeDead(): void {
  const wine = findWine();
  const homes = join(testRoot, 'homes');
  let names: string[] = [];
  try {
    names = readdirSync(homes);
  } catch {
    /* none yet */
  }
  for (const name of names) {
    const pid = Number(/-(\d+)-\d+$/.exec(name)?.[1]);
    if (pid && alive(pid)) continue;
    // its persistent wineserver outlives the run that started it
    if (existsSync(join(homes, name, 'prefix')))
      spawnSync(wine.server, ['-k'], { env: { ...process.env, WINEPREFIX: join(homes, name, 'prefix') }, stdio: 'ignore', timeout: 30_000 });
    rmSync(join(homes, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
