// What a VM changed against the host: its files and its registry keys, as `docker diff` lists them.
import type { HostBackend } from '../backend/types.js';
import { diffFiles, type AreaBackend, type FileChange } from './files.js';
import { diffKeys, type KeyChange } from './keys.js';

export interface VmDiff {
  files: FileChange[];
  keys: KeyChange[];
}

export async function vmDiff(backend: AreaBackend & HostBackend, vm: string): Promise<VmDiff> {
  return { files: diffFiles(backend, vm), keys: await diffKeys(backend, vm) };
}
