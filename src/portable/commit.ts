// vm commit (docs/state.md "Commit"): FVM's commit. The VM's changes (what `vm diff` lists:
// its files and registry keys) written into the host, or the named ones only; what the VM
// deleted is deleted on the host. A file the host changed after the VM's copy was made (its
// modification time later than the copy's birth), or a key the host wrote after the VM last
// wrote its copy (the keys' last write times), is a conflict: listed and not written,
// unless --force. One journaled operation: host files replaced or deleted are first kept
// under the VM's folder (moved or copied, reflinks where the file system has them) so that
// the undo puts them back; keys are written with the values they had kept for the undo.
// `planCommit` is pure; `commitVm` gathers the facts and applies the plan.
import { existsSync, promises as fs, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedBackend } from '../backend/index.js';
import type { RegTree, RegValue } from '../backend/types.js';
import type { Duplicates } from '../dup/dup.js';
import { UsageError } from '../errors.js';
import { absentAs } from '../backend/registry.js';
import type { PlannedStep } from '../state/journal.js';
import { getVm } from '../state/vms.js';
import { diffFiles, fileAreaWin, WHITEOUT_PREFIX, vmStateDirWin, type FileChange } from '../vm/files.js';
import { cowKey, diffKeys, type KeyChange } from '../vm/keys.js';

/** A file change with what the planner needs to know of both sides. */
export interface FileFact extends FileChange {
  /** the VM's copy (or whiteout) on this machine */
  area: string;
  /** the host's path on this machine */
  host: string;
  /** the VM's copy is a folder */
  dir: boolean;
  /** when the VM's copy or whiteout was made (its birth time, ms) */
  born: number;
  /** the host's file now: its modification time (ms), absent when the host has none */
  hostMtime?: number;
}

export interface KeyFact extends KeyChange {
  /** the VM's value (Added or Changed value), or the VM's key's values (Added key) */
  vmValues?: RegValue[];
  /** the host's value now (Changed or Deleted value) */
  hostValue?: RegValue;
  /** the host's key now (Deleted key): what the undo writes back */
  hostTree?: RegTree;
  /** the host key's last write time (ms), when the host has the key */
  hostWritten?: number;
  /**
   * the last write time (ms) of the VM's copy (or of its nearest copied ancestor): a key has
   * no creation time, so this is the latest the VM's copy can have been made
   */
  vmWritten?: number;
}

export interface CommitPlan {
  /** what is written, one line each: `A C:\x`, `C HKLM\...[value]` */
  items: string[];
  /** changes the host made after the VM's copy: not written without --force */
  conflicts: string[];
  steps: PlannedStep[];
  /** whiteouts to remove once done (the host no longer has what they hid) */
  whiteouts: string[];
}

const lower = (s: string): string => s.toLowerCase();
/** `p` is one of `sel` or under one (files: C:\a\b under C:\a; keys: HKLM\x\y under HKLM\x), without case. */
const selected = (p: string, sel: readonly string[]): boolean =>
  sel.length === 0 || sel.some((s) => lower(p) === lower(s.replace(/\\+$/, '')) || lower(p).startsWith(`${lower(s.replace(/\\+$/, ''))}\\`));

/**
 * The steps of a commit (pure). Files: Added folders made, Added/Changed files copied over
 * the host's (kept at `backup(i)` first), Deleted ones moved to `backup(i)`. Keys: an Added
 * key written whole, a value set or deleted with the host's value kept for the undo, a
 * Deleted key removed with its export kept. Conflicts (a file's host change time later than
 * the VM's copy's birth; a host key written after the VM's copy was last written) are skipped
 * without `force`.
 */
export function planCommit(
  files: readonly FileFact[],
  keys: readonly KeyFact[],
  opts: { select?: readonly string[]; force?: boolean; backup: (i: number) => string },
): CommitPlan {
  const sel = opts.select ?? [];
  const plan: CommitPlan = { items: [], conflicts: [], steps: [], whiteouts: [] };
  files.forEach((f, i) => {
    if (!selected(f.path, sel)) return;
    const line = `${f.kind} ${f.path}`;
    if (f.kind !== 'A' && f.hostMtime !== undefined && f.hostMtime > f.born) {
      plan.conflicts.push(`${line}: the host changed it after the VM's copy was made`);
      if (!opts.force) return;
    }
    plan.items.push(line);
    if (f.kind === 'D') {
      plan.steps.push({ kind: 'files.commitDelete', args: { path: f.host, backup: opts.backup(i) } });
      plan.whiteouts.push(f.area);
    } else if (f.dir) plan.steps.push({ kind: 'files.commitDir', args: { to: f.host } });
    else plan.steps.push({ kind: 'files.commit', args: { from: f.area, to: f.host, backup: opts.backup(i), existed: f.hostMtime !== undefined } });
  });
  const addedKeys = new Set(keys.filter((k) => k.change === 'Added' && k.value === undefined).map((k) => lower(k.key)));
  for (const k of keys) {
    if (!selected(k.key, sel)) continue;
    // values of an Added key came with it
    if (k.value !== undefined && addedKeys.has(lower(k.key))) continue;
    const line = `${k.change[0]} ${k.key}${k.value !== undefined ? ` [${k.value || '(default)'}]` : ''}`;
    if (k.hostWritten !== undefined && k.vmWritten !== undefined && k.hostWritten > k.vmWritten) {
      plan.conflicts.push(`${line}: the host changed the key after the VM's copy was made`);
      if (!opts.force) continue;
    }
    if (k.value === undefined) {
      if (k.change === 'Added') {
        plan.items.push(line);
        plan.steps.push({ kind: 'reg.ownKey', args: { key: k.key, values: k.vmValues ?? [], root: k.key } });
      } else if (k.change === 'Deleted' && k.hostTree) {
        plan.items.push(line);
        plan.steps.push({ kind: 'reg.deleteTree', args: { key: k.key, tree: k.hostTree } });
      }
      continue;
    }
    plan.items.push(line);
    if (k.change === 'Deleted') plan.steps.push({ kind: 'reg.unsetValue', args: { key: k.key, previous: k.hostValue! } });
    else plan.steps.push({ kind: 'reg.setValue', args: { key: k.key, value: k.vmValues![0]!, ...(k.hostValue ? { previous: k.hostValue } : {}) } });
  }
  return plan;
}

