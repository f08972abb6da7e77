// A duplicate's restart policy and health check, from `dup` flags or a fleet file to the state
// database, the SCM's failure actions, and the watcher that carries out what the SCM does not.
// Checked whole before anything changes (checkPolicy), applied after the duplicate exists.
import type { ManagedBackend } from '../backend/index.js';
import { UsageError } from '../errors.js';
import type { Db } from '../state/db.js';
import { getRuntime, setPolicy } from '../state/runtime.js';
import { getVm } from '../state/vms.js';
import { ensureWatcher } from './daemon.js';
import { healthText, parseHealth, resolveProbe, type HealthCheck } from '../ops/health.js';
import { failureActions, parseRestart, restartText, type RestartPolicy } from '../ops/restart.js';

export interface PolicyInput {
  restart?: string;
  health?: string;
  interval?: string;
  retries?: string;
}

export interface DupPolicy {
  restart: RestartPolicy;
  health?: HealthCheck;
}

/** The flags as a policy, checked against the VM (a health check must reach what the VM owns); undefined: none given. */
export function checkPolicy(db: Db, vm: string, p: PolicyInput): DupPolicy | undefined {
  if (p.health === undefined && (p.interval !== undefined || p.retries !== undefined)) throw new UsageError('--interval and --retries go with --health');
  if (p.restart === undefined && p.health === undefined) return undefined;
  const policy: DupPolicy = { restart: parseRestart(p.restart ?? 'no') };
  if (p.health !== undefined) {
    policy.health = parseHealth(p.health, p.interval, p.retries);
    const rec = getVm(db, vm);
    if (rec) resolveProbe(policy.health, rec);
  }
  return policy;
}

/** Record the policy, write it as the SCM's failure actions, and make sure the watcher runs. */
export async function applyPolicy(backend: ManagedBackend, db: Db, d: { vm: string; service: string; scmName: string }, p: DupPolicy): Promise<void> {
  await backend.call('scm.failure', { name: d.scmName, ...failureActions(p.restart) });
  setPolicy(db, d.vm, d.service, { restart: restartText(p.restart), health: p.health ? healthText(p.health) : null });
  if (p.restart.kind !== 'no' || p.health) await ensureWatcher(backend.paths.home, backend.kind);
}

/** A fleet file's service with its declared policy (src/fleet/file.ts). */
export interface DeclaredPolicy extends PolicyInput {
  vm: string;
  service: string;
}

/**
 * `up`: each declared policy that differs from the recorded one is applied (a duplicate with
 * none declared keeps what `dup` gave it). Before the starts, so a crash at the first start counts.
 */
export async function syncPolicies(
  backend: ManagedBackend,
  db: Db,
  declared: readonly DeclaredPolicy[],
  scmNameOf: (vm: string, service: string) => string | undefined,
): Promise<void> {
  for (const d of declared) {
    const p = checkPolicy(db, d.vm, d);
    const scmName = scmNameOf(d.vm, d.service);
    if (!p || !scmName) continue;
    const now = getRuntime(db, d.vm, d.service);
    const health = p.health ? healthText(p.health) : null;
    if (now && now.restart === restartText(p.restart) && now.health === health) continue;
    await applyPolicy(backend, db, { vm: d.vm, service: d.service, scmName }, p);
  }
}
