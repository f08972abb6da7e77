// bench/analyze: how long `svcdup analyze` takes on a large PE file (several MB).
// Run: npx tsx bench/analyze.ts [FILE...] [--json]   (default: Wine's largest DLLs, and shell32.dll stripped)
// Prints, per file: size, bytes scanned, and the time of the whole static analysis
// (median of 10 runs after 2 warm-ups) with its phases.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { analyzeBinary } from '../src/analyze/binary.js';
import { scanCode } from '../src/analyze/code.js';
import { parsePe } from '../src/pe/pe.js';
import { scanStrings } from '../src/analyze/strings.js';
import { args, json, report } from './lib.js';

const WINE = '/usr/lib/x86_64-linux-gnu/wine/x86_64-windows';
const RUNS = 10;
const TARGET_MS = 100; // issue 25: analyze in milliseconds

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const v = fn();
  return [v, performance.now() - t];
}

function files(): { path: string; label: string }[] {
  if (args.length) return args.map((p) => ({ path: p, label: basename(p) }));
  const out: { path: string; label: string }[] = [];
  for (const f of ['mshtml.dll', 'wined3d.dll', 'shell32.dll'])
    if (existsSync(join(WINE, f))) out.push({ path: join(WINE, f), label: `${f} (as shipped, with DWARF)` });
  // the same DLL without debug sections: every remaining byte is code, data or resources, and is scanned
  if (existsSync(join(WINE, 'shell32.dll'))) {
    const dir = mkdtempSync(join(tmpdir(), 'svcdup-bench-'));
    const stripped = join(dir, 'shell32-stripped.dll');
    const r = spawnSync('x86_64-w64-mingw32-strip', ['-o', stripped, join(WINE, 'shell32.dll')]);
    if (r.status === 0) out.push({ path: stripped, label: 'shell32.dll (stripped)' });
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return out;
}

const list = files();
if (!list.length) {
  console.error('bench/analyze: no input: give PE files, or install Wine (its DLLs are the default input)');
  process.exit(1);
}
const rows: Record<string, string | number>[] = [];
for (const { path, label } of list) {
  const bytes = new Uint8Array(readFileSync(path));
  for (let i = 0; i < 2; i++) analyzeBinary(bytes);
  const totals: number[] = [];
  const parse: number[] = [];
  const strings: number[] = [];
  const code: number[] = [];
  let names = 0;
  for (let i = 0; i < RUNS; i++) {
    const [a, t] = time(() => analyzeBinary(bytes));
    totals.push(t);
    names = a.names.length;
    const [img, tp] = time(() => parsePe(bytes));
    parse.push(tp);
    strings.push(time(() => scanStrings(img))[1]);
    code.push(time(() => scanCode(img))[1]);
  }
  const img = parsePe(bytes);
  // the bytes the string scan reads: scanned sections less their pixel resources
  const scanned = scanStrings(img).scannedBytes;
  const med = median(totals);
  rows.push({
    file: label,
    'size MB': +(statSync(path).size / 1e6).toFixed(1),
    'scanned MB': +(scanned / 1e6).toFixed(1),
    'analyze ms (median)': +med.toFixed(0),
    'min ms': +Math.min(...totals).toFixed(0),
    'max ms': +Math.max(...totals).toFixed(0),
    'parse ms': +median(parse).toFixed(1),
    'strings ms': +median(strings).toFixed(0),
    'code scan ms': +median(code).toFixed(0),
    'MB/s scanned': +(scanned / 1e6 / (med / 1000)).toFixed(0),
    names,
  });
}
if (!json) console.table(rows);
const worst = Math.max(...rows.map((r) => Number(r['analyze ms (median)'])));
if (!json) console.log(`analyze: worst median ${worst} ms on a large PE (target: under ${TARGET_MS} ms) -> ${worst < TARGET_MS ? 'OK' : 'OVER TARGET'}`);
report({ bench: 'analyze', worstMedianMs: worst, targetMs: TARGET_MS, files: rows });
