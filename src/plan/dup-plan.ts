// The whole plan of `dup SERVICE --vm VM` from one observation of the host (src/dup/observe.ts
// makes it), as planFleet(declared, actual) plans a fleet: the mode choice, the direct copy's
// checks, the snapshot choice and the Policy value's size, with no host I/O. Pure: the same
// request and observation always give the same plan or the same error.
import type { RegValue, ServiceConfig } from '../backend/types.js';
import { SvcdupError, UsageError } from '../errors.js';
import { PlanError } from './closure.js';
import { directImage } from './direct.js';
import { vmKey } from './keys.js';
import { type DuplicateMode, type DuplicationPlan, type KeyEdit, type PlanInput, type PlannedService, planDuplicate, type VmPolicyInput } from './plan.js';
import type { DirectImageArgs } from './steps.js';
import { canonicalFolder, type DriveAlias, type OwnFolder, snapshotRefusal } from './snapshot-limits.js';
import { driveRootsNamed, outermostFolders, snapshotFolders } from './snapshot.js';
import { rulesSizeProblem } from './system.js';

/** A folder larger than this is not snapshotted at dup time (copied up lazily instead): docs/state.md "No torn views". */
export const SNAPSHOT_MAX_BYTES = 1024 * 1048576;

/** `auto`: direct where it applies, relayed otherwise (docs/dup.md, "Which mode"). */
export type DupMode = 'auto' | DuplicateMode;

/** What was asked: `dup SERVICE --vm VM` with its options (validated: names, parsed --set edits). */
export interface DupRequest {
  service: string;
  vm: string;
  share: readonly string[];
  edits: readonly KeyEdit[];
  mode: DupMode;
  restrictedToken?: boolean;
}

/** A planned service's facts for its snapshots: its Parameters values and the folders its configuration files name. */
export interface SnapshotSource {
  original: ServiceConfig;
  params: readonly RegValue[];
  /** configFoldersOf its configuration files (src/analyze/configfiles.ts) */
  configFolders: readonly string[];
}

/** A candidate folder as found on the host. */
export interface FolderFact {
  /** the VM's file area has it already (copied, created, or deleted in its view) */
  vmHas: boolean;
  /** its size (capped just over SNAPSHOT_MAX_BYTES); absent when the host has no such folder */
  bytes?: number;
}

/**
 * The root's image as read for a direct copy; `copy`: the copy made of those bytes
 * (directImage) for the step's args `for`, when it could be made.
 */
export type ImageFact = { bytes: Uint8Array; copyExists: boolean; copy?: { for: DirectImageArgs; bytes: Uint8Array } } | { readError: string };

/** The direct copy made of the image as observed, when it was made for exactly these args. */
export function madeCopy(image: ImageFact | undefined, d: DirectImageArgs): Uint8Array | undefined {
  const c = image && 'copy' in image ? image.copy : undefined;
  const same = c && (Object.keys(d) as (keyof DirectImageArgs)[]).every((k) => c.for[k] === d[k]) && Object.keys(c.for).length === Object.keys(d).length;
  return same ? c.bytes : undefined;
}

/** Everything `dup` needs to know about the host, read at once (src/dup/observe.ts). */
export interface DupObservation {
  /** the analyzer's refusal (dupRefusalFor), unless forced */
  refusal?: string;
  /** the service and its dependency closure's configurations */
  configs: readonly ServiceConfig[];
  /** the VM's Policy input, when the VM has a record */
  policy?: VmPolicyInput;
  /** services already duplicated into the VM */
  existing: readonly string[];
  /** Windows paths of svcdup-host.exe and svcdup-hook.dll */
  hostExe: string;
  hookDll: string;
  /** the images of the services that would run direct, by service name in lowercase */
  images: Readonly<Record<string, ImageFact>>;
  /** the snapshot facts, or the error reading them (raised where the plan reaches them) */
  snapshots: SnapshotFacts | { failed: unknown };
}

export interface SnapshotFacts {
  /** the services that would be duplicated */
  sources: readonly SnapshotSource[];
  /** other spellings of drive roots (the VM's `alias files` lines) */
  aliases: readonly DriveAlias[];
  /** svcdup's own folders */
  own: readonly OwnFolder[];
  /** the VM's file area (fileAreaWin) */
  fileArea: string;
  /** the allowed candidate folders (snapshotCandidates), by folder in lowercase */
  folders: Readonly<Record<string, FolderFact>>;
}

type Skipped = { folder: string; reason: string };

/**
 * The folders the services name (snapshotFolders, and a drive root named literally), spelled
 * with their drive letter: the refused ones with the reason, and the outermost allowed ones.
 */
export function snapshotCandidates(
  sources: readonly SnapshotSource[],
  aliases: readonly DriveAlias[],
  own: readonly OwnFolder[],
): { allowed: string[]; refused: Skipped[] } {
  const folders = new Map<string, string>();
  for (const s of sources) {
    for (const f of [...snapshotFolders(s.original, s.params, s.configFolders), ...driveRootsNamed(s.original, s.params)]) {
      const c = canonicalFolder(f, aliases);
      folders.set(c.toLowerCase(), c);
    }
  }
  const allowed: string[] = [];
  const refused: Skipped[] = [];
  for (const f of folders.values()) {
    const why = snapshotRefusal(f, own);
    if (why) refused.push({ folder: f, reason: why });
    else allowed.push(f);
  }
  return { allowed: outermostFolders(allowed), refused };
}

