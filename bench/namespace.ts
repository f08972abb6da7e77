// bench/namespace: what the VM hook costs. vt-bench.exe times each operation (median
// microseconds) on the host and inside a VM, alternating, in the same run and prefix;
// the ratios VM / host are the result. Aim: <= 1.10 for object calls, <= 1.30 for
// process creation (a VM child also gets the hook injected).
// Usage: npx tsx bench/namespace.ts [--json]
import { openDb } from '../src/state/db.js';
import { Vms } from '../src/vm/ops.js';
import { dbVmStore } from '../src/vm/store.js';
import { nativeExe, openTestHost } from '../test/helpers.js';
import { report, round, say } from './lib.js';

type Result = Record<'createMutex' | 'openMutex' | 'openPipe' | 'createProcess', number>;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const iterations = Number(process.env.BENCH_ITERATIONS ?? 2000);

const host = await openTestHost('bench-namespace');
const db = openDb(host.paths.stateDb);
try {
  const vms = new Vms(host.backend, dbVmStore(db));
  await vms.create('bench');
  const exe = nativeExe(host.backend, 'vt-bench.exe');
  const parse = (out: string): Result => JSON.parse(out.trim()) as Result;
  const native: Result[] = [];
  const inVm: Result[] = [];
  for (let r = 0; r < rounds; r++) {
    const h = await host.backend.exec([exe, String(iterations)]);
    const v = await vms.run('bench', [exe, String(iterations)]);
    if (h.code || v.code) throw new Error(`vt-bench failed: ${h.stdout}${h.stderr}${v.stdout}${v.stderr}`);
    native.push(parse(h.stdout));
    inVm.push(parse(v.stdout));
  }
  const aims: Record<keyof Result, number> = { createMutex: 1.1, openMutex: 1.1, openPipe: 1.1, createProcess: 1.3 };
  const label: Record<keyof Result, string> = {
    createMutex: 'CreateMutex + CloseHandle',
    openMutex: 'OpenMutex on an existing name',
    openPipe: 'opening a pipe (CreateFile)',
    createProcess: 'process creation (CreateProcess + wait)',
  };
  say(`median of ${rounds} rounds, each the median of ${iterations} operations (process creation: ${Math.floor(iterations / 25) + 1})`);
  say(`${'operation'.padEnd(42)}${'native µs'.padStart(12)}${'in VM µs'.padStart(12)}${'ratio'.padStart(8)}  aim`);
  const figures: Record<string, number> = {};
  for (const k of Object.keys(aims) as (keyof Result)[]) {
    const n = median(native.map((x) => x[k]));
    const v = median(inVm.map((x) => x[k]));
    const ratio = v / n;
    Object.assign(figures, { [`${k}NativeUs`]: round(n, 1), [`${k}VmUs`]: round(v, 1), [`${k}Ratio`]: round(ratio, 3) });
    say(
      `${label[k].padEnd(42)}${n.toFixed(1).padStart(12)}${v.toFixed(1).padStart(12)}${ratio.toFixed(3).padStart(8)}  <= ${aims[k].toFixed(2)} ${ratio <= aims[k] ? 'ok' : 'MISSED'}`,
    );
  }
  report({ bench: 'namespace', rounds, iterations, ...figures });
} finally {
  db.close();
  await host.dispose();
}
