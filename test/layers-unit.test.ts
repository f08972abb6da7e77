// Arrows point down: a module imports only from its own layer or the layers below it
// (docs/design.md, "Where things happen: the control plane"). A new upward import fails here.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config.js';

const SRC = join(packageRoot, 'src');
/** Bottom first. A path is matched by its first part under src/ (a folder, or a top-level file). */
const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'config.ts'],
  ['backend', 'state', 'pe', 'services.ts'],
  ['net', 'plan'],
  ['vm', 'ops'],
  ['analyze', 'dup', 'portable'],
  ['fleet', 'ui', 'watch', 'cluster'],
  ['cli', 'cli.ts', 'index.ts'],
];

const layerOf = (file: string): number => {
  const top = relative(SRC, file).split(/[\\/]/)[0]!;
  const i = LAYERS.findIndex((l) => l.includes(top));
  if (i < 0) throw new Error(`${relative(SRC, file)}: no layer for ${top} in test/layers-unit.test.ts`);
  return i;
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('layers', () => {
  it('no module of src/ imports from a higher layer', () => {
    const up: string[] = [];
    for (const file of sources(SRC)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from '(\.[^']+)'/gm)) {
        const target = resolve(dirname(file), m[1]!).replace(/\.js$/, '.ts');
        if (layerOf(target) > layerOf(file)) up.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
    }
    expect(up).toEqual([]);
  });
});
