// The plan as data: every change svcdup makes to the host is one of these steps, a kind
// and its JSON arguments. The planners (plan.ts, src/vm/lifecycle.ts) make lists of them;
// the journal (src/state/journal.ts) records each before applying it and knows its undo
// (src/dup/steps.ts applies and undoes each kind). Pure: types and descriptions only.
import type { RegTree, RegValue, ServiceCreate } from '../backend/types.js';
import type { DuplicateRow } from '../state/duplicates.js';
import type { VmRecord } from '../state/vms.js';

export type Step = (
  | { kind: 'reg.ownKey'; args: { key: string; values: RegValue[]; root: string } }
  | { kind: 'reg.copy'; args: { from: string; to: string; root: string } }
  | { kind: 'reg.deleteTree'; args: { key: string; tree: RegTree } }
  | { kind: 'reg.setValue'; args: { key: string; value: RegValue; previous?: RegValue } }
  | { kind: 'scm.create'; args: ServiceCreate }
  | { kind: 'scm.delete'; args: ServiceCreate }
  | { kind: 'db.duplicate'; args: Omit<DuplicateRow, 'createdAt'> }
  | { kind: 'db.forgetDuplicate'; args: DuplicateRow }
  | { kind: 'db.vm'; args: Omit<VmRecord, 'createdAt'> }
  | { kind: 'db.forgetVm'; args: VmRecord }
  | { kind: 'files.snapshot'; args: SnapshotArgs }
  | { kind: 'files.directImage'; args: DirectImageArgs }
  | { kind: 'files.removeDirectImage'; args: DirectImageArgs }
) & {
  /**
   * Steps with the same batch number that follow each other do not depend on one another:
   * the journal records them together and applies them at once (one agent round trip's
   * latency instead of one each). Undefined: alone.
   */
  batch?: number;
};

export type StepKindName = Step['kind'];

/** A host folder copied into a VM's private file area when a duplicate is made (docs/state.md, "No torn views"). */
export interface SnapshotArgs {
  vm: string;
  /** the host folder, e.g. C:\pgdata */
  folder: string;
  /** its place in the VM's area, e.g. C:\ProgramData\svcdup\VMs\a\files\C\pgdata */
  to: string;
  /** its size when planned */
  bytes: number;
}

/** A direct duplicate's copy of its image (src/plan/direct.ts, docs/dup.md "Direct duplicates"). */
export interface DirectImageArgs {
  vm: string;
  /** the duplicate's name in the host SCM */
  scmName: string;
  /** the original executable, e.g. C:\\Program Files\\App\\app.exe */
  image: string;
  /** the copy beside it, e.g. C:\\Program Files\\App\\app@vm1.exe */
  copy: string;
  /** svcdup-hook.dll, which the copy imports by this path */
  hookDll: string;
}

const valueText = (v: RegValue): string => `${v.name || '(default)'} = ${v.type} ${JSON.stringify(v.data).slice(0, 60)}`;

/** What a step does and what its undo does, one line each: for `--dry-run` and the docs. */
export function describeStep(s: Step): { does: string; undo: string } {
  switch (s.kind) {
    case 'reg.ownKey':
      return {
        does: `create key ${s.args.key} with ${s.args.values.map(valueText).join(', ') || 'no values'}`,
        undo: `delete ${s.args.key} (and empty parents up to ${s.args.root})`,
      };
    case 'reg.copy':
      return { does: `copy key ${s.args.from} to ${s.args.to}`, undo: `delete ${s.args.to} (and empty parents up to ${s.args.root})` };
    case 'reg.deleteTree':
      return { does: `delete key ${s.args.key}`, undo: `write back its exported tree` };
    case 'reg.setValue':
      return {
        does: `set ${s.args.key}: ${valueText(s.args.value)}`,
        undo: s.args.previous ? `restore ${valueText(s.args.previous)}` : `delete the value ${s.args.value.name}`,
      };
    case 'scm.create':
      return {
        does: `create service ${s.args.name}: ${s.args.imagePath}${s.args.dependOnService?.length ? ` (depends on ${s.args.dependOnService.join(', ')})` : ''}`,
        undo: `stop and delete ${s.args.name}`,
      };
    case 'scm.delete':
      return { does: `stop and delete service ${s.args.name}`, undo: `create it again as it was` };
    case 'db.duplicate':
      return { does: `record duplicate ${s.args.scmName} in the state database`, undo: `remove the record` };
    case 'db.forgetDuplicate':
      return { does: `remove the record of duplicate ${s.args.scmName}`, undo: `record it again` };
    case 'db.vm':
      return { does: `record VM ${s.args.name} in the state database`, undo: `remove the record` };
    case 'db.forgetVm':
      return { does: `remove the record of VM ${s.args.name}`, undo: `record it again` };
    case 'files.snapshot':
      return {
        does: `snapshot folder ${s.args.folder} (${(s.args.bytes / 1048576).toFixed(1)} MB) into VM ${s.args.vm}'s files: ${s.args.to}`,
        undo: `delete ${s.args.to}`,
      };
    case 'files.directImage':
      return { does: `write ${s.args.copy}: ${s.args.image} importing ${s.args.hookDll} first, marked for VM ${s.args.vm}`, undo: `delete ${s.args.copy}` };
    case 'files.removeDirectImage':
      return { does: `delete ${s.args.copy}`, undo: `write it again from ${s.args.image}` };
  }
}
