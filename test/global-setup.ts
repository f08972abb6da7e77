// Once per test run: make the Wine template every test prefix is cloned from.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { resolvePaths } from '../src/config.js';
import { findWine, WineBackend } from '../src/backend/wine.js';
import { templateDir, testRoot } from './helpers.js';

export default async function setup(): Promise<void> {
  rmSync(join(testRoot, 'homes'), { recursive: true, force: true });
  const paths = resolvePaths({ SVCDUP_HOME: join(testRoot, 'template-home'), SVCDUP_TEMPLATE: templateDir });
  await new WineBackend(paths, findWine()).ensureTemplate();
}
