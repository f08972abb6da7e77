// Running duplicates the way containers are run (docs/operate.md): stats and limits under Wine,
// with real processes (native/tests/optest/op-probe.c) in real VMs, driven through the CLI.
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config.js';
import { listEvents, type SvcdupEvent } from '../src/state/events.js';
import { openDb } from '../src/state/db.js';
import { getVm } from '../src/state/vms.js';
import type { StatsSample } from '../src/ops/stats.js';
import { cliFor } from './cli-helpers.js';
import { nativeDir, nativeExe, openTestHost, testEnv, type TestHost } from './helpers.js';
import parsePrometheus from 'parse-prometheus-text-format';

let host: TestHost;
const { cli, cliJson } = cliFor(() => host.paths);
const probe = join(nativeDir, 'op-probe.exe');
const running: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `svcdup run --vm VM -- op-probe ARGS` in the background; resolves with its first JSON line (or its exit). */
function runProbe(vm: string, args: string[]): { child: ChildProcess; first: Promise<Record<string, number>>; exit: Promise<number | null> } {
  const child = spawn('node', [join(packageRoot, 'dist/cli.js'), 'run', '--vm', vm, '--', probe, ...args], { env: testEnv(host.paths) });
  running.push(child);
  let out = '';
  const first = new Promise<Record<string, number>>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0]!;
      if (out.includes('\n')) resolve(JSON.parse(line) as Record<string, number>);
    });
    child.on('exit', (code) => reject(new Error(`op-probe ${args.join(' ')} ended (${code}) before a line: ${out}`)));
  });
  first.catch(() => {});
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  return { child, first, exit };
}

const vmStats = (vm: string) => cliJson<StatsSample>(['stats', '--vm', vm]).vms[0]!;
const psOf = (vm: string) => cliJson<{ pid: number }[]>(['ps', '--vm', vm]);

const SVC = 'svcdup-testsvc';
const SVC2 = 'svcdup-ops2';
const SVC3 = 'svcdup-ops3';
const IMAGE = 'C:\\svcdup-ops\\svcdup-testsvc.exe';

// the memory limit is held by cgroup v1 under Wine (docs/operate.md): a host without the controller
// refuses --memory, so its VM and test are left out there, and vitest reports the test as skipped
const cgroupsHere = existsSync('/sys/fs/cgroup/memory/cgroup.procs');
// and --cpus by the cgroup v1 cpu controller (CFS bandwidth)
const cpuHere = existsSync('/sys/fs/cgroup/cpu/cgroup.procs');

beforeAll(async () => {
  host = await openTestHost('ops');
  const b = host.backend;
  mkdirSync(dirname(b.toHostPath(IMAGE)), { recursive: true });
  copyFileSync(b.toHostPath(nativeExe(b, 'svcdup-testsvc.exe')), b.toHostPath(IMAGE));
  await b.call('scm.create', { name: SVC, displayName: 'svcdup test service', imagePath: IMAGE });
  await b.call('scm.create', { name: SVC2, displayName: 'svcdup test service 2', imagePath: `${IMAGE} --name ${SVC2}` });
  await b.call('scm.create', { name: SVC3, displayName: 'svcdup test service 3', imagePath: `${IMAGE} --name ${SVC3}` });
  for (const args of [
    ['a'],
    ...(cgroupsHere ? [['mem', '--memory', '100M']] : []),
    // 'whole' is limited to the whole host: a cgroup of the same weight as 'cpu's, so the two compete as equals
    ...(cpuHere
      ? [
          ['cpu', '--cpus', '0.5'],
          ['whole', '--cpus', String(availableParallelism())],
        ]
      : []),
    ['procs', '--processes', '3'],
    ['logs'],
  ]) {
    const r = cli(['vm', 'create', ...args]);
    expect(r.status, r.stderr).toBe(0);
  }
});
afterAll(async () => {
  for (const c of running) c.kill('SIGKILL');
  try {
    process.kill(Number(readFileSync(join(host.paths.home, 'limits-guard.pid'), 'utf8')), 'SIGKILL');
  } catch {
    /* not started, or gone */
  }
  cli(['host', 'stop']);
  cli(['undup', SVC, '--vm', 'a']);
  cli(['undup', SVC2, '--vm', 'logs']);
  cli(['undup', SVC3, '--vm', 'procs']);
  for (const vm of ['a', 'mem', 'cpu', 'whole', 'procs', 'logs']) cli(['vm', 'rm', vm]);
  await host?.dispose();
});

