// The operation journal under real kills: whatever step svcdup dies in, the next run
// finds either the whole operation or none of it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config.js';
import { openDb } from '../src/state/db.js';
import { Journal, type StepKinds } from '../src/state/journal.js';
import { ownerOf, WriterLock } from '../src/state/lock.js';
import { testRoot } from './helpers.js';

const fileKinds: StepKinds<null> = {
  'file.write': {
    async apply(_c, a: { path: string; fail?: boolean }) {
      if (a.fail) throw new Error('disk full');
      writeFileSync(a.path, 'x');
    },
    async undo(_c, a: { path: string }) {
      if (existsSync(a.path)) rmSync(a.path);
    },
  },
};

/** Like CreateService: fails whole when the name is taken, and the undo deletes by name. */
const createKinds: StepKinds<null> = {
  ...fileKinds,
  'file.create': {
    atomic: true,
    async apply(_c, a: { path: string }) {
      if (existsSync(a.path)) throw new Error('exists');
      writeFileSync(a.path, 'mine');
    },
    async undo(_c, a: { path: string }) {
      if (existsSync(a.path)) rmSync(a.path);
    },
  },
};

const N = 4;

describe('journal', () => {
  it('rolls back the applied steps when a step fails, and records why', async () => {
    const dir = join(testRoot, `journal-fail-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const j = new Journal(openDb(join(dir, 'state.db')), fileKinds);
    await expect(
      j.run('test', 'files', null, async (step) => {
        await step('file.write', { path: join(dir, 'a') });
        await step('file.write', { path: join(dir, 'b') });
        await step('file.write', { path: join(dir, 'c'), fail: true });
      }),
    ).rejects.toThrow('disk full');
    expect(readdirSync(dir).filter((f) => !f.startsWith('state.db'))).toEqual([]);
    const [e] = j.entries();
    expect(e).toMatchObject({ status: 'rolled-back', error: 'disk full' });
    expect(j.steps(e!.id).map((s) => s.status)).toEqual(['undone', 'undone', 'undone']);
    rmSync(dir, { recursive: true, force: true });
  });

  for (let k = 0; k < N; k++) {
    for (const phase of ['before', 'after'] as const) {
      it(`a process killed ${phase} applying step ${k} of ${N} is rolled back by the next run`, () => {
        const dir = join(testRoot, `journal-kill-${process.pid}-${k}-${phase}`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        const db = join(dir, 'state.db');
        const r = spawnSync('node', ['--import', 'tsx', join(packageRoot, 'test/fixtures/journal-child.ts'), db, dir, String(N), String(k), phase], {
          cwd: packageRoot,
          encoding: 'utf8',
        });
        expect(r.signal).toBe('SIGKILL');
        const written = readdirSync(dir).filter((f) => /^f\d$/.test(f)).length;
        expect(written).toBe(phase === 'before' ? k : k + 1);
        const j = new Journal(openDb(db), fileKinds);
        expect(j.pending()).toBe(true);
        return j.recover(null).then((rep) => {
          expect(rep.rolledBack).toHaveLength(1);
          expect(rep.failed).toHaveLength(0);
          expect(readdirSync(dir).filter((f) => /^f\d$/.test(f))).toEqual([]);
          expect(j.pending()).toBe(false);
          rmSync(dir, { recursive: true, force: true });
        });
      });
    }
  }

  // What survives a power loss cannot be tested by a kill; what is synced can be observed:
  // the fsyncs of a real process (strace). One per step's record, none for the marks.
  // skipped where strace is missing or may not trace (no ptrace in some containers)
  it.skipIf(spawnSync('strace', ['-qq', '-o', '/dev/null', 'true']).status !== 0)(
    'each step costs one sync to the disk, its record (the write-ahead part), not its mark',
    () => {
      const syncs = (steps: number): number => {
        const dir = join(testRoot, `journal-sync-${process.pid}-${steps}`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        const out = join(dir, 'strace.txt');
        const child = join(packageRoot, 'test/fixtures/journal-child.ts');
        const r = spawnSync(
          'strace',
          ['-f', '-qq', '-e', 'trace=fsync,fdatasync', '-o', out, 'node', '--import', 'tsx', child, join(dir, 'state.db'), dir, String(steps), '-1', 'before'],
          {
            cwd: packageRoot,
            encoding: 'utf8',
          },
        );
        expect(r.status).toBe(0);
        const n = readFileSync(out, 'utf8')
          .split('\n')
          .filter((l) => /\b(fsync|fdatasync)\(/.test(l)).length;
        rmSync(dir, { recursive: true, force: true });
        return n;
      };
      expect(syncs(8) - syncs(4)).toBe(4);
    },
    60_000,
  );

  it('a batch is recorded whole, applied at once, and rolled back whole when one of its steps fails', async () => {
    const dir = join(testRoot, `journal-batch-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const j = new Journal(openDb(join(dir, 'state.db')), fileKinds);
    const f = (n: string, batch?: number, fail = false) => ({
      kind: 'file.write',
      args: { path: join(dir, n), fail },
      ...(batch === undefined ? {} : { batch }),
    });
    await expect(j.runSteps('test', 'batch', null, [f('a'), f('b', 0), f('c', 0), f('d', 0, true), f('e')])).rejects.toThrow('disk full');
    expect(readdirSync(dir).filter((n) => !n.startsWith('state.db'))).toEqual([]);
    const [e] = j.entries();
    // the step after the failed batch was never recorded
    expect(j.steps(e!.id).map((s) => `${s.seq}:${s.status}`)).toEqual(['0:undone', '1:undone', '2:undone', '3:undone']);
    await j.runSteps('test', 'batch', null, [f('a'), f('b', 0), f('c', 0), f('e')]);
    expect(
      readdirSync(dir)
        .filter((n) => !n.startsWith('state.db'))
        .sort(),
    ).toEqual(['a', 'b', 'c', 'e']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a failed atomic step is not undone: what holds its name stays, the rest is rolled back', async () => {
    const dir = join(testRoot, `journal-atomic-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'taken'), 'theirs');
    const j = new Journal(openDb(join(dir, 'state.db')), createKinds);
    for (const batch of [undefined, 0]) {
      const b = batch === undefined ? {} : { batch };
      await expect(
        j.runSteps('test', 'atomic', null, [
          { kind: 'file.write', args: { path: join(dir, 'a') }, ...b },
          { kind: 'file.create', args: { path: join(dir, 'taken') }, ...b },
        ]),
      ).rejects.toThrow('exists');
      expect(readdirSync(dir).filter((n) => !n.startsWith('state.db'))).toEqual(['taken']);
      expect(readFileSync(join(dir, 'taken'), 'utf8')).toBe('theirs');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('a completed operation is left alone by recovery', async () => {
    const dir = join(testRoot, `journal-done-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const j = new Journal(openDb(join(dir, 'state.db')), fileKinds);
    await j.run('test', 'files', null, async (step) => step('file.write', { path: join(dir, 'a') }));
    expect(await j.recover(null)).toEqual({ rolledBack: [], failed: [] });
    expect(existsSync(join(dir, 'a'))).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('owners and the writer lock', () => {
  it("recovery leaves a live owner's operation alone (stopped too) and rolls it back once the owner is dead", async () => {
    const dir = join(testRoot, `journal-owner-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const owner = spawn('sleep', ['60'], { stdio: 'ignore' });
    const db = openDb(join(dir, 'state.db'));
    // the operation runs on behalf of that process: one step applied, the next never ends
    const theirs = new Journal(db, { ...fileKinds, hang: { apply: () => new Promise<void>(() => {}), undo: async () => {} } }, ownerOf(owner.pid!));
    void theirs.run('test', 'files', null, async (step) => {
      await step('file.write', { path: join(dir, 'a') });
      await step('hang', {});
    });
    await new Promise((r) => setTimeout(r, 50));
    const mine = new Journal(openDb(join(dir, 'state.db')), { ...fileKinds, hang: { apply: async () => {}, undo: async () => {} } });
    expect(mine.pending()).toBe(false);
    expect(await mine.recover(null)).toEqual({ rolledBack: [], failed: [] });
    owner.kill('SIGSTOP');
    expect(await mine.recover(null)).toEqual({ rolledBack: [], failed: [] });
    expect(existsSync(join(dir, 'a'))).toBe(true);
    owner.kill('SIGKILL');
    await new Promise((r) => owner.once('exit', r));
    const rep = await mine.recover(null);
    expect(rep.rolledBack.map((e) => e.owner?.pid)).toEqual([owner.pid]);
    expect(existsSync(join(dir, 'a'))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('one writer at a time: a second waits (bounded) while the holder lives or is stopped, and gets the lock when it is killed', async () => {
    const home = join(testRoot, `lock-${process.pid}`);
    rmSync(home, { recursive: true, force: true });
    const holder = spawn('node', ['--import', 'tsx', join(packageRoot, 'test/fixtures/lock-child.ts'), home], {
      cwd: packageRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    await expect(WriterLock.acquire(home, { waitMs: 0, what: 'test' })).rejects.toThrow(
      /another svcdup command is changing this host \(pid \d+: svcdup test holder.*--no-wait/,
    );
    holder.kill('SIGSTOP');
    let told = '';
    const t0 = Date.now();
    await expect(WriterLock.acquire(home, { waitMs: 500, what: 'test', onWait: (h) => (told = h) })).rejects.toThrow(/gave up after/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect(told).toContain(`pid ${holder.pid}`);
    // a waiter already waiting gets it as soon as the holder dies
    const waiting = WriterLock.acquire(home, { waitMs: 10_000, what: 'test' });
    setTimeout(() => holder.kill('SIGKILL'), 300);
    const lock = await waiting;
    lock.release();
    rmSync(home, { recursive: true, force: true });
  });
});
