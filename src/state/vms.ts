// VM records in the state database: the only SQL on the vm table. The VM layer (src/vm)
// owns their lifecycle (through the journal's db.vm steps); dup and status only read them.
import type { Db } from './db.js';

/** A VM's resource limits as kept (parsed and enforced in src/ops/limits.ts). */
export interface VmLimits {
  memory?: number;
  cpus?: number;
  processes?: number;
  cgroups?: string[];
}

export interface VmRecord {
  name: string;
  createdAt: string;
  /** the policy rules text handed to the hook (docs/vm.md) */
  policy: string;
  address?: string;
  portMap: Record<string, number>;
  /** resource limits (src/ops/limits.ts); absent: none */
  limits?: VmLimits;
}

interface Row {
  name: string;
  created_at: string;
  policy: string;
  address: string | null;
  port_map: string;
  limits?: string;
}

/** The limits column as a record's field: absent when none are set. */
const limitsOf = (text: string | undefined): Pick<VmRecord, 'limits'> => (text && text !== '{}' ? { limits: JSON.parse(text) as VmLimits } : {});

const fromRow = (r: Row): VmRecord => ({
  name: r.name,
  createdAt: r.created_at,
  policy: r.policy,
  ...(r.address ? { address: r.address } : {}),
  portMap: JSON.parse(r.port_map) as Record<string, number>,
  ...limitsOf(r.limits),
});

export function getVm(db: Db, name: string): VmRecord | undefined {
  const r = db.prepare(`SELECT * FROM vm WHERE name = ?`).get(name) as Row | undefined;
  return r && fromRow(r);
}

export function listVms(db: Db): VmRecord[] {
  return (db.prepare(`SELECT * FROM vm ORDER BY name`).all() as Row[]).map(fromRow);
}

/** Every VM's name and limits only, what `stats` reads at each sample (no policy text, no port map). */
export function listVmLimits(db: Db): Pick<VmRecord, 'name' | 'limits'>[] {
  return (db.prepare(`SELECT name, limits FROM vm ORDER BY name`).all() as { name: string; limits?: string }[]).map((r) => ({
    name: r.name,
    ...limitsOf(r.limits),
  }));
}

/** `orIgnore`: the undo of a removal, which may find the record already back. */
export function insertVm(
  db: Db,
  vm: Omit<VmRecord, 'createdAt' | 'portMap'> & { createdAt?: string; portMap?: Record<string, number> },
  orIgnore = false,
): void {
  db.prepare(`INSERT ${orIgnore ? 'OR IGNORE ' : ''}INTO vm (name, created_at, policy, address, port_map, limits) VALUES (?, ?, ?, ?, ?, ?)`).run(
    vm.name,
    vm.createdAt ?? new Date().toISOString(),
    vm.policy,
    vm.address ?? null,
    JSON.stringify(vm.portMap ?? {}),
    JSON.stringify(vm.limits ?? {}),
  );
}

export function deleteVm(db: Db, name: string): void {
  db.prepare(`DELETE FROM vm WHERE name = ?`).run(name);
}
