// Once per run of the wine project: the CLI tests run `node dist/cli.js` (as a user does),
// so dist/ must be the JavaScript of the sources under test. Rebuilt when any source is
// newer than its output (or the output is missing); tsc's errors stop the run.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageRoot } from '../src/config.js';

function stale(dir: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const s = stale(p);
      if (s) return s;
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
      const out = join(packageRoot, 'dist', relative(join(packageRoot, 'src'), p)).replace(/\.ts$/, '.js');
      let built = 0;
      try {
        built = statSync(out).mtimeMs;
      } catch {
        return p;
      }
      if (statSync(p).mtimeMs > built) return p;
    }
  }
  return undefined;
}

export default function setup(): void {
  // the dashboard's static files are copied, not compiled (package.json's build:ts): always fresh
  mkdirSync(join(packageRoot, 'dist', 'ui'), { recursive: true });
  for (const f of ['index.html', 'app.js', 'style.css']) copyFileSync(join(packageRoot, 'src', 'ui', f), join(packageRoot, 'dist', 'ui', f));
  const changed = stale(join(packageRoot, 'src'));
  if (!changed) return;
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: packageRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dist/ is older than ${relative(packageRoot, changed)} and tsc failed:\n${r.stdout}${r.stderr}`);
}