/** Where a folder's snapshot goes in the VM's file area. */
export const snapshotTarget = (fileArea: string, folder: string): string => `${fileArea}\\${folder[0]!.toUpperCase()}${folder.slice(2)}`;

/** The snapshot choice: a folder the VM has, that is not there, or over SNAPSHOT_MAX_BYTES is left out (two of them with the reason). */
export function chooseSnapshots(facts: SnapshotFacts): { snapshots: { folder: string; to: string; bytes: number }[]; skipped: Skipped[] } {
  const { allowed, refused } = snapshotCandidates(facts.sources, facts.aliases, facts.own);
  const snapshots: { folder: string; to: string; bytes: number }[] = [];
  const skipped = [...refused];
  for (const folder of allowed) {
    const fact = facts.folders[folder.toLowerCase()];
    if (fact?.vmHas) {
      skipped.push({ folder, reason: 'the VM has its own already' });
      continue;
    }
    const bytes = fact?.bytes;
    if (bytes === undefined) continue;
    if (bytes > SNAPSHOT_MAX_BYTES) skipped.push({ folder, reason: `over ${SNAPSHOT_MAX_BYTES / 1048576} MB: copied up file by file when the VM writes` });
    else snapshots.push({ folder, to: snapshotTarget(facts.fileArea, folder), bytes });
  }
  return { snapshots, skipped };
}

/** The direct copy's checks, from its image as read: a usable PE, and no file where the copy goes. */
function checkDirect(service: string, d: NonNullable<PlannedService['direct']>, image: ImageFact | undefined): void {
  if (!image) throw new SvcdupError(`${service}: its image ${d.image} was not observed`);
  if ('readError' in image) throw new UsageError(`${service}: cannot read its image ${d.image} for --direct: ${image.readError}`);
  try {
    if (!madeCopy(image, d)) directImage(image.bytes, d.hookDll, { vm: d.vm, scmName: d.scmName });
  } catch (err) {
    if (err instanceof SvcdupError) throw new UsageError(`${service}: no direct copy of ${d.image}: ${err.message}`);
    throw err;
  }
  if (image.copyExists) throw new UsageError(`${service}: ${d.copy} exists already (not svcdup's to overwrite)`);
}

/** The planner's input without snapshots, direct unless the mode is relayed. */
export function dupPlanInput(req: DupRequest, obs: Pick<DupObservation, 'configs' | 'policy' | 'existing' | 'hostExe' | 'hookDll'>): PlanInput {
  return {
    service: req.service,
    vm: req.vm,
    configs: obs.configs,
    share: req.share,
    hostExe: obs.hostExe,
    existing: obs.existing,
    edits: req.edits,
    ...(obs.policy ? { policy: obs.policy } : {}),
    ...(req.restrictedToken ? { restrictedToken: true } : {}),
    ...(req.mode !== 'relayed' ? { direct: { hookDll: obs.hookDll } } : {}),
  };
}

/** The plan of `dup`: refusals first, then the mode, the direct copy, the snapshots, the Policy value's size. */
export function planDup(req: DupRequest, obs: DupObservation): DuplicationPlan {
  if (obs.refusal) throw new UsageError(obs.refusal);
  let plan: DuplicationPlan;
  let relayedBecause: string | undefined;
  try {
    let input = dupPlanInput(req, obs);
    const relayed = (why: string): void => {
      relayedBecause = why.replace(/--direct/g, 'direct');
      const { direct: _, ...rest } = input;
      input = rest;
    };
    // auto: direct unless one of its limits applies (the planner's refusals of --direct, then the image's own)
    if (req.mode === 'auto' && req.restrictedToken) relayed("--restricted-token (the SCM starts a direct image with the account's own token)");
    try {
      plan = planDuplicate(input);
    } catch (err) {
      if (!(req.mode === 'auto' && input.direct && err instanceof PlanError)) throw err;
      relayed(err.message);
      plan = planDuplicate(input);
    }
    // a direct copy is checked now, so that --dry-run and a refusal say why before anything is written
    for (const p of plan.services) {
      if (!p.direct) continue;
      try {
        checkDirect(p.service, p.direct, obs.images[p.service.toLowerCase()]);
      } catch (err) {
        if (!(req.mode === 'auto' && err instanceof UsageError)) throw err;
        relayed(err.message);
        plan = planDuplicate(input);
      }
    }
    // Second pass, with the folders of the planned services as found on the host.
    if ('failed' in obs.snapshots) throw obs.snapshots.failed;
    const found = chooseSnapshots(obs.snapshots);
    if (found.snapshots.length) plan = planDuplicate({ ...input, snapshots: found.snapshots });
    if (found.skipped.length) plan.notSnapshotted = found.skipped;
    if (relayedBecause) plan.relayedBecause = relayedBecause;
  } catch (err) {
    if (err instanceof PlanError || err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
  const policyValue = plan.steps.find((s) => s.kind === 'reg.setValue' && s.args.value.name === 'Policy' && s.args.key === vmKey(req.vm));
  const tooLarge =
    policyValue?.kind === 'reg.setValue' && typeof policyValue.args.value.data === 'string' ? rulesSizeProblem(policyValue.args.value.data) : undefined;
  if (tooLarge) throw new UsageError(`VM ${req.vm}: ${tooLarge}`);
  return plan;
}
