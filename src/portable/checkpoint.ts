// Checkpoints (docs/state.md "Checkpoints"): point-in-time copies of a VM's state, taken and
// restored with its duplicates stopped (and started again after). A checkpoint is the VM's
// file area copied (reflinks where the file system has them) to
// C:\ProgramData\svcdup\VMs\<vm>\checkpoints\<name>\files, and its registry copies (Cow and
// the duplicates' service keys, class markers included: reg.copyTree) under
// HKLM\SOFTWARE\svcdup\VMs\<vm>\Checkpoints\<name>. Both live inside the VM's own folder and
// key, so `vm rm` removes them with the VM. Taking and restoring are journaled operations.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedBackend } from '../backend/index.js';
import { treeBytes } from '../backend/folders.js';
import type { Duplicates } from '../dup/dup.js';
import { UsageError } from '../errors.js';
import { absentAs } from '../backend/registry.js';
import { vmKey, vmServicesKey } from '../plan/keys.js';
import type { PlannedStep } from '../state/journal.js';
import { getVm } from '../state/vms.js';
import { withDuplicatesStopped } from './export.js';
import { fileAreaWin, vmStateDirWin } from '../vm/files.js';
import { cowKey } from '../vm/keys.js';

/** Checkpoint names: lowercase letters, digits and inner hyphens, up to 40 characters. */
const NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

export const checkpointsKey = (vm: string): string => `${vmKey(vm)}\\Checkpoints`;
const checkpointKey = (vm: string, name: string): string => `${checkpointsKey(vm)}\\${name}`;
const checkpointFilesWin = (vm: string, name: string): string => `${vmStateDirWin(vm)}\\checkpoints\\${name}\\files`;

export interface CheckpointInfo {
  name: string;
  createdAt: string;
  /** bytes of the VM's files in it */
  fileBytes: number;
}

async function keyExists(backend: ManagedBackend, key: string): Promise<boolean> {
  return backend.call('reg.query', { key }).then(() => true, absentAs(false));
}

function requireVm(dups: Duplicates, vm: string): void {
  if (!getVm(dups.db, vm)) throw new UsageError(`no VM named ${vm}`);
}

export async function listCheckpoints(backend: ManagedBackend, dups: Duplicates, vm: string): Promise<CheckpointInfo[]> {
  requireVm(dups, vm);
  const names = await backend.call('reg.query', { key: checkpointsKey(vm) }).then((k) => k.subkeys, absentAs<string[]>([]));
  const out: CheckpointInfo[] = [];
  for (const name of names) {
    const created = await backend.call('reg.get', { key: checkpointKey(vm, name), name: 'Created' }).catch(() => undefined);
    out.push({
      name,
      createdAt: typeof created?.data === 'string' ? created.data : '',
      fileBytes: (await treeBytes(backend.toHostPath(checkpointFilesWin(vm, name)))) ?? 0,
    });
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Take a checkpoint: the VM's duplicates are stopped for the copy, then started again. */
export async function checkpointVm(backend: ManagedBackend, dups: Duplicates, vm: string, name?: string): Promise<CheckpointInfo & { restarted: string[] }> {
  requireVm(dups, vm);
  const createdAt = new Date().toISOString();
  const n = name ?? `c${createdAt.replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase()}`;
  if (!NAME.test(n)) throw new UsageError(`invalid checkpoint name "${n}": lowercase letters, digits and inner hyphens, 1 to 40 characters`);
  if (await keyExists(backend, checkpointKey(vm, n))) throw new UsageError(`VM ${vm} has a checkpoint named ${n} already`);
  const { result, restarted } = await withDuplicatesStopped(dups, vm, true, 'checkpoint', async () => {
    const steps: PlannedStep[] = [
      { kind: 'reg.ownKey', args: { key: checkpointKey(vm, n), values: [{ name: 'Created', type: 'REG_SZ', data: createdAt }], root: vmKey(vm) } },
    ];
    for (const [from, sub] of [
      [cowKey(vm), 'Cow'],
      [vmServicesKey(vm), 'Services'],
    ] as const)
      if (await keyExists(backend, from)) steps.push({ kind: 'reg.copy', args: { from, to: `${checkpointKey(vm, n)}\\${sub}`, root: vmKey(vm) } });
    const area = backend.toHostPath(fileAreaWin(vm));
    const bytes = (await treeBytes(area)) ?? 0;
    if (existsSync(area)) steps.push({ kind: 'files.snapshot', args: { vm, folder: fileAreaWin(vm), to: checkpointFilesWin(vm, n), bytes } });
    await dups.journal.runSteps('vm checkpoint', `${vm}:${n}`, { backend, db: dups.db }, steps);
    return { name: n, createdAt, fileBytes: bytes };
  });
  return { ...result, restarted };
}

/**
 * Put the VM's files and registry copies back as they were at checkpoint `name`: the file
 * area swapped for a copy of the checkpoint's, the Cow copies and the service-key copies of
 * the duplicates it has now (and had then) replaced by the checkpoint's. Journaled: a failure
 * or a kill puts back what was there.
 */
export async function restoreVm(backend: ManagedBackend, dups: Duplicates, vm: string, name: string): Promise<{ name: string; restarted: string[] }> {
  requireVm(dups, vm);
  const ck = checkpointKey(vm, name);
  if (!NAME.test(name) || !(await keyExists(backend, ck)))
    throw new UsageError(`VM ${vm} has no checkpoint named ${name} (svcdup vm checkpoints ${vm} lists them)`);
  const { restarted } = await withDuplicatesStopped(dups, vm, true, 'restore', async () => {
    const saved = `${vmKey(vm)}\\Restoring`;
    const pairs: [string, string][] = [[cowKey(vm), `${ck}\\Cow`]];
    for (const d of dups.list(vm)) pairs.push([`${vmServicesKey(vm)}\\${d.service}`, `${ck}\\Services\\${d.service}`]);
    const steps: PlannedStep[] = [];
    const state = backend.toHostPath(vmStateDirWin(vm));
    steps.push({
      kind: 'files.place',
      args: {
        from: backend.toHostPath(checkpointFilesWin(vm, name)),
        staging: join(state, '.svcdup-tmp.restore.files'),
        to: backend.toHostPath(fileAreaWin(vm)),
        old: join(state, '.svcdup-tmp.restore.old'),
        hadArea: existsSync(backend.toHostPath(fileAreaWin(vm))),
      },
    });
    for (const [i, [key, from]] of pairs.entries()) {
      if (!(await keyExists(backend, from)) && !(await keyExists(backend, key))) continue;
      const keep = `${saved}\\${i}`;
      const had = await keyExists(backend, key);
      if (had) steps.push({ kind: 'reg.copy', args: { from: key, to: keep, root: vmKey(vm) } });
      steps.push({ kind: 'reg.replace', args: { key, from, ...(had ? { saved: keep } : {}) } });
    }
    await dups.journal.runSteps('vm restore', `${vm}:${name}`, { backend, db: dups.db }, steps);
    // what the undo would have needed
    await backend.call('reg.deleteKey', { key: saved }).catch(() => undefined);
    await backend.removeFolder(vmStateDirWin(vm) + '\\.svcdup-tmp.restore.old');
  });
  return { name, restarted };
}
