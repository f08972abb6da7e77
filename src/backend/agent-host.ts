// What both host backends share about their agent (svcdup-agent.exe, docs/agent-protocol.md):
// the one client, closing it, and how doctor describes it. How the agent is started differs
// (Wine: through the prefix's loader; Windows: directly), so `open` stays each backend's own.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Paths } from '../config.js';
import type { AgentClient } from './agent.js';
import { HostFiles } from './folders.js';

export abstract class AgentHost extends HostFiles {
  protected agent: AgentClient | undefined;
  abstract readonly paths: Paths;

  async close(): Promise<void> {
    const a = this.agent;
    this.agent = undefined;
    if (a) await a.close();
  }

  /** The agent's part of `describe()`: where the binaries are, whether built, and its ping when it runs. */
  protected async describeAgent(): Promise<Record<string, unknown>> {
    return {
      nativeDir: this.paths.nativeDir,
      agentBuilt: existsSync(join(this.paths.nativeDir, 'svcdup-agent.exe')),
      ...(this.agent?.alive ? { agent: await this.agent.call('ping', {}) } : {}),
    };
  }
}
