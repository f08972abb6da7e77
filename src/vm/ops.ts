// VM operations: create, list, remove, run a program inside, list processes, trace.
// Everything Windows-side goes through the host backend and svcdup-run.exe (docs/vm.md);
// create and remove apply the plans of lifecycle.ts through the journal.
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Paths } from '../config.js';
import { SvcdupError, UsageError } from '../errors.js';
import type { ExecOptions, ExecResult, HostBackend, RegTree } from '../backend/types.js';
import { absentAs, pruneEmptyKeys } from '../backend/registry.js';
import { SOFTWARE_KEY, VMS_KEY, vmKey } from '../plan/keys.js';
import type { Step } from '../plan/steps.js';
import { composeVmRules, rulesSizeProblem } from '../plan/system.js';
import { netRules, planIdentity, portMapFromRecord } from '../net/index.js';
import { planVmCreate, planVmForget } from './lifecycle.js';
import { validateVmName } from './names.js';
import { compilePolicy } from './policy.js';
import type { VmRecord, VmStore } from './store.js';
import { cloneKeys, cowKey, removeKeys } from './keys.js';
import { cloneFiles, fileAliasRules, removeVmState } from './files.js';
import { vmLogsDir } from '../ops/logs.js';
import { ensureCgroups, hasLimits, limitsText, limitsValueText, planCgroups, prepareVmLimits, removeCgroups, type VmLimits } from '../ops/limits.js';
import { vmRulesOf, writeRulesFile } from './rules.js';

export interface VmBackend extends HostBackend {
  readonly paths: Paths;
  /** a Windows path of the host as a path this process can open (the VM's file area) */
  toHostPath(winPath: string): string;
}

export interface VmProcess {
  pid: number;
  ppid: number;
  image: string;
  vm: string;
  threads: number;
}

export interface VmInfo extends VmRecord {
  processes: number;
}

/**
 * What the VM operations need of the duplicates layer (src/dup/dup.ts, the Duplicates
 * class): the journal that applies their plans and the removal of a VM's duplicates. Without it (tests, benchmarks) records are written
 * directly and no registry key is made.
 */
export interface VmHostHooks {
  /** apply planned steps as one journaled operation (all or none) */
  apply(op: string, target: string, steps: readonly Step[]): Promise<void>;
  /** undup everything in the VM; returns the SCM names removed */
  emptyVm(name: string): Promise<string[]>;
}

export class Vms {
  constructor(
    readonly backend: VmBackend,
    readonly store: VmStore,
    private readonly hooks?: VmHostHooks,
  ) {}

  private exe(): string {
    const p = join(this.backend.paths.nativeDir, 'svcdup-run.exe');
    if (!existsSync(p) || !existsSync(join(this.backend.paths.nativeDir, 'svcdup-hook.dll')))
      throw new SvcdupError(`native binaries are not built (${p} or svcdup-hook.dll is missing): run npm run build`);
    return this.backend.toWindowsPath(p);
  }

  /** The VM's own directory under $SVCDUP_HOME: its rules file, nothing else. */
  dir(name: string): string {
    return join(this.backend.paths.home, 'vms', name);
  }

  require(name: string): VmRecord {
    validateVmName(name);
    const r = this.store.get(name);
    if (!r) throw new UsageError(`no VM named ${name} (create it with: svcdup vm create ${name})`);
    return r;
  }

