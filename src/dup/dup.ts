// dup, undup, start, stop, status: duplicates as real services in the host SCM.
// Every change to the host is a journaled step (steps.ts), so a failure or a kill
// leaves either a complete duplicate or none.
import { join } from 'node:path';
import type { ManagedBackend } from '../backend/index.js';
import type { RegTree, RegValue, ServiceConfig, ServiceCreate, ServiceStatus } from '../backend/types.js';
import { AgentError, SvcdupError, UsageError, Win32 } from '../errors.js';
import { PlanError } from '../plan/closure.js';
import { planDuplicate, type DuplicationPlan, type PlannedService } from '../plan/plan.js';
import type { Db } from '../state/db.js';
import { effectivePolicy } from '../plan/system.js';
import { netRules, portMapFromRecord, portMapToRecord, type NetIdentity } from '../net/index.js';
import { getVm, listVms } from '../state/vms.js';
import { Journal } from '../state/journal.js';
import { dupSteps, pruneEmptyKeys, stopAndWait, type StepContext } from './steps.js';
import { fileAliasRules } from '../vm/files.js';

/** svcdup's own area of the host registry; nothing else of the host's is written. */
export const SVCDUP_KEY = 'HKLM\\SOFTWARE\\svcdup';
export const vmKey = (vm: string): string => `${SVCDUP_KEY}\\VMs\\${vm}`;
/** The VM's copy of a service's key: what the service sees as Services\NAME inside the VM. */
export const vmServiceKey = (vm: string, service: string): string => `${vmKey(vm)}\\Services\\${service}`;
export const SERVICES_KEY = 'HKLM\\SYSTEM\\CurrentControlSet\\Services';

export interface DuplicateRecord {
  vm: string;
  service: string;
  scmName: string;
  createdAt: string;
  plan: PlannedService;
}

export interface DuplicateStatus extends DuplicateRecord {
  status?: ServiceStatus;
  error?: string;
}

/** A service a VM process made with CreateService (native/hook/scmclient.c): known only to the SCM and its copy key. */
export interface CreatedInVm {
  vm: string;
  service: string;
  scmName: string;
  imagePath: string;
  status: ServiceStatus;
}

/** Winsock's "address in use", as a service reports a failed bind. */
const WSAEADDRINUSE = 10048;

/** The value scmclient.c marks the copy key of a service created in a VM with. */
const CREATED_MARK = 'svcdup.CreatedInVm';

export interface DupOptions {
  share?: string[];
  /** Parameters edits for the VM's copy: `Parameters\Name=Value` (REG_SZ), relative to the service key */
  set?: string[];
  start?: boolean;
  startArgs?: string[];
}

export class Duplicates {
  readonly journal: Journal<StepContext>;
  private readonly ctx: StepContext;

  constructor(
    readonly backend: ManagedBackend,
    readonly db: Db,
  ) {
    this.ctx = { backend, db };
    this.journal = new Journal(db, dupSteps);
  }

  /** Finish what an interrupted svcdup left: every command calls this first. */
  async recover(): ReturnType<Journal<StepContext>['recover']> {
    if (!this.journal.pending()) return { rolledBack: [], failed: [] };
    return this.journal.recover(this.ctx);
  }

  list(vm?: string): DuplicateRecord[] {
    const rows = (
      vm
        ? this.db.prepare(`SELECT vm, service, scm_name, created_at, plan FROM duplicate WHERE vm = ? ORDER BY vm, service`).all(vm)
        : this.db.prepare(`SELECT vm, service, scm_name, created_at, plan FROM duplicate ORDER BY vm, service`).all()
    ) as { vm: string; service: string; scm_name: string; created_at: string; plan: string }[];
    return rows.map((r) => ({ vm: r.vm, service: r.service, scmName: r.scm_name, createdAt: r.created_at, plan: JSON.parse(r.plan) as PlannedService }));
  }

  get(vm: string, service: string): DuplicateRecord | undefined {
    return this.list(vm).find((d) => d.service.toLowerCase() === service.toLowerCase());
  }

