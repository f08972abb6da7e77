// The Wine prefix svcdup manages: template, clones, and a clear error without Wine.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clonePrefix, unsharePrefix } from '../src/backend/prefix.js';
import { findWine, WineMissingError } from '../src/backend/wine.js';
import { packageRoot } from '../src/config.js';
import { templateDir, testRoot } from './helpers.js';

describe('prefix clone', () => {
  it('hard-links system binaries, copies what Wine writes, and unshares on demand', async () => {
    const dest = join(testRoot, `clone-${process.pid}`);
    rmSync(dest, { recursive: true, force: true });
    const { linked, copied } = await clonePrefix(templateDir, dest);
    try {
      expect(linked).toBeGreaterThan(500);
      expect(copied).toBeGreaterThan(0);
      const dll = join(dest, 'drive_c/windows/system32/kernel32.dll');
      expect(statSync(dll).ino).toBe(statSync(join(templateDir, 'drive_c/windows/system32/kernel32.dll')).ino);
      // the registry is private: writing it must not reach the template
      const reg = join(dest, 'system.reg');
      expect(statSync(reg).ino).not.toBe(statSync(join(templateDir, 'system.reg')).ino);
      writeFileSync(reg, 'changed');
      expect(readFileSync(join(templateDir, 'system.reg'), 'utf8')).not.toBe('changed');
      expect(existsSync(join(dest, 'dosdevices/c:/windows'))).toBe(true);
      const n = await unsharePrefix(dest);
      expect(n).toBe(linked);
      expect(statSync(dll).ino).not.toBe(statSync(join(templateDir, 'drive_c/windows/system32/kernel32.dll')).ino);
    } finally {
      rmSync(dest, { recursive: true, force: true });
    }
  });
});

describe('without Wine', () => {
  it('findWine names what it looked for and how to install Wine', () => {
    expect(() => findWine({ SVCDUP_WINE: '/nonexistent/wine64', PATH: '' })).toThrow(WineMissingError);
    expect(() => findWine({ SVCDUP_WINE: '/nonexistent/wine64', PATH: '' })).toThrow(/apt-get install wine64/);
  });

  it('the CLI fails with that message and exit code 3, and doctor reports it', () => {
    const env = { ...process.env, SVCDUP_WINE: '/nonexistent/wine64', SVCDUP_HOME: join(testRoot, 'nowine') };
    const r = spawnSync('node', [join(packageRoot, 'dist/cli.js'), 'services'], { env, encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^svcdup: Wine is not installed \(looked for \/nonexistent\/wine64\)/);
    const d = spawnSync('node', [join(packageRoot, 'dist/cli.js'), 'doctor', '--json'], { env, encoding: 'utf8' });
    expect(d.status).toBe(1);
    const report = JSON.parse(d.stdout) as { ok: boolean; checks: { name: string; ok: boolean; detail: string }[] };
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'backend')?.detail).toMatch(/Wine is not installed/);
  });
});