  /** `net`: --ip / --port-map; without either the VM gets the next free 127.77.x.y (docs/network.md). */
  async create(name: string, policyFile?: string, net: { ip?: string; portMap?: string } = {}, from?: string, limits: VmLimits = {}): Promise<VmRecord> {
    validateVmName(name);
    // the cgroups' places (Wine) are decided before anything changes: a host without them refuses here
    const held = hasLimits(limits)
      ? { ...limits, ...(this.backend.kind === 'wine' ? { cgroups: planCgroups(this.backend.paths.home, name, limits) } : {}) }
      : undefined;
    if (this.store.get(name)) throw new UsageError(`VM ${name} already exists`);
    if (from !== undefined) this.require(from);
    let rules = '';
    if (policyFile) {
      let text: string;
      try {
        text = await readFile(policyFile, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read policy file ${policyFile}: ${(err as Error).message}`);
      }
      rules = compilePolicy((await import('./policy-file.js')).parsePolicy(text, policyFile));
    }
    const identity = planIdentity(
      net,
      this.store.list().map((v) => ({ name: v.name, ...(v.address ? { address: v.address } : {}), portMap: portMapFromRecord(v.portMap) })),
    );
    const text = composeVmRules({ vm: name, user: rules, net: netRules(identity), aliases: fileAliasRules(this.backend), duplicates: [] });
    // the whole rules text must fit the hook's config section, or every process of the VM would fail
    const tooLarge = rulesSizeProblem(text);
    if (tooLarge) throw new UsageError(`${policyFile ?? 'policy'}: ${tooLarge}`);
    if (held) ensureCgroups(held);
    const logs = vmLogsDir(this.backend.paths.home, name);
    mkdirSync(logs, { recursive: true });
    const extra = { ...(held ? { limits: held, limitsText: limitsValueText(held) } : {}), logsDir: this.backend.toWindowsPath(logs) };
    if (this.hooks) await this.hooks.apply('vm create', name, planVmCreate(name, rules, identity, text, extra));
    else this.store.insert(name, rules);
    await this.writeRules(name);
    // a stale area (a VM of this name removed by hand) must not leak into the new one
    removeVmState(this.backend, name);
    if (from !== undefined) {
      cloneFiles(this.backend, from, name);
      await cloneKeys(this.backend, from, name);
    }
    const made = this.store.get(name)!;
    // here, not in a command: the fleet, the dashboard and library callers record it too
    this.store.event('vm-created', name, {
      ...(made.address ? { address: made.address } : {}),
      ...(hasLimits(made.limits) ? { limits: limitsText(made.limits) } : {}),
      ...(from !== undefined ? { from } : {}),
    });
    return made;
  }

  /** The rules file svcdup-run hands to the hook: the VM's whole rules text (composeVmRules), as its Policy value holds it. */
  private async writeRules(name: string): Promise<string> {
    this.require(name);
    return writeRulesFile(this.backend.paths.home, name, composeVmRules(vmRulesOf(this.store, this.backend, name)));
  }

  async list(): Promise<VmInfo[]> {
    const records = this.store.list();
    const procs = records.length ? await this.ps() : [];
    return records.map((r) => ({ ...r, processes: procs.filter((p) => p.vm === r.name).length }));
  }

  /** End every process of the VM, then remove its record and files. */
  async remove(name: string): Promise<{ killed: number; undup: string[] }> {
    this.require(name);
    const undup = this.hooks ? await this.hooks.emptyVm(name) : [];
    const dups = this.store.duplicates(name).map((d) => d.service);
    if (dups.length) throw new UsageError(`VM ${name} still holds duplicates (${dups.join(', ')}): remove them first with svcdup undup SERVICE --vm ${name}`);
    const r = await this.native(['--kill-vm', name]);
    if (r.code !== 0) throw new SvcdupError(`could not end the processes of VM ${name}: ${r.stderr.trim() || `exit ${r.code}`}`);
    const killed = (JSON.parse(r.stdout) as { killed: number }).killed;
    const left = await this.ps(name);
    if (left.length) throw new SvcdupError(`VM ${name} still has processes (${left.map((p) => `${p.image}:${p.pid}`).join(', ')}); not removed`);
    await rm(this.dir(name), { recursive: true, force: true });
    // the VM's private files go before its record: a kill in between leaves a VM that rm removes again
    removeVmState(this.backend, name);
    removeCgroups(this.store.get(name)?.limits);
    await rm(vmLogsDir(this.backend.paths.home, name), { recursive: true, force: true });
    if (this.hooks) await this.forget(name, this.hooks);
    else {
      // the VM's private registry: with a duplicates layer it goes with the VM's key (forget)
      await removeKeys(this.backend, name);
      await pruneEmptyKeys(this.backend, cowKey(name).slice(0, cowKey(name).lastIndexOf('\\')), 'HKLM\\SOFTWARE');
      this.store.delete(name);
    }
    this.store.event('vm-removed', name, { killed, undup });
    return { killed, undup };
  }

  /** After its processes are gone: the VM's registry key and its record, journaled; then svcdup's emptied keys. */
  private async forget(name: string, hooks: VmHostHooks): Promise<void> {
    const tree = await this.backend.call('reg.export', { key: vmKey(name) }).catch(absentAs<RegTree | undefined>(undefined));
    await hooks.apply('vm rm', name, planVmForget(name, this.store.get(name), tree));
    await pruneEmptyKeys(this.backend, VMS_KEY, SOFTWARE_KEY);
  }

  /** Run argv inside the VM; resolves with its exit code. */
  async run(name: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new UsageError('run: no program given (svcdup run --vm NAME -- EXE ARGS...)');
    prepareVmLimits(this.backend.paths.home, this.require(name).limits);
    const rules = await this.writeRules(name);
    const [exe, ...args] = argv as [string, ...string[]];
    // a Linux path to an existing file is spelled the Windows way; anything else is Windows' to resolve
    const winExe = isAbsolute(exe) && existsSync(exe) ? this.backend.toWindowsPath(exe) : exe;
    return this.backend.exec([this.exe(), '--vm', name, '--policy', this.backend.toWindowsPath(rules), '--', winExe, ...args], opts);
  }

  /** Processes in VMs (all, or one VM's), as the VM config sections say. */
  async ps(name?: string): Promise<VmProcess[]> {
    if (name) this.require(name);
    const r = await this.native(['--ps', ...(name ? ['--vm', name] : [])]);
    if (r.code !== 0) throw new SvcdupError(`cannot list VM processes: ${r.stderr.trim() || `exit ${r.code}`}`);
    return JSON.parse(r.stdout) as VmProcess[];
  }

  /** Stream the VM's decisions as JSON lines to our stdout until stopped (or for `seconds`). */
  async trace(name: string, seconds = 0, opts: ExecOptions = { inherit: true }): Promise<ExecResult> {
    this.require(name);
    return this.native(['--trace', name, ...(seconds ? ['--seconds', String(seconds)] : [])], opts);
  }

  private native(args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.backend.exec([this.exe(), ...args], opts);
  }
}
