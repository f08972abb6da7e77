#!/usr/bin/env node
// Thin CLI over the library API: parse arguments, call the library, print.
import { Command } from 'commander';
import { groupsFor } from './cli/commands.js';
import { refuseRepeatedOptions, runMain } from './cli/output.js';

const program = new Command();
program
  .name('svcdup')
  .description('Duplicate Windows services at the OS level, inside feather-weight VMs')
  .version('0.1.0')
  .option('--backend <kind>', 'host backend: wine (default on Linux) or windows')
  .option('--wait <seconds>', 'how long a command that changes the host waits for another one to finish (default 120)')
  .option('--no-wait', 'fail at once when another command is changing the host');

// only the module of the command being run (src/cli/commands.ts says why)
for (const register of await Promise.all(groupsFor(process.argv.slice(2)).map((g) => g.register()))) register(program);
refuseRepeatedOptions(program);

await runMain(program);