const birth = (p: string): number => {
  const s = statSync(p);
  return s.birthtimeMs || s.ctimeMs;
};

/** The VM's copy of a key (HKLM\x -> ...\Cow\MACHINE\x, HKU\s\x -> ...\Cow\USER\s\x). */
const copyOf = (vm: string, key: string): string => `${cowKey(vm)}\\${/^HKLM\\/i.test(key) ? 'MACHINE' : 'USER'}\\${key.replace(/^HK(LM|U)\\/i, '')}`;

const orNull = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(absentAs(undefined));

export interface CommitResult {
  vm: string;
  dryRun: boolean;
  committed: string[];
  conflicts: string[];
  /** conflicts written anyway (--force) */
  forced: boolean;
}

export async function commitVm(
  backend: ManagedBackend,
  dups: Duplicates,
  vm: string,
  opts: { select?: string[]; dryRun?: boolean; force?: boolean } = {},
): Promise<CommitResult> {
  if (!getVm(dups.db, vm)) throw new UsageError(`no VM named ${vm}`);
  const areaRoot = backend.toHostPath(fileAreaWin(vm));
  const files: FileFact[] = diffFiles(backend, vm).map((c) => {
    const rel = `${c.path[0]}${c.path.slice(2)}`;
    const parts = rel.split('\\');
    const area = c.kind === 'D' ? join(areaRoot, ...parts.slice(0, -1), `${WHITEOUT_PREFIX}${parts[parts.length - 1]}`) : join(areaRoot, ...parts);
    const host = backend.toHostPath(c.path);
    const hs = existsSync(host) ? statSync(host) : undefined;
    return { ...c, area, host, dir: c.kind !== 'D' && statSync(area).isDirectory(), born: birth(area), ...(hs ? { hostMtime: hs.mtimeMs } : {}) };
  });
  const keys: KeyFact[] = [];
  /** a key's last write time; for a VM's copy, of the nearest ancestor that is one (an opaque key's host subkeys have none) */
  const written = async (key: string, stop: string): Promise<number | undefined> => {
    for (let at = key; at.length >= stop.length; at = at.slice(0, at.lastIndexOf('\\'))) {
      const q = await orNull(backend.call('reg.query', { key: at }));
      if (q || at === stop) return q?.written;
    }
    return undefined;
  };
  for (const k of await diffKeys(backend, vm)) {
    const f: KeyFact = { ...k };
    if (k.value !== undefined || k.change === 'Deleted') {
      const host = await written(k.key, k.key);
      const mine = await written(copyOf(vm, k.key), cowKey(vm));
      if (host !== undefined) f.hostWritten = host;
      if (mine !== undefined) f.vmWritten = mine;
    }
    if (k.value === undefined && k.change === 'Added') f.vmValues = (await backend.call('reg.query', { key: copyOf(vm, k.key) })).values;
    else if (k.value === undefined && k.change === 'Deleted') {
      const t = await orNull(backend.call('reg.export', { key: k.key }));
      if (t) f.hostTree = t;
    } else if (k.value !== undefined) {
      const host = await orNull(backend.call('reg.get', { key: k.key, name: k.value }));
      if (host) f.hostValue = host;
      if (k.change !== 'Deleted') f.vmValues = [await backend.call('reg.get', { key: copyOf(vm, k.key), name: k.value })];
    }
    if (k.value !== undefined || k.change !== 'Changed') keys.push(f);
  }
  const backups = join(backend.toHostPath(vmStateDirWin(vm)), `.svcdup-tmp.commit.${process.pid}`);
  const plan = planCommit(files, keys, { ...(opts.select ? { select: opts.select } : {}), force: !!opts.force, backup: (i) => join(backups, String(i)) });
  const result = { vm, dryRun: !!opts.dryRun, committed: plan.items, conflicts: plan.conflicts, forced: !!opts.force && plan.conflicts.length > 0 };
  if (opts.dryRun || plan.steps.length === 0) return result;
  try {
    await dups.journal.runSteps('vm commit', vm, { backend, db: dups.db }, plan.steps);
    // the host has none of what these hid now
    for (const w of plan.whiteouts) await fs.rm(w, { force: true });
  } finally {
    await fs.rm(backups, { recursive: true, force: true });
  }
  return result;
}
