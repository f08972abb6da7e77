// The dashboard in a real browser: playwright-core driving Debian's chromium (headless)
// against `svcdup ui` on a Wine host with a small fleet. SVCDUP_UI_SCREENSHOT=1 also writes
// docs/dashboard.png.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config.js';
import { COW_POLICY, nativeExe, openTestHost, testEnv, type TestHost } from './helpers.js';
import { cliFor, waitState } from './cli-helpers.js';

let host: TestHost;
let ui: ChildProcess;
let url: string;
let browser: Browser;
let page: Page;
const { cli } = cliFor(() => host.paths);
const dir = mkdtempSync(join(tmpdir(), 'svcdup-ui-'));
const FILE = `vms:
  ui1: { policy: ${JSON.stringify(COW_POLICY)}, services: { svcdup-testsvc: { mode: relayed, set: { 'Parameters\\Greeting': hello ui1 } } } }
  ui2: { ports: ["7201:7301"], services: { svcdup-testsvc-a: {}, svcdup-testsvc: {} } }
`;

/** A raw HTTP request, so that headers (Host, token) are exactly what the test says. */
function raw(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: Number(u.port), path, method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const stateOf = (scmName: string) => page.locator(`#dups tr[data-dup="${scmName}"] td.state`);

beforeAll(async () => {
  host = await openTestHost('ui');
  const b = host.backend;
  await b.call('scm.create', { name: 'svcdup-testsvc', imagePath: nativeExe(b, 'svcdup-testsvc.exe') });
  const multi = nativeExe(b, 'svcdup-testsvc-multi.exe');
  await b.call('scm.create', { name: 'svcdup-testsvc-b', imagePath: multi, type: 0x20 });
  await b.call('scm.create', { name: 'svcdup-testsvc-a', imagePath: multi, type: 0x20, dependOnService: ['svcdup-testsvc-b'] });
  writeFileSync(join(dir, 'svcdup.yaml'), FILE);
  const r = cli(['up', '-f', join(dir, 'svcdup.yaml')]);
  expect(r.status, r.stderr).toBe(0);
  ui = spawn('node', [join(packageRoot, 'dist/cli.js'), 'ui', '--json'], { env: testEnv(host.paths), stdio: ['ignore', 'pipe', 'inherit'] });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    ui.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
    });
    ui.on('exit', (code) => reject(new Error(`svcdup ui exited with ${code}`)));
  });
  browser = await chromium.launch({ executablePath: process.env.SVCDUP_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('dialog', (d) => void d.accept());
});