  async status(vm?: string): Promise<DuplicateStatus[]> {
    return Promise.all(
      this.list(vm).map(async (d): Promise<DuplicateStatus> => {
        try {
          return { ...d, status: await this.backend.call('scm.status', { name: d.scmName }) };
        } catch (err) {
          return { ...d, error: (err as Error).message };
        }
      }),
    );
  }

  /** Services that processes in the VMs created themselves (all VMs, or one). */
  async createdInVm(vm?: string): Promise<CreatedInVm[]> {
    const vms = new Set((vm ? [vm] : listVms(this.db).map((v) => v.name)).map((n) => n.toLowerCase()));
    const known = new Set(this.list().map((d) => d.scmName.toLowerCase()));
    const out: CreatedInVm[] = [];
    for (const s of await this.backend.call('scm.list', {})) {
      const at = s.name.lastIndexOf('@');
      if (at <= 0 || known.has(s.name.toLowerCase())) continue;
      const v = s.name.slice(at + 1);
      if (!vms.has(v.toLowerCase())) continue;
      const service = s.name.slice(0, at);
      try {
        await this.backend.call('reg.get', { key: vmServiceKey(v, service), name: CREATED_MARK });
        const image = await this.backend.call('reg.get', { key: vmServiceKey(v, service), name: 'ImagePath' });
        out.push({ vm: v, service, scmName: s.name, imagePath: typeof image.data === 'string' ? image.data : '', status: s });
      } catch (err) {
        if (!(err instanceof AgentError && err.code === Win32.ERROR_FILE_NOT_FOUND)) throw err;
      }
    }
    return out.sort((a, b) => a.scmName.localeCompare(b.scmName));
  }

  /** Plan against the host's current services; pure apart from reading them. */
  async plan(service: string, vm: string, share: string[] = []): Promise<DuplicationPlan> {
    const configs = await this.closureConfigs(service, share);
    const hostExe = this.backend.toWindowsPath(join(this.backend.paths.nativeDir, 'svcdup-host.exe'));
    try {
      return planDuplicate({ service, vm, configs, share, hostExe, existing: this.list(vm).map((d) => d.service) });
    } catch (err) {
      if (err instanceof PlanError || err instanceof RangeError) throw new UsageError(err.message);
      throw err;
    }
  }