describe('stats', () => {
  it("a VM's memory grows by what its program allocates, and matches the program's own counters within 10%", async () => {
    const before = vmStats('a');
    expect(before.processes).toBe(0);
    // it stays for the whole file (host stop ends it): the metrics test counts it too
    const p = runProbe('a', ['alloc', '200', '600']);
    const own = await p.first;
    const after = vmStats('a');
    expect(after.processes).toBe(1);
    // private bytes: the commit charge; Wine tells the process itself 0 (PrivateUsage) but the system list has it
    expect(after.privateBytes - before.privateBytes).toBeGreaterThan(200 * 2 ** 20 * 0.95);
    expect(Math.abs(after.workingSetBytes - own.workingSet!) / own.workingSet!).toBeLessThan(0.1);
    expect(after.threads).toBeGreaterThan(0);
    expect(after.handles).toBeGreaterThan(0);
    expect(after.cpuMs).toBeGreaterThan(0);
    expect(after.cpuPercent).toBeTypeOf('number');
  });
});

interface PromFamily {
  name: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

describe('metrics', () => {
  it('/metrics parses as Prometheus text and carries per-VM and per-duplicate state, CPU and memory', async () => {
    // a direct duplicate (the default for the test service); what it says is for the logs test
    for (const args of [
      ['dup', SVC, '--vm', 'a'],
      ['start', SVC, '--vm', 'a', '--', '--say', 'direct line'],
    ]) {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(0);
    }
    const server = spawn('node', [join(packageRoot, 'dist/cli.js'), 'metrics', '--port', '0', '--json'], { env: testEnv(host.paths) });
    running.push(server);
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve((JSON.parse(out) as { url: string }).url);
      });
      server.on('exit', (c) => reject(new Error(`svcdup metrics ended (${c})`)));
    });
    const scrape = async () => {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      return parsePrometheus(await res.text()) as PromFamily[];
    };
    await scrape();
    const families = await scrape();
    const value = (name: string, labels: Record<string, string>) =>
      Number(families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value);
    const stats = vmStats('a');
    const dup = stats.duplicates.find((d) => d.service === SVC)!;
    expect(dup.state).toBe('RUNNING');
    expect(dup.processes).toBeGreaterThanOrEqual(1);
    expect(value('svcdup_duplicate_up', { vm: 'a', service: SVC })).toBe(1);
    expect(value('svcdup_duplicate_state', { vm: 'a', service: SVC, state: 'RUNNING' })).toBe(1);
    expect(value('svcdup_duplicate_processes', { vm: 'a', service: SVC })).toBe(dup.processes);
    expect(value('svcdup_duplicate_working_set_bytes', { vm: 'a', service: SVC })).toBeGreaterThan(1e6);
    expect(value('svcdup_duplicate_cpu_percent', { vm: 'a', service: SVC })).toBeGreaterThanOrEqual(0);
    // restarts: none (no row until the watcher writes one, or 0)
    const restarts = value('svcdup_duplicate_restarts', { vm: 'a', service: SVC });
    expect(Number.isNaN(restarts) || restarts === 0, String(restarts)).toBe(true);
    // VM a holds the 200 MB program of the stats test and the duplicate
    expect(value('svcdup_vm_processes', { vm: 'a' })).toBe(stats.processes);
    expect(value('svcdup_vm_private_bytes', { vm: 'a' })).toBeGreaterThan(200 * 2 ** 20 * 0.95);
    expect(value('svcdup_vm_cpu_seconds', { vm: 'a' })).toBeGreaterThan(0);
    if (cgroupsHere) expect(value('svcdup_vm_memory_limit_bytes', { vm: 'mem' })).toBe(100 * 2 ** 20);
    // the server's samples reuse the SCM's answer while no VM's processes changed (docs/operate.md,
    // "Stats"): the duplicate stopped, then started again (a new process), is seen each time
    for (const [args, up] of [
      [['stop', SVC, '--vm', 'a'], 0],
      [['start', SVC, '--vm', 'a', '--', '--say', 'direct line'], 1],
    ] as const) {
      const r = cli([...args]);
      expect(r.status, r.stderr).toBe(0);
      const fams = await scrape();
      const v = (name: string) => Number(fams.find((f) => f.name === name)?.metrics.find((m) => m.labels?.vm === 'a' && m.labels?.service === SVC)?.value);
      expect(v('svcdup_duplicate_up'), args.join(' ')).toBe(up);
      expect(v('svcdup_duplicate_processes')).toBe(up ? vmStats('a').duplicates.find((d) => d.service === SVC)!.processes : 0);
      if (up) expect(v('svcdup_duplicate_processes')).toBeGreaterThanOrEqual(1);
    }
    server.kill('SIGTERM');
  });
});

