// Where svcdup keeps its state and finds its native binaries.
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Package root: dist/config.js and src/config.ts both sit one level below it. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Paths {
  /** $SVCDUP_HOME, default ~/.svcdup */
  home: string;
  /** the Wine prefix svcdup manages */
  prefix: string;
  /** the pristine prefix new prefixes are cloned from ($SVCDUP_TEMPLATE to share one) */
  template: string;
  /** the state database */
  stateDb: string;
  /** svcdup-agent.exe and friends ($SVCDUP_NATIVE_DIR to override) */
  nativeDir: string;
}

export function resolvePaths(env: NodeJS.ProcessEnv = process.env): Paths {
  const home = resolve(env.SVCDUP_HOME || join(homedir(), '.svcdup'));
  return {
    home,
    prefix: join(home, 'prefix'),
    template: resolve(env.SVCDUP_TEMPLATE || join(home, 'template')),
    stateDb: join(home, 'state.db'),
    nativeDir: resolve(env.SVCDUP_NATIVE_DIR || join(packageRoot, 'native', 'build')),
  };
}
