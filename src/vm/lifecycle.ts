// A VM's lifecycle as plans: the steps `vm create` and `vm rm` apply to the host in one
// journaled operation each (src/plan/steps.ts, src/state/journal.ts). Pure.
import type { RegTree } from '../backend/types.js';
import { portMapToRecord, type NetIdentity } from '../net/index.js';
import { SOFTWARE_KEY, vmKey } from '../plan/keys.js';
import type { Step } from '../plan/steps.js';
import type { VmLimits, VmRecord } from '../state/vms.js';

/** vm create: the VM's record, then its key with its Policy value (what svcdup-host reads). */
export function planVmCreate(
  name: string,
  rules: string,
  identity: NetIdentity,
  policyText: string,
  extra: { limits?: VmLimits; limitsText?: string; logsDir?: string } = {},
): Step[] {
  const { limits, limitsText, logsDir } = extra;
  return [
    {
      kind: 'db.vm',
      args: {
        name,
        policy: rules,
        ...(identity.address ? { address: identity.address } : {}),
        portMap: portMapToRecord(identity.portMap),
        ...(limits ? { limits } : {}),
      },
    },
    // root HKLM\SOFTWARE: undoing the first VM's key also removes svcdup's own key; Limits: what the hook sets on
    // the VM's job; Logs: the folder of its duplicates' stdout/stderr files (native/hook/stdlog.c)
    {
      kind: 'reg.ownKey',
      args: {
        key: vmKey(name),
        values: [
          { name: 'Policy', type: 'REG_SZ', data: policyText },
          ...(limitsText ? [{ name: 'Limits', type: 'REG_SZ' as const, data: limitsText }] : []),
          ...(logsDir ? [{ name: 'Logs', type: 'REG_SZ' as const, data: logsDir }] : []),
        ],
        root: SOFTWARE_KEY,
      },
    },
  ];
}

/**
 * vm rm, once the VM is empty (no duplicates, no processes): its key (`tree`, its export,
 * is what the undo writes back) and its record. Either may already be gone.
 */
export function planVmForget(name: string, record: VmRecord | undefined, tree: RegTree | undefined): Step[] {
  const steps: Step[] = [];
  if (tree) steps.push({ kind: 'reg.deleteTree', args: { key: vmKey(name), tree } });
  if (record) steps.push({ kind: 'db.forgetVm', args: { ...record, name } });
  return steps;
}
