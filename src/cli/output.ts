// Output helpers shared by every command: one error format, one JSON format.
import type { Command } from 'commander';
import { SvcdupError, UsageError } from '../errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Fixed-width text table; columns sized to their widest cell. */
export function printTable(header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) {
    process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ') + '\n');
  }
}

/**
 * A flag given twice is refused (commander would keep the last silently: `--port-map a
 * --port-map b` would drop a). Options that collect (their default is a list: --share,
 * --set) are meant to repeat.
 */
export function refuseRepeatedOptions(cmd: Command): void {
  for (const opt of cmd.options) {
    if (Array.isArray(opt.defaultValue) || opt.variadic) continue;
    let seen = 0;
    cmd.on(`option:${opt.name()}`, () => {
      if (++seen > 1) throw new UsageError(`${opt.long ?? opt.flags} was given more than once`);
    });
  }
  for (const sub of cmd.commands) refuseRepeatedOptions(sub);
}

/** Run the program; a SvcdupError becomes one clear line on stderr and exit code 1 (or its own). */
export async function runMain(program: Command): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    const json = process.argv.includes('--json');
    if (err instanceof SvcdupError) {
      if (json) process.stderr.write(JSON.stringify({ error: err.toJSON() }) + '\n');
      else process.stderr.write(`svcdup: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`svcdup: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 70;
    }
  }
}
