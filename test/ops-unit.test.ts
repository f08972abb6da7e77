// Limits as given (units, bounds, the hook's value text) and the stats arithmetic: pure.
import { describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { limitsFromValueText, limitsText, limitsValueText, parseLimits } from '../src/ops/limits.js';
import { DupLogKeeper, dupLogPath, readDupLog, vmLogsDir } from '../src/ops/logs.js';
import { processesOf, sampleStats, type StatsSample, withCpuPercent } from '../src/ops/stats.js';
import type { HostBackend, JobProcessStats, ServiceStatus } from '../src/backend/types.js';
import { openDb } from '../src/state/db.js';
import { insertDuplicate } from '../src/state/duplicates.js';
import { insertVm } from '../src/state/vms.js';
import { parsePort } from '../src/cli/serve.js';

const host = { memoryBytes: 8 * 2 ** 30, cpus: 4, maxProcesses: 32768 };

describe('limits as given', () => {
  it('sizes with binary units, CPUs to a thousandth, whole process counts', () => {
    expect(parseLimits({ memory: '512m', cpus: '1.5', processes: '10' }, host)).toEqual({ memory: 512 * 2 ** 20, cpus: 1.5, processes: 10 });
    expect(parseLimits({ memory: '1G' }, host).memory).toBe(2 ** 30);
    expect(parseLimits({ memory: '100MiB' }, host).memory).toBe(100 * 2 ** 20);
    expect(parseLimits({ memory: 209715200 }, host).memory).toBe(209715200);
    expect(parseLimits({}, host)).toEqual({});
  });

  it.each([
    [{ memory: '12x' }, '--memory "12x": not a size'],
    [{ memory: '0' }, '--memory 0: must be more than 0'],
    [{ memory: '-1g' }, 'not a size'],
    [{ memory: '1k' }, 'too little'],
    [{ memory: '9g' }, "more than this host's memory (8.0G)"],
    [{ cpus: '0' }, '--cpus 0: must be more than 0'],
    [{ cpus: '0.0001' }, 'not a number of CPUs'],
    [{ cpus: '5' }, "more than this host's 4 CPUs"],
    [{ processes: '0' }, 'at least 1'],
    [{ processes: '-3' }, 'not a whole number'],
    [{ processes: '40000' }, 'more than this host allows (32768)'],
  ])('%j is refused: %s', (given, says) => {
    expect(() => parseLimits(given, host)).toThrow(says);
  });

  it('the fleet file names its own fields in errors', () => {
    expect(() => parseLimits({ memory: 'lots' }, host, { memory: 'memory', cpus: 'cpus', processes: 'processes' })).toThrow(/^memory "lots"/);
  });

  it("the hook's Limits value: a name=value line each, CPUs in thousandths", () => {
    expect(limitsValueText({ processes: 3, memory: 104857600, cpus: 0.5, cgroups: ['/sys/fs/cgroup/memory/x/vm'] })).toBe(
      'processes=3\nmemory=104857600\ncpus=500\ncgroup=/sys/fs/cgroup/memory/x/vm',
    );
    expect(limitsText({ memory: 104857600, processes: 3 })).toBe('memory 100M, processes 3');
    expect(limitsText(undefined)).toBe('-');
  });

  it('the Limits value read back (svcdup repair) is what was written', () => {
    const l = { processes: 3, memory: 104857600, cpus: 0.5, cgroups: ['/sys/fs/cgroup/memory/x/vm', '/sys/fs/cgroup/cpu/x/vm'] };
    expect(limitsFromValueText(limitsValueText(l))).toEqual(l);
    expect(limitsFromValueText('memory=8388608\r\n\nbogus')).toEqual({ memory: 8388608 });
  });
});

describe('log time marks and --since', () => {
  it('the part written since a time, cut to whole lines; rotation copies the log and empties it in place', () => {
    const home = mkdtempSync(join(tmpdir(), 'svcdup-logs-'));
    try {
      mkdirSync(vmLogsDir(home, 'v'), { recursive: true });
      const log = dupLogPath(home, 'v', 'svc');
      const keeper = new DupLogKeeper(home, 4096);
      writeFileSync(log, 'one\ntwo\n');
      expect(keeper.look('v', 'svc', 1000)).toBeUndefined(); // first look: a size, no mark yet
      appendFileSync(log, 'three\nfou');
      keeper.look('v', 'svc', 2000); // marks 2000: 18 bytes
      appendFileSync(log, 'r\nfive\n');
      keeper.look('v', 'svc', 3000);
      expect(readDupLog(home, 'v', 'svc', new Date(0))?.text).toBe('one\ntwo\nthree\nfour\nfive\n');
      // since 2500: from the 2000 mark, in the middle of "four": from the next whole line
      expect(readDupLog(home, 'v', 'svc', new Date(2500))?.text).toBe('five\n');
      expect(readDupLog(home, 'v', 'svc', new Date(Date.now() + 60_000))?.text).toBe('');
      appendFileSync(log, 'x'.repeat(5000));
      expect(keeper.look('v', 'svc', 4000)).toBe('rotated');
      expect(statSync(log).size).toBe(0);
      expect(readFileSync(`${log}.1`, 'utf8')).toMatch(/^one\n.*five\nx{5000}$/s);
      appendFileSync(log, 'six\n');
      expect(readDupLog(home, 'v', 'svc')?.text).toMatch(/x{5000}six\n$/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

const proc = (pid: number, ppid: number, cpuMs = 0): JobProcessStats => ({
  pid,
  ppid,
  image: 'x.exe',
  cpuMs,
  privateBytes: 0,
  workingSetBytes: 0,
  threads: 1,
  handles: 1,
  readBytes: 0,
  writeBytes: 0,
});

describe('stats arithmetic', () => {
  it("a duplicate's processes: the image (direct) or svcdup-host's child (relayed), and their descendants", () => {
    const procs = [proc(100, 8), proc(104, 100), proc(108, 104), proc(200, 50), proc(204, 8)];
    expect(processesOf(100, procs).map((p) => p.pid)).toEqual([100, 104, 108]);
    expect(processesOf(50, procs).map((p) => p.pid)).toEqual([200]);
    expect(processesOf(0, procs)).toEqual([]);
    // a ppid loop does not hang
    expect(processesOf(1, [proc(300, 304), proc(304, 300)])).toEqual([]);
  });

  it('CPU % of one CPU between two samples', () => {
    const vm = (cpuMs: number) => ({
      vm: 'a',
      source: 'processes' as const,
      ioSource: 'none' as const,
      cpuMs,
      privateBytes: 0,
      workingSetBytes: 0,
      processes: 1,
      threads: 1,
      handles: 1,
      readBytes: 0,
      writeBytes: 0,
      duplicates: [],
    });
    const prev: StatsSample = { at: 1000, vms: [vm(100)] };
    const cur: StatsSample = { at: 3000, vms: [vm(1100)] };
    expect(withCpuPercent(cur, prev).vms[0]!.cpuPercent).toBe(50);
  });
});

describe("a series of samples and the SCM's service list", () => {
  it('is asked once while no VM process, duplicate name or pending state changes; again at each change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'svcdup-stats-'));
    const db = openDb(join(dir, 'state.db'));
    try {
      insertVm(db, { name: 'a', policy: '' });
      insertDuplicate(db, { vm: 'a', service: 'svc', scmName: 'svcdup.a.svc', plan: {} });
      // what the host answers: the job's member pids and the SCM's state and pid of the duplicate
      let pids = [100];
      let state: ServiceStatus['state'] = 'RUNNING';
      let scmAsked = 0;
      const backend = {
        call: async (op: string) => {
          if (op === 'job.stats') return { vms: [{ vm: 'a', processes: pids.map((pid) => proc(pid, 8)) }] };
          scmAsked += 1;
          return [
            { name: 'svcdup.a.svc', type: 16, state, pid: pids[0] ?? 0, controlsAccepted: 0, win32ExitCode: 0, serviceExitCode: 0, checkpoint: 0, waitHint: 0 },
          ];
        },
      } as unknown as HostBackend;
      let prev = await sampleStats(backend, db);
      const next = async () => (prev = await sampleStats(backend, db, { prev }));
      await next();
      await next();
      expect(scmAsked).toBe(1);
      expect(prev.vms[0]!.duplicates[0]).toMatchObject({ state: 'RUNNING', pid: 100, processes: 1 });
      // the duplicate restarted: a new process, so the SCM is asked and its new pid seen
      pids = [104];
      await next();
      expect(scmAsked).toBe(2);
      expect(prev.vms[0]!.duplicates[0]).toMatchObject({ pid: 104, processes: 1 });
      // a pending state is asked again until it settles
      state = 'STOP_PENDING';
      pids = [];
      await next();
      await next();
      expect(scmAsked).toBe(4);
      state = 'STOPPED';
      await next();
      await next();
      expect(scmAsked).toBe(5);
      expect(prev.vms[0]!.duplicates[0]).toMatchObject({ state: 'STOPPED', pid: 0, processes: 0 });
      // a new duplicate
      insertDuplicate(db, { vm: 'a', service: 'other', scmName: 'svcdup.a.other', plan: {} });
      await next();
      expect(scmAsked).toBe(6);
      // a one-off sample (no prev) always asks
      await sampleStats(backend, db);
      expect(scmAsked).toBe(7);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--port of ui and metrics', () => {
  it('a port number from 0 to 65535, the default when not given, one line naming a bad value', () => {
    expect(parsePort(undefined, 9477)).toBe(9477);
    expect(parsePort('0', 9477)).toBe(0);
    expect(parsePort('65535', 0)).toBe(65535);
    for (const bad of ['65536', '-1', '1.5', 'abc', '']) expect(() => parsePort(bad, 0)).toThrow(`--port ${bad}: a TCP port number from 0 to 65535`);
  });
});