describe('logs', () => {
  it('what a relayed duplicate prints to stdout and stderr is kept', () => {
    // in a VM of its own: the test service is a singleton per VM, and VM a holds its direct duplicate
    for (const args of [
      ['dup', SVC2, '--vm', 'logs', '--relayed'],
      ['start', SVC2, '--vm', 'logs', '--', '--say', 'relayed line'],
    ]) {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(0);
    }
    // the image's C runtime writes text mode: CRLF
    const relayed = cliJson<{ text: string }>(['logs', SVC2, '--vm', 'logs', '--tail', '2']);
    expect(relayed.text.replace(/\r\n/g, '\n')).toBe('relayed line\nrelayed line (stderr)\n');
    const none = cli(['logs', 'nosuch', '--vm', 'logs']);
    expect(none.stderr.trim()).toBe('svcdup: nosuch is not duplicated into VM logs');
  });

  it('what a direct duplicate prints to stdout and stderr is kept (its C runtime pointed at the log by the hook)', () => {
    // the direct duplicate the metrics test started in VM a with --say
    const direct = cliJson<{ text: string }>(['logs', SVC, '--vm', 'a', '--tail', '2']);
    expect(direct.text.replace(/\r\n/g, '\n')).toBe('direct line\ndirect line (stderr)\n');
  });

  it("logs --file reads a service's log file through the VM's copy-on-write view", () => {
    const hostLog = host.backend.toHostPath('C:\\svcdup-ops\\app.log');
    writeFileSync(hostLog, 'host line\r\n');
    const read = (vm: string, extra: string[] = []) =>
      cliJson<{ from: string; text: string }>(['logs', '--vm', vm, '--file', 'c:\\SVCDUP-OPS\\App.log', ...extra]);
    expect(read('a')).toMatchObject({ from: 'host', text: 'host line\r\n' });
    // the VM's own write lands in its area (copy-on-write): the VM sees it, the host and another VM do not
    const r = cli(['run', '--vm', 'a', '--', 'cmd.exe', '/c', 'echo vm line>>C:\\svcdup-ops\\app.log']);
    expect(r.status, r.stderr).toBe(0);
    expect(read('a')).toMatchObject({ from: 'vm', text: 'host line\r\nvm line\r\n' });
    expect(read('a', ['--tail', '1']).text).toBe('vm line\r\n');
    expect(readFileSync(hostLog, 'utf8')).toBe('host line\r\n');
    expect(read('procs')).toMatchObject({ from: 'host', text: 'host line\r\n' });
    const missing = cli(['logs', '--vm', 'a', '--file', 'C:\\svcdup-ops\\none.log']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr.trim()).toBe('svcdup: VM a sees no file C:\\svcdup-ops\\none.log');
  });
});

