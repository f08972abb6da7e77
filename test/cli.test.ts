// The CLI as a user runs it: node dist/cli.js against a private svcdup home.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config.js';
import { openTestHost, testEnv, type TestHost } from './helpers.js';

let host: TestHost;
const cli = (...args: string[]) =>
  spawnSync('node', [join(packageRoot, 'dist/cli.js'), ...args], { env: testEnv(host.paths), encoding: 'utf8', timeout: 120_000 });

beforeAll(async () => {
  host = await openTestHost('cli');
  await host.backend.close();
});
afterAll(async () => host?.dispose());

describe('svcdup CLI on the host', () => {
  it('services --json lists RpcSs with its ImagePath, state and pid', () => {
    const r = cli('services', '--json');
    expect(r.status).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; imagePath: string; state: string; pid: number; type: number }[];
    const rpcss = list.find((s) => s.name === 'RpcSs');
    expect(rpcss).toMatchObject({ state: 'RUNNING', imagePath: expect.stringMatching(/rpcss\.exe$/i) });
    expect(rpcss!.pid).toBeGreaterThan(0);
    // the pid is a real process of the prefix, as the agent lists them
    return host.backend.call('proc.list', {}).then((procs) => {
      expect(procs.find((p) => p.pid === rpcss!.pid)?.image.toLowerCase()).toBe('rpcss.exe');
    });
  });

  it('services prints a table with the ServiceDll of svchost services', () => {
    const r = cli('services');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^NAME\s+STATE\s+PID\s+TYPE\s+IMAGE$/);
    expect(r.stdout).toMatch(/^Schedule\s+\w+\s+\S+\s+\S+\s+C:\\windows\\system32\\svchost\.exe -k netsvcs\s+\[.*schedsvc\.dll\]$/im);
  });

  it('host exec runs a Windows command outside any VM and passes its exit code through', () => {
    const ok = cli('host', 'exec', '--', 'sc', 'query', 'RpcSs');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/STATE\s+:\s+4\s+RUNNING/);
    const fail = cli('host', 'exec', '--', 'cmd', '/c', 'exit 7');
    expect(fail.status).toBe(7);
  });

  it('doctor --json reports every check ok, with the agent under Wine', () => {
    const r = cli('doctor', '--json');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; backend: { agent: { wine: boolean } } };
    expect(report.ok).toBe(true);
    expect(report.backend.agent.wine).toBe(true);
  });

  it('unknown commands and backends fail with a clear message', () => {
    const r = cli('frobnicate');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    const b = cli('--backend', 'hyperv', 'services');
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/unknown backend "hyperv": use wine or windows/);
  });
});
