// Registry helpers over the host backend that more than one layer needs (the journal's steps,
// the VM layer's own keys): tolerant deletes, pruning emptied parents, writing a tree back.
import { AgentError, Win32 } from '../errors.js';
import type { HostBackend, RegKeyContents, RegTree } from './types.js';

/** A catch handler that swallows these Win32 codes of the agent and throws anything else. */
export const ignore =
  (...codes: number[]) =>
  (err: unknown): void => {
    if (err instanceof AgentError && codes.includes(err.code)) return;
    throw err;
  };

/** A catch handler for a read: an absent key or value (ERROR_FILE_NOT_FOUND) as `none`, anything else thrown. */
export const absentAs =
  <T>(none: T) =>
  (err: unknown): T => {
    ignore(Win32.ERROR_FILE_NOT_FOUND)(err);
    return none;
  };

export async function deleteKeyIfExists(backend: HostBackend, key: string): Promise<void> {
  await backend.call('reg.deleteKey', { key }).catch(ignore(Win32.ERROR_FILE_NOT_FOUND));
}

/** Delete `key` and then each parent up to (not including) `stop` that is left empty. */
export async function pruneEmptyKeys(backend: HostBackend, key: string, stop: string): Promise<void> {
  for (let k = key; k.length > stop.length && k.toLowerCase().startsWith(stop.toLowerCase()); k = k.slice(0, k.lastIndexOf('\\'))) {
    let contents: RegKeyContents;
    try {
      contents = await backend.call('reg.query', { key: k });
    } catch (err) {
      ignore(Win32.ERROR_FILE_NOT_FOUND)(err);
      continue;
    }
    if (contents.values.length || contents.subkeys.length) return;
    await deleteKeyIfExists(backend, k);
  }
}

/** Write an exported tree back under `key`, class strings (svcdup's registry markers) included. */
export async function writeTree(backend: HostBackend, key: string, tree: RegTree): Promise<void> {
  await backend.call('reg.createKey', { key, ...(tree.class ? { class: tree.class } : {}) });
  for (const v of tree.values) await backend.call('reg.set', { key, ...v });
  for (const sub of tree.subkeys) await writeTree(backend, `${key}\\${sub.name}`, sub);
}
