// svcdup ui: the dashboard (src/ui/server.ts); runs until interrupted.
import type { Command } from 'commander';
import { startUi } from '../ui/server.js';
import { etcdFlags, etcdOptions, type EtcdFlags } from './cluster.js';
import { parsePort, untilInterrupted } from './serve.js';

export function registerUiCommand(program: Command): void {
  etcdFlags(
    program
      .command('ui')
      .description('serve a live dashboard on 127.0.0.1; open the URL it prints (it carries a random token); with --etcd, the cluster too')
      .option('--port <n>', 'port to listen on (default: any free one)')
      .option('--json', 'print {"url","port"} as JSON instead of a sentence'),
  ).action(async (opts: EtcdFlags & { port?: string; json?: boolean }) => {
    const port = parsePort(opts.port, 0);
    const ui = await startUi({
      port,
      backendKind: program.opts<{ backend?: string }>().backend,
      log: (l) => process.stderr.write(l + '\n'),
      // the cluster view only when asked (--etcd, not $SVCDUP_ETCD alone)
      ...(opts.etcd ? { etcd: etcdOptions(opts) } : {}),
    });
    if (opts.json) process.stdout.write(JSON.stringify({ url: ui.url, port: ui.port }) + '\n');
    else process.stdout.write(`svcdup ui: ${ui.url}\n(Ctrl-C to stop)\n`);
    await untilInterrupted();
    await ui.close();
  });
}