  /**
   * The configurations the planner needs: the service and what it depends on, read one
   * by one (each is a round trip to the SCM); every service only when a DependOnGroup
   * needs group membership. Missing names are left for the planner to report.
   */
  private async closureConfigs(service: string, share: string[]): Promise<ServiceConfig[]> {
    const found = new Map<string, ServiceConfig | null>();
    const get = async (name: string): Promise<ServiceConfig | null> => {
      const key = name.toLowerCase();
      if (!found.has(key)) {
        try {
          found.set(key, await this.backend.call('scm.config', { name }));
        } catch (err) {
          if (!(err instanceof AgentError && err.code === Win32.ERROR_SERVICE_DOES_NOT_EXIST)) throw err;
          found.set(key, null);
        }
      }
      return found.get(key)!;
    };
    const queue = [service, ...share];
    let groups = false;
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      if (found.has(name.toLowerCase())) continue;
      const c = await get(name);
      if (!c) continue;
      groups ||= c.dependOnGroup.length > 0;
      queue.push(...c.dependOnService);
    }
    if (groups) {
      // Duplicates themselves are never members of a host group.
      for (const s of await this.backend.call('scm.list', {})) if (!s.name.includes('@')) await get(s.name);
    }
    return [...found.values()].filter((c): c is ServiceConfig => c !== null);
  }

  /** Register every planned duplicate (dependencies first), optionally start the root. */
  async dup(service: string, vm: string, opts: DupOptions = {}): Promise<DuplicationPlan> {
    const plan = await this.plan(service, vm, opts.share);
    const edits = (opts.set ?? []).map(parseSet);
    for (const p of plan.services) {
      const own = p.service.toLowerCase() === plan.root.toLowerCase();
      await this.journal.run('dup', `${p.service}@${vm}`, this.ctx, async (step) => {
        const copy = vmServiceKey(vm, p.service);
        await step('reg.copy', { from: `${SERVICES_KEY}\\${p.service}`, to: copy, root: SVCDUP_KEY });
        if (own) for (const e of edits) await step('reg.setValue', { key: `${copy}${e.subkey ? `\\${e.subkey}` : ''}`, value: e.value });
        await step('scm.create', serviceCreate(p));
        await step('db.duplicate', { vm, service: p.service, scmName: p.scmName, plan: p });
        await this.policyStep(vm, step);
      });
    }
    if (opts.start) await this.start(plan.root, vm, opts.startArgs);
    return plan;
  }

  /** Remove one duplicate (stopping it first); refuses while other duplicates depend on it. */
  async undup(service: string, vm: string): Promise<DuplicateRecord | CreatedInVm> {
    if (!this.get(vm, service)) {
      const created = (await this.createdInVm(vm)).find((c) => c.service.toLowerCase() === service.toLowerCase());
      if (created) return this.removeCreated(created);
    }
    const d = this.require(vm, service);
    const dependents = this.list(vm).filter((o) => o.plan.dependOnService.some((n) => n.toLowerCase() === d.scmName.toLowerCase()));
    if (dependents.length) throw new UsageError(`${d.scmName} is needed by ${dependents.map((o) => o.scmName).join(', ')}: undup those first`);
    const copy = vmServiceKey(vm, d.service);
    let tree: RegTree;
    try {
      tree = await this.backend.call('reg.export', { key: copy });
    } catch (err) {
      if (!(err instanceof AgentError && err.code === Win32.ERROR_FILE_NOT_FOUND)) throw err;
      tree = { name: d.service, values: [], subkeys: [] };
    }
    await this.journal.run('undup', d.scmName, this.ctx, async (step) => {
      await step('scm.delete', serviceCreate(d.plan));
      await step('reg.deleteTree', { key: copy, tree });
      await step('db.forgetDuplicate', { ...d });
      await this.policyStep(vm, step);
    });
    // The VM's Services key and svcdup's own key are removed with their last entry.
    await pruneEmptyKeys(this.backend, `${vmKey(vm)}\\Services`, SVCDUP_KEY);
    return d;
  }

  /** Remove a service a VM process created: its SCM registration and its copy key, journaled. */
  private async removeCreated(c: CreatedInVm): Promise<CreatedInVm> {
    const cfg = await this.backend.call('scm.config', { name: c.scmName });
    const tree = await this.backend.call('reg.export', { key: vmServiceKey(c.vm, c.service) });
    const create: ServiceCreate = {
      name: cfg.name,
      displayName: cfg.displayName,
      imagePath: cfg.imagePath,
      type: cfg.type,
      start: cfg.start,
      errorControl: cfg.errorControl,
      account: cfg.account,
      dependOnService: cfg.dependOnService,
    };
    await this.journal.run('undup', c.scmName, this.ctx, async (step) => {
      await step('scm.delete', create);
      await step('reg.deleteTree', { key: vmServiceKey(c.vm, c.service), tree });
    });
    await pruneEmptyKeys(this.backend, `${vmKey(c.vm)}\\Services`, SVCDUP_KEY);
    return c;
  }

  /** Start a duplicate: shared dependencies on the host and duplicated ones in the VM first, in order. */
  async start(service: string, vm: string, args: string[] = []): Promise<ServiceStatus> {
    const d = this.require(vm, service);
    for (const dep of await this.dependencyOrder(d)) await this.ensureRunning(dep, []);
    return this.ensureRunning(d.scmName, args);
  }

  /** Stop a duplicate, after the duplicates in its VM that depend on it. */
  async stop(service: string, vm: string): Promise<ServiceStatus> {
    const d = this.require(vm, service);
    for (const o of this.list(vm)) {
      if (o.plan.dependOnService.some((n) => n.toLowerCase() === d.scmName.toLowerCase())) await this.stop(o.service, vm);
    }
    await stopAndWait(this.backend, d.scmName);
    return this.backend.call('scm.status', { name: d.scmName });
  }

  /**
   * The rules every process of the VM runs with (svcdup-host reads them from the VM key,
   * svcdup run from a file): the user's policy plus what the VM's duplicates need.
   */
  policyText(vm: string): string {
    const record = getVm(this.db, vm);
    const dups = this.list(vm);
    const shared = [...new Set(dups.flatMap((d) => d.plan.dependOnService.filter((n) => !n.toLowerCase().endsWith(`@${vm.toLowerCase()}`))))].sort();
    const net = record ? netRules({ ...(record.address ? { address: record.address } : {}), portMap: portMapFromRecord(record.portMap) }) : '';
    return effectivePolicy(record?.policy ?? '', dups.map((d) => d.service), shared) + net + fileAliasRules(this.backend);
  }

  /** A new VM: its record and its registry key (with its policy), as one journaled operation. */
  async createVm(name: string, rules: string, identity: NetIdentity = { portMap: [] }): Promise<void> {
    await this.journal.run('vm create', name, this.ctx, async (step) => {
      await step('db.vm', { name, policy: rules, ...(identity.address ? { address: identity.address } : {}), portMap: portMapToRecord(identity.portMap) });
      // root HKLM\SOFTWARE: undoing the first VM's key also removes svcdup's own key
      await step('reg.ownKey', { key: vmKey(name), values: [{ name: 'Policy', type: 'REG_SZ', data: this.policyText(name) }], root: 'HKLM\\SOFTWARE' });
    });
  }

  /** Before a VM's processes are ended: undup its duplicates (dependents first) and what its processes created. */
  async emptyVm(name: string): Promise<string[]> {
    const removed: string[] = [];
    for (const c of await this.createdInVm(name)) removed.push((await this.removeCreated(c)).scmName);
    for (let left = this.list(name); left.length; left = this.list(name)) {
      const needed = new Set(left.flatMap((d) => d.plan.dependOnService.map((n) => n.toLowerCase())));
      const leaves = left.filter((d) => !needed.has(d.scmName.toLowerCase()));
      for (const d of leaves.length ? leaves : left) removed.push((await this.undup(d.service, name)).scmName);
    }
    return removed;
  }

  /** After its processes are gone: the VM's registry key and its record, journaled. */
  async forgetVm(name: string): Promise<void> {
    const record = getVm(this.db, name);
    let tree: RegTree | undefined;
    try {
      tree = await this.backend.call('reg.export', { key: vmKey(name) });
    } catch (err) {
      if (!(err instanceof AgentError && err.code === Win32.ERROR_FILE_NOT_FOUND)) throw err;
    }
    await this.journal.run('vm rm', name, this.ctx, async (step) => {
      if (tree) await step('reg.deleteTree', { key: vmKey(name), tree });
      if (record) await step('db.forgetVm', { name, policy: record.policy, createdAt: record.createdAt, address: record.address, portMap: record.portMap });
    });
    await pruneEmptyKeys(this.backend, `${SVCDUP_KEY}\\VMs`, 'HKLM\\SOFTWARE');
  }

  /** The VM's Policy value (read by svcdup-host) follows its duplicates: a journaled set with the old value kept. */
  private async policyStep(vm: string, step: <A>(kind: string, args: A) => Promise<void>): Promise<void> {
    const data = this.policyText(vm);
    const key = vmKey(vm);
    let previous: RegValue | undefined;
    try {
      previous = await this.backend.call('reg.get', { key, name: 'Policy' });
    } catch (err) {
      if (!(err instanceof AgentError && err.code === Win32.ERROR_FILE_NOT_FOUND)) throw err;
    }
    if (previous?.type === 'REG_SZ' && previous.data === data) return;
    await step('reg.setValue', { key, value: { name: 'Policy', type: 'REG_SZ', data }, ...(previous ? { previous } : {}) });
  }

  private require(vm: string, service: string): DuplicateRecord {
    const d = this.get(vm, service);
    if (!d) throw new UsageError(`${service} is not duplicated into VM ${vm} (see svcdup status)`);
    return d;
  }

  /**
   * SCM names to start before `d`, dependencies first (Wine's SCM starts none itself):
   * duplicates in the VM by their plans, shared host services by their host configuration.
   */
  private async dependencyOrder(d: DuplicateRecord): Promise<string[]> {
    const out: string[] = [];
    const seen = new Set<string>();
    const dupsInVm = this.list(d.vm);
    const visit = async (names: string[]): Promise<void> => {
      for (const n of names) {
        const key = n.toLowerCase();
        if (seen.has(key)) continue;
        seen.add(key);
        const dupOf = dupsInVm.find((o) => o.scmName.toLowerCase() === key);
        await visit(dupOf ? dupOf.plan.dependOnService : (await this.backend.call('scm.config', { name: n })).dependOnService);
        out.push(n);
      }
    };
    await visit(d.plan.dependOnService);
    return out;
  }

  private async ensureRunning(name: string, args: string[], timeoutMs = 60_000): Promise<ServiceStatus> {
    let s = await this.backend.call('scm.status', { name });
    if (s.state === 'STOPPED') {
      await this.backend.call('scm.start', { name, args }).catch((err: unknown) => {
        if (!(err instanceof AgentError && err.code === Win32.ERROR_SERVICE_ALREADY_RUNNING)) throw err;
      });
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      s = await this.backend.call('scm.status', { name });
      if (s.state === 'RUNNING') return s;
      if (s.state === 'STOPPED') {
        const code = s.win32ExitCode === 1066 ? s.serviceExitCode : s.win32ExitCode;
        throw new SvcdupError(
          `${name} stopped while starting: Win32 exit code ${s.win32ExitCode}${s.win32ExitCode === 1066 ? `, service exit code ${s.serviceExitCode}` : ''}` +
            (code === WSAEADDRINUSE
              ? `\n${code} is WSAEADDRINUSE: the port is taken. On Linux (so under Wine) a host listener on the wildcard address (0.0.0.0) ` +
                `holds the port on every 127.x.y.z address, this VM's too, which Windows would allow. Fix: bind the host instance to ` +
                `127.0.0.1, or give the VM a port map (svcdup vm create NAME --port-map PORT:OTHERPORT). svcdup trace --vm VM shows the bind.`
              : ''),
        );
      }
      if (Date.now() > deadline) throw new SvcdupError(`${name} did not reach RUNNING within ${timeoutMs / 1000} s (state ${s.state})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function serviceCreate(p: PlannedService): ServiceCreate {
  return {
    name: p.scmName,
    displayName: p.displayName,
    imagePath: p.imagePath,
    type: 0x10,
    // svcdup starts duplicates (and their dependencies) itself: never at boot.
    start: 'DEMAND',
    errorControl: p.original.errorControl,
    account: p.original.account || 'LocalSystem',
    dependOnService: p.dependOnService,
    description: `svcdup duplicate of ${p.service}`,
  };
}

/** `Parameters\Greeting=hello` -> a REG_SZ under the VM's copy; `Name:REG_DWORD=5` for other types. */
export function parseSet(spec: string): { subkey: string; value: RegValue } {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set ${spec}: expected PATH\\NAME=VALUE, e.g. Parameters\\Port=8080`);
  let path = spec.slice(0, eq);
  const data = spec.slice(eq + 1);
  let type = 'REG_SZ';
  const colon = path.lastIndexOf(':');
  if (colon > 0 && /^REG_[A-Z_]+$/.test(path.slice(colon + 1))) {
    type = path.slice(colon + 1);
    path = path.slice(0, colon);
  }
  const slash = path.lastIndexOf('\\');
  const subkey = slash >= 0 ? path.slice(0, slash) : '';
  const name = path.slice(slash + 1);
  if (subkey.split('\\').some((p) => p === '..' || (subkey && p === ''))) throw new UsageError(`--set ${spec}: bad key path`);
  switch (type) {
    case 'REG_SZ':
    case 'REG_EXPAND_SZ':
      return { subkey, value: { name, type, data } };
    case 'REG_DWORD': {
      const n = Number(data);
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UsageError(`--set ${spec}: not a DWORD`);
      return { subkey, value: { name, type, data: n } };
    }
    case 'REG_QWORD':
      if (!/^\d+$/.test(data)) throw new UsageError(`--set ${spec}: not a QWORD`);
      return { subkey, value: { name, type, data } };
    case 'REG_MULTI_SZ':
      return { subkey, value: { name, type, data: data.split(',') } };
    default:
      throw new UsageError(`--set ${spec}: type ${type} is not supported (REG_SZ, REG_EXPAND_SZ, REG_DWORD, REG_QWORD, REG_MULTI_SZ)`);
  }
}