afterAll(async () => {
  await browser?.close();
  if (ui && ui.exitCode === null) {
    ui.kill('SIGTERM');
    await new Promise((r) => ui.once('exit', r));
  }
  await host?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('svcdup ui', () => {
  it('lists the VMs, with address, port map and processes, and the duplicates with state and dependencies', async () => {
    await page.goto(url);
    await expect.poll(() => page.locator('#vms tbody tr').count(), { timeout: 10_000 }).toBe(2);
    await expect.poll(() => page.locator('#conn').textContent()).toBe('live');
    const ui1 = page.locator('#vms tr[data-vm="ui1"]');
    expect(await ui1.locator('td').nth(1).textContent()).toMatch(/^127\.77\.\d+\.\d+$/);
    expect(await page.locator('#vms tr[data-vm="ui2"] td').nth(2).textContent()).toBe('tcp/7201→7301');
    await expect.poll(() => ui1.locator('td.processes').textContent()).toMatch(/svcdup-testsvc\.exe:\d+/);
    const names = await page.locator('#dups tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-dup')));
    expect(names).toEqual(['svcdup-testsvc@ui1', 'svcdup-testsvc@ui2', 'svcdup-testsvc-a@ui2', 'svcdup-testsvc-b@ui2']);
    for (const n of names) expect(await stateOf(n!).textContent()).toBe('RUNNING');
    // each duplicate's mode: ui1's as the file says, ui2's test service direct (no mode given: it applies), its dependencies relayed
    const modes = await page.locator('#dups tbody tr td:nth-child(3)').allTextContents();
    expect(modes).toEqual(['relayed', 'direct', 'relayed', 'relayed']);
    // the pid the page shows is the SCM's
    const st = await host.backend.call('scm.status', { name: 'svcdup-testsvc@ui1' });
    expect(await page.locator('#dups tr[data-dup="svcdup-testsvc@ui1"] td.pid').textContent()).toBe(String(st.pid));
    // the graph draws the dependency a -> b in ui2
    expect(await page.locator('#graph g[data-node="svcdup-testsvc-a@ui2"]').count()).toBe(1);
    expect(await page.locator('#graph path.edge').count()).toBeGreaterThanOrEqual(1);
  });

  it('shows a state change made from the CLI within a second', async () => {
    const r = cli(['stop', 'svcdup-testsvc', '--vm', 'ui1']);
    expect(r.status, r.stderr).toBe(0);
    await expect.poll(() => stateOf('svcdup-testsvc@ui1').textContent(), { timeout: 1000, interval: 100 }).toBe('STOPPED');
    const s = cli(['start', 'svcdup-testsvc', '--vm', 'ui1']);
    expect(s.status, s.stderr).toBe(0);
    await expect.poll(() => stateOf('svcdup-testsvc@ui1').textContent(), { timeout: 1000, interval: 100 }).toBe('RUNNING');
  });

  it('streams the naming decisions of a VM, filterable', async () => {
    const r = cli(['run', '--vm', 'ui1', '--', nativeExe(host.backend, 'svcdup-pipecall.exe'), 'svcdup-testsvc', 'hi']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).greeting).toBe('hello ui1');
    // the service reads its Greeting for the request: in the VM, Services\svcdup-testsvc is the VM's copy
    await page.fill('#trace-filter', 'svcdup-testsvc\\Parameters');
    await expect.poll(() => page.locator('#trace tbody tr').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    const cells = await page.locator('#trace tbody tr').first().locator('td').allTextContents();
    expect(cells[1]).toBe('ui1');
    expect(cells[5]).toMatch(/\\SOFTWARE\\svcdup\\VMs\\ui1\\Services\\svcdup-testsvc\\Parameters$/i);
    expect(cells[6]).toBe('renamed');
    await page.fill('#trace-filter', 'no-such-name-anywhere');
    expect(await page.locator('#trace tbody tr').count()).toBe(0);
    await page.fill('#trace-filter', '');
  });

  it('serves the file changes of a VM (vm diff) to the page; the host file is not written', async () => {
    const r = cli(['run', '--vm', 'ui1', '--', 'cmd', '/c', 'echo diff> C:\\svcdup-ui-diff.txt']);
    expect(r.status, r.stderr).toBe(0);
    const u = new URL(url);
    const d = await raw(`/api/diff?token=${u.searchParams.get('token')}&vm=ui1`, { headers: { Host: `127.0.0.1:${u.port}` } });
    expect(d.status, d.body).toBe(200);
    const out = JSON.parse(d.body) as { files: { kind: string; path: string }[]; keys: unknown[] };
    expect(out.files.filter((f) => /svcdup-ui-diff\.txt$/i.test(f.path))).toEqual([{ kind: 'A', path: expect.stringMatching(/^C:\\svcdup-ui-diff\.txt$/i) }]);
    expect(Array.isArray(out.keys)).toBe(true);
    expect(existsSync(join(host.paths.prefix, 'drive_c', 'svcdup-ui-diff.txt'))).toBe(false);
  });

  it("takes a VM's checkpoint, lists it, restores it after a confirmation, and offers the VM's archive for download", async () => {
    const area = (n: string) => join(host.paths.prefix, 'drive_c', 'ProgramData', 'svcdup', 'VMs', 'ui1', 'files', 'C', n);
    await page.selectOption('#diff-vm', 'ui1');
    const [taken] = await Promise.all([page.waitForResponse((r) => r.url().includes('/api/action'), { timeout: 100_000 }), page.click('#ckpt-take')]);
    expect(taken.status(), await taken.text()).toBe(200);
    await expect.poll(() => page.locator('#ckpts tbody tr').count(), { timeout: 10_000 }).toBe(1);
    expect(cli(['run', '--vm', 'ui1', '--', 'cmd', '/c', 'echo later> C:\\svcdup-ui-later.txt']).status).toBe(0);
    expect(existsSync(area('svcdup-ui-later.txt'))).toBe(true);
    const [restored] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/api/action'), { timeout: 100_000 }),
      page.locator('#ckpts tbody tr button[data-action="vm.restore"]').click(),
    ]);
    expect(restored.status(), await restored.text()).toBe(200);
    expect(existsSync(area('svcdup-ui-later.txt'))).toBe(false);
    expect(existsSync(area('svcdup-ui-diff.txt'))).toBe(true);
    const u = new URL(url);
    const ex = await new Promise<{ status: number; type: string; head: Buffer }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: Number(u.port), path: `/api/export?token=${u.searchParams.get('token')}&vm=ui1` }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-disposition']), head: Buffer.concat(chunks).subarray(0, 2) }),
        );
      })
        .on('error', reject)
        .end();
    });
    expect(ex).toEqual({ status: 200, type: 'attachment; filename="ui1.svcdup.tgz"', head: Buffer.from([0x1f, 0x8b]) });
  }, 240_000);

  it('stops a duplicate from the page, after a confirmation', async () => {
    // click, and wait for the server to have done it (on a loaded machine a stop can take a while)
    const click = async (action: string): Promise<void> => {
      const [resp] = await Promise.all([
        page.waitForResponse((r) => r.url().includes('/api/action'), { timeout: 100_000 }),
        page.locator(`#dups tr[data-dup="svcdup-testsvc@ui2"] button[data-action="${action}"]`).click(),
      ]);
      expect(resp.status(), await resp.text()).toBe(200);
    };
    await click('stop');
    await expect.poll(() => stateOf('svcdup-testsvc@ui2').textContent(), { timeout: 10_000 }).toBe('STOPPED');
    // the SCM agrees
    expect((await waitState(host.backend, 'svcdup-testsvc@ui2', 'STOPPED')).state).toBe('STOPPED');
    await click('start');
    await expect.poll(() => stateOf('svcdup-testsvc@ui2').textContent(), { timeout: 10_000 }).toBe('RUNNING');
    if (process.env.SVCDUP_UI_SCREENSHOT) {
      await page.fill('#analyze-service', 'RpcSs');
      await page.click('#analyze-form button');
      await expect.poll(() => page.locator('#analyze-out').textContent(), { timeout: 30_000 }).toMatch(/^(?!analyzing)[\s\S]*RpcSs/);
      await page.fill('#trace-filter', '');
      await page.screenshot({ path: join(packageRoot, 'docs', 'dashboard.png'), fullPage: true });
    }
  }, 240_000);

  it('refuses every request without the token, a wrong Host, and actions whose token is not in the header', async () => {
    const u = new URL(url);
    const token = u.searchParams.get('token')!;
    const hostHdr = { Host: `127.0.0.1:${u.port}` };
    expect((await raw('/', { headers: hostHdr })).status).toBe(403);
    expect((await raw('/app.js', { headers: hostHdr })).status).toBe(403);
    expect((await raw('/api/state', { headers: hostHdr })).status).toBe(403);
    expect((await raw('/api/events', { headers: hostHdr })).status).toBe(403);
    expect((await raw(`/api/state?token=${token.slice(0, -1)}x`, { headers: hostHdr })).status).toBe(403);
    expect((await raw(`/api/state?token=${token}`, { headers: hostHdr })).status).toBe(200);
    // DNS rebinding: the right token through another host name
    expect((await raw(`/api/state?token=${token}`, { headers: { Host: `evil.example:${u.port}` } })).status).toBe(403);
    const body = JSON.stringify({ action: 'stop', vm: 'ui1', service: 'svcdup-testsvc' });
    const post = (path: string, headers: Record<string, string>) =>
      raw(path, { method: 'POST', headers: { ...hostHdr, 'Content-Type': 'application/json', ...headers }, body });
    expect((await post('/api/action', {})).status).toBe(403);
    expect((await post(`/api/action?token=${token}`, {})).status).toBe(403);
    expect((await host.backend.call('scm.status', { name: 'svcdup-testsvc@ui1' })).state).toBe('RUNNING');
    // undup without confirm is refused even with the token
    const undup = await raw('/api/action', {
      method: 'POST',
      headers: { ...hostHdr, 'Content-Type': 'application/json', 'X-Svcdup-Token': token },
      body: JSON.stringify({ action: 'undup', vm: 'ui1', service: 'svcdup-testsvc' }),
    });
    expect(undup.status).toBe(400);
    expect((await host.backend.call('scm.status', { name: 'svcdup-testsvc@ui1' })).state).toBe('RUNNING');
  });
});
