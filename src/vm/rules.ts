// Where a VM's rules text comes from and where it is kept. composeVmRules (src/plan/system.ts)
// makes the text; this reads what it is made of from svcdup's state and the backend, and
// writes the rules file svcdup-run hands to the hook. The same text is the VM's Policy value
// (written by the journaled steps of vm create, dup and undup: src/vm/lifecycle.ts,
// src/plan/plan.ts), so that svcdup-host, direct images and svcdup run all see one policy.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { netRules, portMapFromRecord } from '../net/index.js';
import type { VmRules } from '../plan/system.js';
import { fileAliasRules, type AreaBackend } from './files.js';
import type { VmStore } from './store.js';

/** What the VM's rules are made of now: its record (policy, address, port map), its duplicates, the host's drive aliases. */
export function vmRulesOf(store: VmStore, backend: Pick<AreaBackend, 'kind' | 'paths' | 'toWindowsPath'>, vm: string): VmRules {
  const r = store.get(vm);
  return {
    vm,
    user: r?.policy ?? '',
    net: r ? netRules({ ...(r.address ? { address: r.address } : {}), portMap: portMapFromRecord(r.portMap) }) : '',
    aliases: fileAliasRules(backend),
    duplicates: store.duplicates(vm),
  };
}

/** The VM's rules file, which svcdup-run hands to the hook. */
export const rulesFile = (home: string, vm: string): string => join(home, 'vms', vm, 'policy.rules');

/** Write the VM's rules file (the composed text); returns its path. */
export async function writeRulesFile(home: string, vm: string, text: string): Promise<string> {
  const file = rulesFile(home, vm);
  await mkdir(join(home, 'vms', vm), { recursive: true });
  await writeFile(file, text);
  return file;
}
