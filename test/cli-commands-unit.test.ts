// The CLI loads only the module of the command it runs (src/cli/commands.ts): its table must
// name exactly what each module registers, or a command would be "unknown" when run alone.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMAND_GROUPS, groupsFor } from '../src/cli/commands.js';

describe('the command table', () => {
  it('names exactly the top-level commands (and aliases) each module registers, in its order', async () => {
    for (const g of COMMAND_GROUPS) {
      const program = new Command();
      (await g.register())(program);
      expect(program.commands.flatMap((c) => [c.name(), ...c.aliases()])).toEqual(g.names);
    }
  });

  it('gives each command one owner', () => {
    const all = COMMAND_GROUPS.flatMap((g) => g.names);
    expect(new Set(all).size).toBe(all.length);
  });
});

describe('groupsFor', () => {
  const owner = (name: string) => COMMAND_GROUPS.find((g) => g.names.includes(name));

  it('picks the module of the command word, past the program options', () => {
    expect(groupsFor(['dup', 'Spooler', '--vm', 'v1'])).toEqual([owner('dup')]);
    expect(groupsFor(['--backend', 'wine', 'status', '--json'])).toEqual([owner('status')]);
    expect(groupsFor(['--wait=5', 'vm', 'ls'])).toEqual([owner('vm')]);
    expect(groupsFor(['--wait', '5', '--no-wait', 'up', '-f', 'x.yaml'])).toEqual([owner('up')]);
    // a subcommand's name is not a top-level command: `host start` is the host module's
    expect(groupsFor(['host', 'start'])).toEqual([owner('host')]);
  });

  it('loads every module for help, the version, no command or an unknown one', () => {
    for (const args of [[], ['--help'], ['-V'], ['help', 'dup'], ['dpu'], ['--backend', 'wine']]) expect(groupsFor(args)).toBe(COMMAND_GROUPS);
  });
});
