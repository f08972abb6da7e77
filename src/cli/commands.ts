// Which module registers which top-level command, so that a run loads only the module of the
// command it runs: every module loaded at start-up costs every command its CPU (yaml, zod,
// prom-client, tar, the dashboard, the cluster: ~0.3 s of node's time a command, paid by each
// `svcdup` a script or a test spawns). test/cli-commands-unit.test.ts checks this table against
// what each module really registers.
import type { Command } from 'commander';

export interface CommandGroup {
  /** the top-level commands the module registers, in its order */
  names: readonly string[];
  register: () => Promise<(program: Command) => void>;
}

/** In help order (the order they were always registered in). */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  { names: ['doctor', 'services', 'host'], register: async () => (await import('./host.js')).registerHostCommands },
  { names: ['vm', 'run', 'ps', 'trace'], register: async () => (await import('./vm.js')).registerVmCommands },
  { names: ['dup', 'undup', 'start', 'stop', 'status'], register: async () => (await import('./dup.js')).registerDupCommands },
  { names: ['analyze'], register: async () => (await import('./analyze.js')).registerAnalyzeCommand },
  { names: ['up', 'down'], register: async () => (await import('./fleet.js')).registerFleetCommands },
  { names: ['ui'], register: async () => (await import('./ui.js')).registerUiCommand },
  { names: ['repair'], register: async () => (await import('./repair.js')).registerRepairCommand },
  { names: ['events'], register: async () => (await import('./events.js')).registerEventsCommand },
  { names: ['node', 'controller', 'apply', 'delete', 'cluster'], register: async () => (await import('./cluster.js')).registerClusterCommands },
  { names: ['stats', 'metrics', 'logs', 'limits-guard'], register: async () => (await import('./ops.js')).registerOpsCommands },
];

/** Program options that take a value (`--backend wine`): skipped when looking for the command. */
const VALUED_GLOBALS = new Set(['--backend', '--wait']);

/**
 * The groups a command line needs: the one that owns its command, or all of them when there is
 * no command word or an unknown one (help, --version, a typo: commander then lists or suggests
 * from every command, as before).
 */
export function groupsFor(args: readonly string[]): readonly CommandGroup[] {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (VALUED_GLOBALS.has(a)) {
      i++;
      continue;
    }
    if (a === '--no-wait' || [...VALUED_GLOBALS].some((g) => a.startsWith(`${g}=`))) continue;
    if (a.startsWith('-')) return COMMAND_GROUPS;
    const owner = COMMAND_GROUPS.find((g) => g.names.includes(a));
    return owner ? [owner] : COMMAND_GROUPS;
  }
  return COMMAND_GROUPS;
}
