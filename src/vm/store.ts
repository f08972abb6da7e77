// Where VM records live: the state database (src/state), behind a small interface
// so the operations can be tested without one.
import type { Db } from '../state/db.js';
import { duplicatedServices } from '../state/duplicates.js';
import { deleteVm, getVm, insertVm, listVms, type VmRecord } from '../state/vms.js';

export type { VmRecord };

export interface VmStore {
  get(name: string): VmRecord | undefined;
  list(): VmRecord[];
  insert(name: string, policy: string): void;
  delete(name: string): void;
  /** services duplicated into the VM (they keep it from being removed) */
  duplicates(name: string): string[];
}

export function dbVmStore(db: Db): VmStore {
  return {
    get: (name) => getVm(db, name),
    list: () => listVms(db),
    insert: (name, policy) => insertVm(db, { name, policy, portMap: {} }),
    delete: (name) => deleteVm(db, name),
    duplicates: (name) => duplicatedServices(db, name),
  };
}
