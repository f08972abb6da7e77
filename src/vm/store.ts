// Where VM records live: the state database (src/state), behind a small interface
// so the operations can be tested without one.
import type { Db } from '../state/db.js';
import { recordEvent } from '../state/events.js';
import { listDuplicates } from '../state/duplicates.js';
import { deleteVm, getVm, insertVm, listVms, type VmRecord } from '../state/vms.js';

export type { VmRecord };

export interface VmStore {
  get(name: string): VmRecord | undefined;
  list(): VmRecord[];
  insert(name: string, policy: string): void;
  delete(name: string): void;
  /** services duplicated into the VM (they keep it from being removed, and their needs are in its rules) */
  duplicates(name: string): { service: string; dependOnService: string[] }[];
  /** what happened to the VM, for `svcdup events` (docs/operate.md, "Events") */
  event(kind: 'vm-created' | 'vm-removed', name: string, detail?: Record<string, unknown>): void;
}

export function dbVmStore(db: Db): VmStore {
  return {
    get: (name) => getVm(db, name),
    list: () => listVms(db),
    insert: (name, policy) => insertVm(db, { name, policy, portMap: {} }),
    delete: (name) => deleteVm(db, name),
    duplicates: (name) =>
      listDuplicates(db, name).map((d) => ({ service: d.service, dependOnService: (d.plan as { dependOnService?: string[] }).dependOnService ?? [] })),
    event: (kind, name, detail = {}) => recordEvent(db, { kind, vm: name, detail: { by: 'svcdup', ...detail } }),
  };
}
