// `--set` edits of a duplicate's copy of its service key (dup --set, a fleet file's `set:`),
// parsed into what the planner writes (KeyEdit, src/plan/plan.ts). Pure.
import type { RegValue } from '../backend/types.js';
import { UsageError } from '../errors.js';

/** `Parameters\Greeting=hello` -> a REG_SZ under the VM's copy; `Name:REG_DWORD=5` for other types. */
export function parseSet(spec: string): { subkey: string; value: RegValue } {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set ${spec}: expected PATH\\NAME=VALUE, e.g. Parameters\\Port=8080`);
  let path = spec.slice(0, eq);
  const data = spec.slice(eq + 1);
  let type = 'REG_SZ';
  const colon = path.lastIndexOf(':');
  if (colon > 0 && /^REG_[A-Z_]+$/.test(path.slice(colon + 1))) {
    type = path.slice(colon + 1);
    path = path.slice(0, colon);
  }
  const slash = path.lastIndexOf('\\');
  const subkey = slash >= 0 ? path.slice(0, slash) : '';
  const name = path.slice(slash + 1);
  if (subkey.split('\\').some((p) => p === '..' || (subkey && p === ''))) throw new UsageError(`--set ${spec}: bad key path`);
  switch (type) {
    case 'REG_SZ':
    case 'REG_EXPAND_SZ':
      return { subkey, value: { name, type, data } };
    case 'REG_DWORD': {
      const n = Number(data);
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UsageError(`--set ${spec}: not a DWORD`);
      return { subkey, value: { name, type, data: n } };
    }
    case 'REG_QWORD':
      if (!/^\d+$/.test(data)) throw new UsageError(`--set ${spec}: not a QWORD`);
      return { subkey, value: { name, type, data } };
    case 'REG_MULTI_SZ':
      return { subkey, value: { name, type, data: data.split(',') } };
    default:
      throw new UsageError(`--set ${spec}: type ${type} is not supported (REG_SZ, REG_EXPAND_SZ, REG_DWORD, REG_QWORD, REG_MULTI_SZ)`);
  }
}
