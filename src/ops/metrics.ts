// Prometheus metrics (docs/operate.md, "Metrics"): `svcdup metrics` and `svcdup ui` serve the same
// text at /metrics, made with prom-client. A scrape is one stats sample (src/ops/stats.ts: two
// agent calls), the duplicates' restart/health/exit record (dup_runtime, kept by the watcher)
// and the count of limit events.
import { createServer, type Server } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import type { HostBackend } from '../backend/types.js';
import type { Db } from '../state/db.js';
import { listEvents } from '../state/events.js';
import { listRuntime } from '../state/runtime.js';
import { sampleStats, type StatsSample } from './stats.js';

const STATES = ['STOPPED', 'START_PENDING', 'STOP_PENDING', 'RUNNING', 'CONTINUE_PENDING', 'PAUSE_PENDING', 'PAUSED', 'MISSING'] as const;

/** The metrics text of one sample (pure but for the database reads). */
export async function renderMetrics(sample: StatsSample, db: Db): Promise<{ text: string; contentType: string }> {
  const registry = new Registry();
  const g = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry] });
  const vmProcs = g('svcdup_vm_processes', "processes in the VM's job", ['vm']);
  const vmCpu = g('svcdup_vm_cpu_seconds', "CPU time of the VM's current processes (user + kernel)", ['vm']);
  const vmCpuPct = g('svcdup_vm_cpu_percent', 'CPU use since the previous scrape, % of one CPU', ['vm']);
  const vmPriv = g('svcdup_vm_private_bytes', "private bytes (commit charge) of the VM's processes", ['vm']);
  const vmWs = g('svcdup_vm_working_set_bytes', "working set of the VM's processes", ['vm']);
  const vmLimit = g('svcdup_vm_memory_limit_bytes', "the VM's memory limit", ['vm']);
  const vmLimitEvents = g('svcdup_vm_limit_events', 'limit events recorded for the VM (a stop at its memory limit)', ['vm']);
  const dState = g('svcdup_duplicate_state', "the duplicate's SCM state (1 for the current one)", ['vm', 'service', 'state']);
  const dUp = g('svcdup_duplicate_up', '1 when the duplicate is RUNNING', ['vm', 'service']);
  const dCpu = g('svcdup_duplicate_cpu_seconds', "CPU time of the duplicate's processes", ['vm', 'service']);
  const dCpuPct = g('svcdup_duplicate_cpu_percent', 'CPU use since the previous scrape, % of one CPU', ['vm', 'service']);
  const dPriv = g('svcdup_duplicate_private_bytes', "private bytes of the duplicate's processes", ['vm', 'service']);
  const dWs = g('svcdup_duplicate_working_set_bytes', "working set of the duplicate's processes", ['vm', 'service']);
  const dProcs = g('svcdup_duplicate_processes', "the duplicate's processes", ['vm', 'service']);
  const dRestarts = g('svcdup_duplicate_restarts', 'restarts svcdup made under its restart policy', ['vm', 'service']);
  const dExit = g('svcdup_duplicate_last_exit_code', 'the exit code of its last end', ['vm', 'service']);
  const dHealthy = g('svcdup_duplicate_healthy', '1 healthy, 0 unhealthy (absent: no health check or not checked yet)', ['vm', 'service']);

  const limitEvents = new Map<string, number>();
  for (const e of listEvents(db)) if (e.kind === 'limit' && e.vm) limitEvents.set(e.vm, (limitEvents.get(e.vm) ?? 0) + 1);
  for (const v of sample.vms) {
    const l = { vm: v.vm };
    vmProcs.set(l, v.processes);
    vmCpu.set(l, v.cpuMs / 1000);
    if (v.cpuPercent !== undefined) vmCpuPct.set(l, v.cpuPercent);
    vmPriv.set(l, v.privateBytes);
    vmWs.set(l, v.workingSetBytes);
    if (v.memoryLimit !== undefined) vmLimit.set(l, v.memoryLimit);
    vmLimitEvents.set(l, limitEvents.get(v.vm) ?? 0);
    for (const d of v.duplicates) {
      const dl = { vm: v.vm, service: d.service };
      for (const s of STATES) dState.set({ ...dl, state: s }, d.state === s ? 1 : 0);
      dUp.set(dl, d.state === 'RUNNING' ? 1 : 0);
      dCpu.set(dl, d.cpuMs / 1000);
      if (d.cpuPercent !== undefined) dCpuPct.set(dl, d.cpuPercent);
      dPriv.set(dl, d.privateBytes);
      dWs.set(dl, d.workingSetBytes);
      dProcs.set(dl, d.processes);
    }
  }
  const known = new Set(sample.vms.flatMap((v) => v.duplicates.map((d) => `${v.vm}\n${d.service.toLowerCase()}`)));
  for (const r of listRuntime(db)) {
    if (!known.has(`${r.vm}\n${r.service.toLowerCase()}`)) continue;
    const dl = { vm: r.vm, service: r.service };
    dRestarts.set(dl, r.restarts);
    if (r.lastExit !== null) dExit.set(dl, r.lastExit);
    if (r.healthState === 'healthy' || r.healthState === 'unhealthy') dHealthy.set(dl, r.healthState === 'healthy' ? 1 : 0);
  }
  return { text: await registry.metrics(), contentType: registry.contentType };
}

/** A scraper for one server's life: each scrape samples, with CPU % against the previous scrape. */
export function metricsScraper(backend: HostBackend, db: Db): () => Promise<{ text: string; contentType: string }> {
  let prev: StatsSample | undefined;
  return async () => {
    const sample = await sampleStats(backend, db, prev ? { prev } : {});
    prev = sample;
    return renderMetrics(sample, db);
  };
}

/** `svcdup metrics`: GET /metrics on 127.0.0.1:port; resolves with the server once listening. */
export async function serveMetrics(scrape: () => Promise<{ text: string; contentType: string }>, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    scrape().then(
      (m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`svcdup: ${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}
