// Shared by the integration tests: each test file gets its own svcdup home (own prefix,
// own wineserver) cloned from one template that global-setup makes once per machine.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createBackend, type ManagedBackend } from '../src/backend/index.js';
import { packageRoot, resolvePaths, type Paths } from '../src/config.js';

export const testRoot = join(packageRoot, '.svcdup-test');
export const templateDir = join(testRoot, 'template');
/** The native build under test; SVCDUP_NATIVE_DIR points the tests at another one. */
const builtDir = process.env.SVCDUP_NATIVE_DIR ? resolve(process.env.SVCDUP_NATIVE_DIR) : join(packageRoot, 'native', 'build');
/**
 * What the tests run: a copy of that build per test process (2 MB), since a direct duplicate
 * writes IMAGE@VM.exe beside its image, and two test files run at once both name VMs a, v1...
 * Gone when the process exits, or with the next run's global setup if it was killed.
 */
export const nativeDir = join(testRoot, 'homes', `native-${process.pid}-0`);
if (!existsSync(nativeDir)) {
  // without direct copies a killed run left in the build (IMAGE@VM.exe): the next dup would find its copy taken
  cpSync(builtDir, nativeDir, { recursive: true, filter: (f) => !/@[^\\/]*\.exe$/i.test(f) });
  process.on('exit', () => rmSync(nativeDir, { recursive: true, force: true }));
}

let counter = 0;

/** Paths for a fresh, private svcdup home that shares the test template. */
export function testPaths(label: string): Paths {
  const home = join(testRoot, 'homes', `${label}-${process.pid}-${counter++}`);
  mkdirSync(home, { recursive: true });
  return { ...resolvePaths({ SVCDUP_HOME: home, SVCDUP_TEMPLATE: templateDir }), nativeDir };
}

/** The environment for running the CLI against the same home. */
export function testEnv(paths: Paths): NodeJS.ProcessEnv {
  return { ...process.env, SVCDUP_HOME: paths.home, SVCDUP_TEMPLATE: paths.template, SVCDUP_NATIVE_DIR: paths.nativeDir };
}

export interface TestHost {
  backend: ManagedBackend;
  paths: Paths;
  /** end the wineserver and remove the home */
  dispose(): Promise<void>;
}

export async function openTestHost(label: string): Promise<TestHost> {
  const paths = testPaths(label);
  const backend = createBackend({ kind: 'wine', paths });
  await backend.open();
  return {
    backend,
    paths,
    async dispose() {
      await backend.shutdown();
      rmSync(paths.home, { recursive: true, force: true });
    },
  };
}

/** The Windows path of one of the project's native binaries. */
export function nativeExe(backend: ManagedBackend, name: string): string {
  return backend.toWindowsPath(join(nativeDir, name));
}

/** A policy file naming file copy-on-write for every path: the default already (docs/state.md); kept for tests that pass it. */
export const COW_POLICY = join(testRoot, 'cow-files.json');
mkdirSync(testRoot, { recursive: true });
// written whole then renamed: two files run at once, and one may read it while the other writes
writeFileSync(`${COW_POLICY}.${process.pid}`, JSON.stringify({ cow: { files: ['*:\\*'] } }));
renameSync(`${COW_POLICY}.${process.pid}`, COW_POLICY);

/** A hash of a folder's tree: names, sizes and bytes, in sorted order (a missing folder hashes as empty). */
export function treeHash(root: string): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = statSync(p);
      h.update(`${rel}/${n}:${st.isDirectory() ? 'd' : st.size}\n`);
      if (st.isDirectory()) walk(p, `${rel}/${n}`);
      else h.update(readFileSync(p));
    }
  };
  if (existsSync(root)) walk(root, '');
  return h.digest('hex');
}
