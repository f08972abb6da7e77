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

const isSystemError = (err: unknown): err is NodeJS.ErrnoException & { code: string } =>
  err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && /^E[A-Z_]+$/.test((err as NodeJS.ErrnoException).code!);

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
    } else if (isSystemError(err)) {
      // a system call refused (a full disk, a permission, a file in use): the machine's state, said in one line
      if (json) process.stderr.write(JSON.stringify({ error: { name: 'SystemError', message: err.message, code: err.code } }) + '\n');
      else process.stderr.write(`svcdup: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      // a bug: one line for the user; the stack with SVCDUP_DEBUG=1 (test/cli-corpus.test.ts fails on either)
      const debug = !!process.env.SVCDUP_DEBUG;
      process.stderr.write(`svcdup: internal error: ${err instanceof Error ? (debug ? (err.stack ?? err.message) : err.message) : String(err)}\n`);
      if (!debug) process.stderr.write('svcdup: this is a bug in svcdup; SVCDUP_DEBUG=1 shows where\n');
      process.exitCode = 70;
    }
  }
}
