// A VM's private registry (docs/state.md, "Registry"): the copy-on-write copies its processes
// made live under HKLM\SOFTWARE\svcdup\VMs\<vm>\Cow\{MACHINE,USER}\..., a copy's class string
// marks a tombstone ("svcdup.deleted") or a key whose host key is hidden ("svcdup.opaque").
// diffKeys compares them with the host's keys (as `docker diff` does); cloneKeys copies them
// to another VM. All I/O goes through the host backend's agent.
import type { HostBackend, RegTree, RegValue } from '../backend/types.js';
import { AgentError, UsageError, Win32 } from '../errors.js';
import { vmKey } from '../plan/keys.js';
import { validateVmName } from './names.js';

export const MARK_DELETED = 'svcdup.deleted';
export const MARK_OPAQUE = 'svcdup.opaque';

/** Where a VM's copies live. */
export const cowKey = (vm: string): string => `${vmKey(vm)}\\Cow`;

export interface KeyChange {
  change: 'Added' | 'Changed' | 'Deleted';
  /** the key as the VM sees it: HKLM\... or HKU\<sid>\... */
  key: string;
  /** set when the change is to one value of the key ('' is the default value) */
  value?: string;
}

const notFound = (err: unknown): boolean => err instanceof AgentError && err.code === Win32.ERROR_FILE_NOT_FOUND;

async function exportOrNull(backend: HostBackend, key: string): Promise<RegTree | null> {
  try {
    return await backend.call('reg.export', { key });
  } catch (err) {
    if (notFound(err)) return null;
    throw err;
  }
}

async function hostKey(backend: HostBackend, key: string): Promise<{ values: RegValue[]; subkeys: string[] } | null> {
  try {
    return await backend.call('reg.query', { key });
  } catch (err) {
    if (notFound(err)) return null;
    throw err;
  }
}

const same = (a: RegValue, b: RegValue): boolean => a.type === b.type && JSON.stringify(a.data) === JSON.stringify(b.data);
const lower = (s: string): string => s.toLowerCase();

/**
 * What VM `vm` changed in the registry: keys and values Added, Changed (a key whose values
 * differ from the host's now) and Deleted (tombstones, values gone from a copy). A key the
 * VM only opened for writing is a copy identical to the host's and is not listed.
 */
export async function diffKeys(backend: HostBackend, vm: string): Promise<KeyChange[]> {
  validateVmName(vm);
  const root = await exportOrNull(backend, cowKey(vm));
  const out: KeyChange[] = [];
  if (!root) return out;
  const walk = async (node: RegTree, key: string, hostVisible: boolean): Promise<void> => {
    const host = hostVisible ? await hostKey(backend, key) : null;
    if (node.class === MARK_DELETED) {
      if (host) out.push({ change: 'Deleted', key });
      return;
    }
    if (!host) {
      out.push({ change: 'Added', key });
      for (const v of node.values) out.push({ change: 'Added', key, value: v.name });
    } else {
      const changes: KeyChange[] = [];
      const mine = new Map(node.values.map((v) => [lower(v.name), v]));
      const theirs = new Map(host.values.map((v) => [lower(v.name), v]));
      for (const v of node.values) {
        const h = theirs.get(lower(v.name));
        if (!h) changes.push({ change: 'Added', key, value: v.name });
        else if (!same(v, h)) changes.push({ change: 'Changed', key, value: v.name });
      }
      for (const v of host.values) if (!mine.has(lower(v.name))) changes.push({ change: 'Deleted', key, value: v.name });
      if (changes.length) out.push({ change: 'Changed', key }, ...changes);
    }
    const opaque = node.class === MARK_OPAQUE;
    if (opaque && host) {
      // re-created after a deletion (or private): the host's subkeys are not in the VM's view
      const kept = new Set(node.subkeys.map((s) => lower(s.name)));
      for (const s of host.subkeys) if (!kept.has(lower(s))) out.push({ change: 'Deleted', key: `${key}\\${s}` });
    }
    for (const sub of node.subkeys) await walk(sub, `${key}\\${sub.name}`, hostVisible && !opaque && !!host);
  };
  for (const hive of root.subkeys) {
    const prefix = lower(hive.name) === 'machine' ? 'HKLM' : lower(hive.name) === 'user' ? 'HKU' : null;
    if (!prefix) continue;
    // the hives themselves are never changed by a VM: their subkeys are what counts
    for (const sub of hive.subkeys) await walk(sub, `${prefix}\\${sub.name}`, true);
  }
  return out;
}

/** Copy VM `from`'s private registry to VM `to` (which must have none yet), tombstones included. */
export async function cloneKeys(backend: HostBackend, from: string, to: string): Promise<void> {
  validateVmName(from);
  validateVmName(to);
  if (lower(from) === lower(to)) throw new UsageError(`cannot clone VM ${from} into itself`);
  if (await exportOrNull(backend, cowKey(to))) throw new UsageError(`VM ${to} already has registry changes of its own`);
  try {
    await backend.call('reg.copyTree', { from: cowKey(from), to: cowKey(to) });
  } catch (err) {
    if (notFound(err)) return; // nothing changed in `from`: nothing to copy
    throw err;
  }
}

/** Remove VM `vm`'s private registry (Vms.remove does it when no duplicates layer owns the VM's key). */
export async function removeKeys(backend: HostBackend, vm: string): Promise<void> {
  validateVmName(vm);
  await backend.call('reg.deleteKey', { key: cowKey(vm) }).catch((err: unknown) => {
    if (!notFound(err)) throw err;
  });
}
