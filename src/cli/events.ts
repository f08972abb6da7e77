// svcdup events: what happened to VMs and duplicates, in order, from the state database
// (src/state/events.ts): commands record created/started/stopped/removed, the watcher
// crashed/stopped/restarted/healthy/unhealthy. -f follows: new events as they are recorded.
import type { Command } from 'commander';
import { resolvePaths } from '../config.js';
import { UsageError } from '../errors.js';
import { openDb } from '../state/db.js';
import { listEvents, type SvcdupEvent } from '../state/events.js';
import { printJson } from './output.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: an ISO 8601 time, or a duration back from now (30s, 10m, 2h, 1d). */
export function parseSince(text: string, now = Date.now()): Date {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (m) return new Date(now - Number(m[1]) * UNITS[m[2]!]!);
  const t = /^\d{4}-\d{2}-\d{2}/.test(text.trim()) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(t)) throw new UsageError(`--since "${text}": give a time (2026-12-07T10:00:00Z) or a duration back from now (30s, 10m, 2h, 1d)`);
  return new Date(t);
}

function line(e: SvcdupEvent): string {
  const who = e.service ? `${e.service}@${e.vm}` : (e.vm ?? '-');
  const detail = Object.entries(e.detail)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${e.at}  ${e.kind.padEnd(10)} ${who}${detail ? `  ${detail}` : ''}\n`;
}

export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description('what happened to VMs and duplicates, in order: created, started, stopped, crashed, restarted, healthy, unhealthy, limit, ...')
    .option('--since <time>', 'only events from this time (ISO 8601) or this long ago (30s, 10m, 2h, 1d)')
    .option('--vm <name>', 'only this VM')
    .option('-f, --follow', 'keep printing events as they happen (Ctrl-C to stop)')
    .option('--json', 'machine-readable output (with -f: one JSON object a line)')
    .action(async (opts: { since?: string; vm?: string; follow?: boolean; json?: boolean }) => {
      const since = opts.since !== undefined ? parseSince(opts.since) : undefined;
      const db = openDb(resolvePaths().stateDb);
      try {
        const first = listEvents(db, { ...(since ? { since } : {}), ...(opts.vm ? { vm: opts.vm } : {}) });
        if (opts.json && !opts.follow) return printJson(first);
        const show = (e: SvcdupEvent) => process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : line(e));
        first.forEach(show);
        if (!opts.follow) return;
        let last = first.at(-1)?.id ?? listEvents(db).at(-1)?.id ?? 0;
        let stop = false;
        const end = () => {
          stop = true;
        };
        process.once('SIGINT', end);
        process.once('SIGTERM', end);
        while (!stop) {
          await new Promise((r) => setTimeout(r, 500));
          for (const e of listEvents(db, { afterId: last, ...(opts.vm ? { vm: opts.vm } : {}) })) {
            last = e.id;
            show(e);
          }
        }
      } finally {
        db.close();
      }
    });
}