describe('limits', () => {
  it('bad limits: bad units, 0, negative, larger than the host; one line naming the value, no VM made', () => {
    for (const [flag, value, says] of [
      ['--memory', '100X', 'not a size'],
      ['--memory', '-5M', 'not a size'],
      ['--memory', '64T', "more than this host's memory"],
      ['--cpus', '0', 'more than 0'],
      ['--cpus', '4096', "more than this host's"],
      ['--processes', '0', 'at least 1'],
    ] as const) {
      const r = cli(['vm', 'create', 'bad', `${flag}=${value}`]);
      expect(r.status, `${flag} ${value}`).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toContain(value);
      expect(lines[0]).toContain(says);
    }
    expect(cliJson<{ name: string }[]>(['vm', 'ls']).map((v) => v.name)).not.toContain('bad');
  });

  it('--processes 3 refuses the 4th process of the VM', async () => {
    // op-probe is the 1st; its children the 2nd and 3rd; the 4th is refused (ERROR_NOT_ENOUGH_QUOTA)
    // they sleep 30 s, so a loaded machine still finds all three; then they are ended, since the
    // VM's later duplicate needs its process slots back
    const p = runProbe('procs', ['spawn', '5', '30']);
    expect(await p.first).toEqual({ started: 2, error: 1816 });
    const three = psOf('procs');
    expect(three).toHaveLength(3);
    for (const { pid } of three) await host.backend.call('proc.kill', { pid });
    await p.exit;
  });

  it.skipIf(!cpuHere)(
    '--cpus 0.5 holds a busy VM to half a core; the same loop in a VM limited only to the whole host, beside it, gets more when the machine has room',
    async () => {
      const db = openDb(host.paths.stateDb);
      const dir = getVm(db, 'cpu')!.limits!.cgroups!.find((d) => d.includes('/cpu/'))!;
      db.close();
      expect(readFileSync(join(dir, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('50000');
      const cpuStat = () =>
        Object.fromEntries(
          readFileSync(join(dir, 'cpu.stat'), 'utf8')
            .trim()
            .split('\n')
            .map((l) => [l.split(' ')[0]!, Number(l.split(' ')[1])]),
        ) as Record<string, number>;
      const s0 = cpuStat();
      // four threads spinning for 4 s in each VM at once (unlimited, they could take both cores);
      // each reports the CPU its process got over its own wall time. The other VM's loop runs in a
      // cgroup too: against a VM without one, each of its threads would weigh as much as the whole
      // capped cgroup, and hold it under its quota (0.4 of 2 cores) without the kernel throttling it
      const [capped, free] = await Promise.all([runProbe('cpu', ['busy', '4', '4']).first, runProbe('whole', ['busy', '4', '4']).first]);
      const s1 = cpuStat();
      const share = (r: Record<string, number>) => r.cpuMs! / r.wallMs!;
      // the busy VM ran under its cgroup's bandwidth control: the kernel counted the 100 ms periods it was runnable in
      expect(s1.nr_periods! - s0.nr_periods!).toBeGreaterThan(20);
      // the cap holds under any load (50 ms per 100 ms period); a little over for the periods' edges
      expect(share(capped)).toBeLessThanOrEqual(0.55);
      expect(share(capped)).toBeGreaterThan(0.02);
      // how much the other one gets is the other helpers' load's doing: that it ran, and, when the
      // machine had room for more than the cap, that it got more while the kernel held the capped one
      // back (the two cgroups weigh the same, so the capped one was offered as much, over its quota)
      expect(share(free)).toBeGreaterThan(0.02);
      if (share(free) > 0.6) {
        expect(share(free)).toBeGreaterThan(share(capped));
        expect(s1.nr_throttled!).toBeGreaterThan(s0.nr_throttled!);
      }
    },
  );

  it.skipIf(!cgroupsHere)('a VM over --memory 100M has its processes ended and a limit event says why; another VM is untouched', async () => {
    const db = openDb(host.paths.stateDb);
    try {
      const dir = getVm(db, 'mem')!.limits!.cgroups![0]!;
      expect(readFileSync(join(dir, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(100 * 2 ** 20));
      const other = runProbe('a', ['alloc', '50', '600']);
      await other.first;
      const idle = runProbe('mem', ['alloc', '10', '60']);
      await idle.first;
      expect(psOf('mem')).toHaveLength(1);
      const hog = runProbe('mem', ['alloc', '300', '60']);
      await hog.exit;
      let events = listEvents(db, { vm: 'mem' }).filter((e) => e.kind === 'limit');
      for (let i = 0; i < 40 && (events.length === 0 || psOf('mem').length > 0); i++) {
        await sleep(250);
        events = listEvents(db, { vm: 'mem' }).filter((e) => e.kind === 'limit');
      }
      expect(events).toHaveLength(1);
      expect(events[0]!.detail).toMatchObject({ limit: 'memory', value: 100 * 2 ** 20 });
      expect(psOf('mem')).toEqual([]);
      // its other process ended too (Wine reports a SIGKILLed process's exit code as 0: only its end is checked)
      await idle.exit;
      // VM a's program is still there
      expect(psOf('a').length).toBeGreaterThanOrEqual(1);
      expect(other.child.exitCode).toBeNull();
    } finally {
      db.close();
    }
  });
});

describe('logs of a running duplicate', () => {
  it('a chatty duplicate over the rotation size is rotated while it runs; --tail reads the newest lines, --since the recent ones, -f goes on across the rotation', async () => {
    // the watcher rotates (docs/operate.md): started here with a 16 KiB size; the duplicate prints ~8 KB/s
    const started = new Date();
    for (const [args, env] of [
      [['host', 'start'], { SVCDUP_LOG_MAX: '16k' }],
      [['dup', SVC3, '--vm', 'procs'], {}],
      [['start', SVC3, '--vm', 'procs', '--', '--chatter', '10'], {}],
    ] as const) {
      const r = cli([...args], env);
      expect(r.status, r.stderr).toBe(0);
    }
    const log = join(host.paths.home, 'logs', 'procs', `${SVC3}.log`);
    const follower = spawn('node', [join(packageRoot, 'dist/cli.js'), 'logs', SVC3, '--vm', 'procs', '-f'], { env: testEnv(host.paths) });
    running.push(follower);
    let followed = '';
    follower.stdout.on('data', (d: Buffer) => {
      followed += d.toString();
    });
    // a rotation while -f follows
    for (let i = 0; i < 80 && !followed.includes('\n'); i++) await sleep(250);
    const rotatedAt = () => (existsSync(`${log}.1`) ? statSync(`${log}.1`).mtimeMs : 0);
    const before = rotatedAt();
    for (let i = 0; i < 80 && rotatedAt() === before; i++) await sleep(250);
    expect(rotatedAt(), 'rotated within 20 s').not.toBe(before);
    await sleep(1500);
    // the image went on appending at the emptied file's end (not at its old offset, which would leave NULs)
    const nums = (text: string) => [...text.matchAll(/chatter (\d+)/g)].map((m) => Number(m[1]));
    expect(readFileSync(log, 'latin1')).not.toContain('\0');
    // stopped: what follows reads files that no longer change
    const stop = cli(['stop', SVC3, '--vm', 'procs']);
    expect(stop.status, stop.stderr).toBe(0);
    // the lines written after the watcher's last look may have taken the log over the size: its
    // next look rotates it once more (one rotated file kept), so the files are read after that look
    for (let i = 0; i < 40 && statSync(log).size > 16 * 1024; i++) await sleep(250);
    await sleep(300);
    const rotated = nums(readFileSync(`${log}.1`, 'latin1'));
    expect(statSync(`${log}.1`).size).toBeGreaterThan(16 * 1024);
    const all = nums(cliJson<{ text: string }>(['logs', SVC3, '--vm', 'procs']).text);
    expect(all).toEqual(all.map((_, i) => all[0]! + i));
    const newest = nums(cliJson<{ text: string }>(['logs', SVC3, '--vm', 'procs', '--tail', '1']).text);
    expect(newest).toEqual([all.at(-1)]);
    // (in the rotated file when the last look rotated what the stop left over the size)
    expect(newest[0]).toBeGreaterThanOrEqual(Math.max(...rotated));
    // --since: from before the start, everything; from a second ago (nothing printed since the stop), nothing
    expect(nums(cliJson<{ text: string }>(['logs', SVC3, '--vm', 'procs', '--since', started.toISOString()]).text)).toEqual(all);
    await sleep(1000);
    expect(cliJson<{ text: string }>(['logs', SVC3, '--vm', 'procs', '--since', '1s']).text).toBe('');
    const bad = cli(['logs', SVC3, '--vm', 'procs', '--since', 'yesterday']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('yesterday');
    // -f printed every line once, in order, across the rotation, up to the last one
    for (let i = 0; i < 20 && nums(followed).at(-1) !== newest[0]; i++) await sleep(250);
    follower.kill('SIGTERM');
    const seen = nums(followed);
    expect(seen.at(-1)).toBe(newest[0]);
    expect(seen).toEqual(seen.map((_, i) => seen[0]! + i));
    expect(seen[0]).toBeLessThanOrEqual(rotated[0]!);
  });
});

describe('a VM moved or rebuilt keeps its limits and logs', () => {
  it.skipIf(!cgroupsHere)('vm export + vm import of a --memory VM: the limit is set in its own cgroup; svcdup repair rebuilds the record with it', () => {
    const archive = join(host.paths.home, 'mem.svcdup.tgz');
    for (const args of [
      ['vm', 'export', 'mem', '-o', archive],
      ['vm', 'import', archive, '--as', 'mem2', '--ip', '127.77.250.1'],
    ]) {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(0);
    }
    const db = openDb(host.paths.stateDb);
    try {
      const limits = getVm(db, 'mem2')!.limits!;
      expect(limits.memory).toBe(100 * 2 ** 20);
      // its own cgroup (this home's, named for mem2), with the limit written by the kernel's interface
      const dir = limits.cgroups![0]!;
      expect(dir).toMatch(/\/mem2$/);
      expect(dir).not.toBe(getVm(db, 'mem')!.limits!.cgroups![0]);
      expect(readFileSync(join(dir, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(100 * 2 ** 20));
      // repair: a record lost, rebuilt from the VM's key with the same limits
      db.prepare(`DELETE FROM vm WHERE name = 'mem2'`).run();
      const r = cli(['repair']);
      expect(r.status, r.stderr).toBe(0);
      expect(getVm(db, 'mem2')!.limits).toEqual(limits);
    } finally {
      db.close();
    }
    // its logs folder is this home's (the Logs value the hook reads), and goes with the VM
    expect(existsSync(join(host.paths.home, 'logs', 'mem2'))).toBe(true);
    const r = cli(['vm', 'rm', 'mem2']);
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('events', () => {
  it('events --json lists what happened to VMs and duplicates, in order, whoever caused it', () => {
    for (const args of [
      ['vm', 'create', 'ev'],
      ['vm', 'rm', 'ev'],
    ]) {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(0);
    }
    const events = cliJson<SvcdupEvent[]>(['events']);
    expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((x, y) => x - y));
    const of = (vm: string) => events.filter((e) => e.vm === vm).map((e) => `${e.kind}${e.service ? ` ${e.service}` : ''}`);
    // VM procs: made by beforeAll, its duplicate made, started and stopped by the rotation test
    expect(of('procs')).toEqual(['vm-created', `created ${SVC3}`, `started ${SVC3}`, `stopped ${SVC3}`]);
    expect(of('ev')).toEqual(['vm-created', 'vm-removed']);
    expect(events.find((e) => e.vm === 'procs' && e.kind === 'vm-created')!.detail).toMatchObject({ by: 'svcdup', limits: 'processes 3' });
    if (cgroupsHere) expect(of('mem')).toEqual(['vm-created', 'limit']);
  });
});
