#!/usr/bin/env node
// Thin CLI over the library API: parse arguments, call the library, print.
import { Command } from 'commander';
import { registerAnalyzeCommand } from './cli/analyze.js';
import { registerDupCommands } from './cli/dup.js';
import { registerHostCommands } from './cli/host.js';
import { registerVmCommands } from './cli/vm.js';
import { registerFleetCommands } from './cli/fleet.js';
import { registerUiCommand } from './cli/ui.js';
import { registerRepairCommand } from './cli/repair.js';
import { registerEventsCommand } from './cli/events.js';
import { registerClusterCommands } from './cli/cluster.js';
import { registerOpsCommands } from './cli/ops.js';
import { refuseRepeatedOptions, runMain } from './cli/output.js';

const program = new Command();
program
  .name('svcdup')
  .description('Duplicate Windows services at the OS level, inside feather-weight VMs')
  .version('0.1.0')
  .option('--backend <kind>', 'host backend: wine (default on Linux) or windows')
  .option('--wait <seconds>', 'how long a command that changes the host waits for another one to finish (default 120)')
  .option('--no-wait', 'fail at once when another command is changing the host');

registerHostCommands(program);
registerVmCommands(program);
registerDupCommands(program);
registerAnalyzeCommand(program);
registerFleetCommands(program);
registerUiCommand(program);
registerRepairCommand(program);
registerEventsCommand(program);
registerClusterCommands(program);
registerOpsCommands(program);
refuseRepeatedOptions(program);

await runMain(program);
