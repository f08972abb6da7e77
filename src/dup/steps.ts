// How each kind of step (src/plan/steps.ts) is applied to the host and undone: the journal's
// step kinds for dup, undup, vm create and vm rm. Undo is idempotent and works whether or
// not apply ran (see src/state/journal.ts).
import { constants, existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, rmdir, stat, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ManagedBackend } from '../backend/index.js';
import { directImage } from '../plan/direct.js';
import { copyTree } from '../backend/folders.js';
import type { DirectImageArgs, SnapshotArgs } from '../plan/steps.js';
import type { HostBackend, RegTree, RegValue, ServiceCreate } from '../backend/types.js';
import { AgentError, Win32 } from '../errors.js';
import { deleteKeyIfExists, ignore, pruneEmptyKeys, writeTree } from '../backend/registry.js';
import type { Db } from '../state/db.js';
import { deleteDuplicate, insertDuplicate, type DuplicateRow } from '../state/duplicates.js';
import type { StepKinds } from '../state/journal.js';
import { deleteVm, insertVm, type VmRecord } from '../state/vms.js';

export interface StepContext {
  backend: ManagedBackend;
  db: Db;
  /** direct copies `dup` made while planning (src/dup/observe.ts), by their step's args: written as they are */
  directCopies?: WeakMap<DirectImageArgs, Uint8Array>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** ERROR_BROKEN_PIPE, ERROR_NO_DATA: a control sent to a service whose process has died. */
const PROCESS_GONE: ReadonlySet<number> = new Set([109, 232]);

/** Stop a service if it runs and wait until the SCM says STOPPED (or it is gone). */
export async function stopAndWait(backend: HostBackend, name: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  await backend.call('scm.control', { name, code: 1 }).catch((err: unknown) => {
    // the control pipe is closed: the service's process is gone (killed, crashed), which Wine's
    // SCM does not notice; it keeps saying RUNNING, but the service is stopped
    if (err instanceof AgentError && PROCESS_GONE.has(err.code)) gone = true;
    else ignore(Win32.ERROR_SERVICE_NOT_ACTIVE, Win32.ERROR_SERVICE_DOES_NOT_EXIST, Win32.ERROR_SERVICE_CANNOT_ACCEPT_CTRL)(err);
  });
  if (gone) return;
  for (;;) {
    let state: string;
    try {
      state = (await backend.call('scm.status', { name })).state;
    } catch (err) {
      ignore(Win32.ERROR_SERVICE_DOES_NOT_EXIST)(err);
      return;
    }
    if (state === 'STOPPED') return;
    if (Date.now() > deadline) throw new Error(`${name} did not stop within ${timeoutMs / 1000} s (state ${state})`);
    await sleep(100);
  }
}

async function writeDirectImage({ backend, directCopies }: StepContext, a: DirectImageArgs): Promise<void> {
  const made = directCopies?.get(a);
  await backend.writeNewFile(a.copy, made ?? directImage(await backend.readFile(a.image), a.hookDll, { vm: a.vm, scmName: a.scmName }));
}

export const dupSteps: StepKinds<StepContext> = {
  /** A key svcdup owns outright (under HKLM\SOFTWARE\svcdup): created with its values, deleted whole. */
  'reg.ownKey': {
    async apply({ backend }, a: { key: string; values: RegValue[]; root: string }) {
      await backend.call('reg.createKey', { key: a.key });
      for (const v of a.values) await backend.call('reg.set', { key: a.key, ...v });
    },
    async undo({ backend }, a: { key: string; root: string }) {
      await deleteKeyIfExists(backend, a.key);
      await pruneEmptyKeys(backend, a.key.slice(0, a.key.lastIndexOf('\\')), a.root);
    },
  },
  /** A copy of a host key into svcdup's own area. */
  'reg.copy': {
    async apply({ backend }, a: { from: string; to: string; root: string }) {
      await backend.call('reg.copyTree', { from: a.from, to: a.to });
    },
    async undo({ backend }, a: { to: string; root: string }) {
      await deleteKeyIfExists(backend, a.to);
      await pruneEmptyKeys(backend, a.to.slice(0, a.to.lastIndexOf('\\')), a.root);
    },
  },
  /** Deleting a key svcdup owns, for undup: `tree` (its export) is what undo writes back. */
  'reg.deleteTree': {
    async apply({ backend }, a: { key: string; tree: RegTree }) {
      await deleteKeyIfExists(backend, a.key);
    },
    async undo({ backend }, a: { key: string; tree: RegTree }) {
      await writeTree(backend, a.key, a.tree);
    },
  },
  /** A value in a key svcdup owns; `previous` restores what was there. */
  'reg.setValue': {
    async apply({ backend }, a: { key: string; value: RegValue; previous?: RegValue }) {
      await backend.call('reg.set', { key: a.key, ...a.value });
    },
    async undo({ backend }, a: { key: string; value: RegValue; previous?: RegValue }) {
      if (a.previous) await backend.call('reg.set', { key: a.key, ...a.previous }).catch(ignore(Win32.ERROR_FILE_NOT_FOUND));
      else await backend.call('reg.deleteValue', { key: a.key, name: a.value.name }).catch(ignore(Win32.ERROR_FILE_NOT_FOUND));
    },
  },
  /** A service in the host SCM. A failed CreateService created nothing (a name taken by another service stays its own). */
  'scm.create': {
    atomic: true,
    async apply({ backend }, a: ServiceCreate) {
      await backend.call('scm.create', a);
    },
    async undo({ backend }, a: ServiceCreate) {
      await stopAndWait(backend, a.name);
      await backend.call('scm.delete', { name: a.name }).catch(ignore(Win32.ERROR_SERVICE_DOES_NOT_EXIST, Win32.ERROR_SERVICE_MARKED_FOR_DELETE));
    },
  },
  /** The reverse of scm.create, for undup: its undo re-creates the service. */
  'scm.delete': {
    async apply({ backend }, a: ServiceCreate) {
      await stopAndWait(backend, a.name);
      await backend.call('scm.delete', { name: a.name }).catch(ignore(Win32.ERROR_SERVICE_DOES_NOT_EXIST, Win32.ERROR_SERVICE_MARKED_FOR_DELETE));
    },
    async undo({ backend }, a: ServiceCreate) {
      await backend.call('scm.create', a).catch(ignore(Win32.ERROR_SERVICE_EXISTS));
    },
  },
  /** The duplicate's row in the state database. */
  'db.duplicate': {
    async apply({ db }, a: Omit<DuplicateRow, 'createdAt'>) {
      insertDuplicate(db, a);
    },
    async undo({ db }, a: { vm: string; service: string }) {
      deleteDuplicate(db, a.vm, a.service);
    },
  },
  /** A VM's row in the state database. */
  'db.vm': {
    async apply({ db }, a: Omit<VmRecord, 'createdAt'>) {
      insertVm(db, a);
    },
    async undo({ db }, a: { name: string }) {
      deleteVm(db, a.name);
    },
  },
  /** Removing it, for vm rm. */
  'db.forgetVm': {
    async apply({ db }, a: { name: string }) {
      deleteVm(db, a.name);
    },
    async undo({ db }, a: VmRecord) {
      insertVm(db, a, true);
    },
  },
  /**
   * A host folder copied into the VM's file area (reflinks where the file system has them),
   * complete or not at all: the backend copies to a temporary name and renames it.
   * Atomic: a failed copy removed its temporary tree, and a folder found in its place
   * (the VM's own, made since the plan) must not be deleted by an undo.
   */
  'files.snapshot': {
    atomic: true,
    async apply({ backend }, a: SnapshotArgs) {
      await backend.copyFolder(a.folder, a.to);
    },
    async undo({ backend }, a: SnapshotArgs) {
      await backend.removeFolder(a.to);
    },
  },
  /**
   * A direct duplicate's copy of its image beside the original (src/plan/direct.ts), made
   * from the original as it is now. Atomic: a failed write wrote nothing, and a file found
   * at that name is somebody else's, never deleted by an undo.
   */
  'files.directImage': {
    atomic: true,
    async apply(ctx, a: DirectImageArgs) {
      await writeDirectImage(ctx, a);
    },
    async undo({ backend }, a: DirectImageArgs) {
      await backend.removeFile(a.copy);
    },
  },
  /** Its removal, for undup (after the service is stopped and deleted). */
  'files.removeDirectImage': {
    async apply({ backend }, a: DirectImageArgs) {
      await backend.removeFile(a.copy);
    },
    async undo(ctx, a: DirectImageArgs) {
      await writeDirectImage(ctx, a);
    },
  },
  /** A key svcdup owns written whole from an export (vm import), class strings included; deleted whole. */
  'reg.ownTree': {
    async apply({ backend }, a: { key: string; tree: RegTree; root: string }) {
      await writeTree(backend, a.key, a.tree);
    },
    async undo({ backend }, a: { key: string; root: string }) {
      await deleteKeyIfExists(backend, a.key);
      await pruneEmptyKeys(backend, a.key.slice(0, a.key.lastIndexOf('\\')), a.root);
    },
  },
  /**
   * A VM's file area moved into place from a staging folder on the same file system (vm
   * import): one rename. `dir` (the VM's state folder) did not exist before: undo deletes it,
   * and the staging folder (`staging`, which holds `from`) a killed import left.
   */
  'files.adopt': {
    async apply(_ctx, a: { from: string; to: string; dir: string }) {
      await mkdir(a.dir, { recursive: true });
      if (existsSync(a.from)) await rename(a.from, a.to);
    },
    async undo(_ctx, a: { from: string; dir: string; staging: string }) {
      await rm(a.dir, { recursive: true, force: true });
      await rm(a.staging, { recursive: true, force: true });
      // svcdup's VMs and ProgramData\svcdup folders, when the import made them: pruned when empty
      for (
        let d = dirname(a.staging), i = 0;
        i < 2 &&
        (await rmdir(d).then(
          () => true,
          () => false,
        ));
        d = dirname(d), i++
      );
    },
  },
  /**
   * A VM's file area put back from a checkpoint's copy (vm restore): copied (reflinks where
   * the file system has them) to `staging`, the area moved to `old`, the copy renamed into
   * place. Undo moves `old` back (or, when the VM had no area, deletes the placed one).
   */
  'files.place': {
    async apply(_ctx, a: { from: string; staging: string; to: string; old: string }) {
      await rm(a.staging, { recursive: true, force: true });
      if (existsSync(a.from)) await copyTree(a.from, a.staging);
      else await mkdir(a.staging, { recursive: true });
      if (existsSync(a.to)) await rename(a.to, a.old);
      await rename(a.staging, a.to);
    },
    async undo(_ctx, a: { staging: string; to: string; old: string; hadArea: boolean }) {
      if (existsSync(a.old)) {
        await rm(a.to, { recursive: true, force: true });
        await rename(a.old, a.to);
      } else if (!a.hadArea) await rm(a.to, { recursive: true, force: true });
      await rm(a.staging, { recursive: true, force: true });
    },
  },
  /** A key of svcdup's replaced by a copy of `from` (none: deleted); undo copies `saved` (a whole copy made by the step before) back. */
  'reg.replace': {
    async apply({ backend }, a: { key: string; from: string; saved?: string }) {
      await deleteKeyIfExists(backend, a.key);
      await backend.call('reg.copyTree', { from: a.from, to: a.key }).catch(ignore(Win32.ERROR_FILE_NOT_FOUND));
    },
    async undo({ backend }, a: { key: string; saved?: string }) {
      await deleteKeyIfExists(backend, a.key);
      if (a.saved) await backend.call('reg.copyTree', { from: a.saved, to: a.key });
    },
  },
  /**
   * A VM's file written over the host's (vm commit): the host's file first kept whole at
   * `backup` (a copy renamed into place, so a backup that exists is complete), then the VM's
   * copied beside its place and renamed over it. Undo puts the backup back, or deletes a
   * file the host did not have.
   */
  'files.commit': {
    async apply(_ctx, a: { from: string; to: string; backup: string; existed: boolean }) {
      if (a.existed && existsSync(a.to) && !existsSync(a.backup)) {
        await mkdir(dirname(a.backup), { recursive: true });
        await copyFile(a.to, `${a.backup}.tmp`, constants.COPYFILE_FICLONE);
        await rename(`${a.backup}.tmp`, a.backup);
      }
      await mkdir(dirname(a.to), { recursive: true });
      const tmp = join(dirname(a.to), `.svcdup-tmp.commit.${basename(a.to)}`);
      await copyFile(a.from, tmp, constants.COPYFILE_FICLONE);
      const st = await stat(a.from);
      await utimes(tmp, st.atime, st.mtime);
      await rename(tmp, a.to);
    },
    async undo(_ctx, a: { to: string; backup: string; existed: boolean }) {
      await rm(join(dirname(a.to), `.svcdup-tmp.commit.${basename(a.to)}`), { force: true });
      if (existsSync(a.backup)) await rename(a.backup, a.to);
      else if (!a.existed) await rm(a.to, { force: true });
    },
  },
  /** A host file or folder the VM deleted, deleted on the host (vm commit): moved to `backup`, which the undo moves back. */
  'files.commitDelete': {
    async apply(_ctx, a: { path: string; backup: string }) {
      if (!existsSync(a.path)) return;
      await mkdir(dirname(a.backup), { recursive: true });
      await rename(a.path, a.backup);
    },
    async undo(_ctx, a: { path: string; backup: string }) {
      if (existsSync(a.backup) && !existsSync(a.path)) await rename(a.backup, a.path);
    },
  },
  /** A folder the VM added, made on the host (vm commit); undo removes it when empty. */
  'files.commitDir': {
    async apply(_ctx, a: { to: string }) {
      await mkdir(a.to, { recursive: true });
    },
    async undo(_ctx, a: { to: string }) {
      await rmdir(a.to).catch(() => undefined);
    },
  },
  /** A value deleted from a host key (vm commit); undo sets `previous` again. */
  'reg.unsetValue': {
    async apply({ backend }, a: { key: string; previous: RegValue }) {
      await backend.call('reg.deleteValue', { key: a.key, name: a.previous.name }).catch(ignore(Win32.ERROR_FILE_NOT_FOUND));
    },
    async undo({ backend }, a: { key: string; previous: RegValue }) {
      await backend.call('reg.set', { key: a.key, ...a.previous });
    },
  },
  /** Removing that row, for undup. */
  'db.forgetDuplicate': {
    async apply({ db }, a: { vm: string; service: string }) {
      deleteDuplicate(db, a.vm, a.service);
    },
    async undo({ db }, a: DuplicateRow) {
      insertDuplicate(db, a, true);
    },
  },
};
