// `dup` plans from one observation of the host (src/plan/dup-plan.ts): these feed planDup a
// hand-made DupObservation, no Wine, and read the plan: the planner is a function of it.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { type DupObservation, type DupRequest, madeCopy, planDup, SNAPSHOT_MAX_BYTES, type SnapshotFacts } from '../src/plan/dup-plan.js';
import { driveRootsNamed, snapshotFolders } from '../src/plan/snapshot.js';
import { svc } from './service-config.js';

const app = svc('App', { imagePath: 'C:\\app\\app.exe -D C:\\data --log=D:\\logs\\app.log C:\\', dependOnService: ['Db'] });
const db = svc('Db', { imagePath: 'C:\\db\\db.exe' });
const rootParams = [{ name: 'Home', type: 'REG_SZ' as const, data: 'Z:\\' }];
const fileArea = 'C:\\ProgramData\\svcdup\\VMs\\v1\\files';
const own = [{ folder: 'Z:\\home\\u\\.svcdup', what: "svcdup's home" }];

const facts = (folders: SnapshotFacts['folders']): SnapshotFacts => ({
  sources: [
    { original: db, params: [], configFolders: [] },
    { original: app, params: rootParams, configFolders: [] },
  ],
  aliases: [{ drive: 'C:', spelling: 'Z:\\home\\u\\.svcdup\\prefix\\drive_c' }],
  own,
  fileArea,
  folders,
});

const observation = (extra: Partial<DupObservation> = {}): DupObservation => ({
  configs: [app, db],
  existing: [],
  hostExe: 'C:\\svcdup\\svcdup-host.exe',
  hookDll: 'C:\\svcdup\\svcdup-hook.dll',
  images: {},
  snapshots: facts({ 'c:\\data': { vmHas: false, bytes: 4096 }, 'd:\\logs': { vmHas: true } }),
  ...extra,
});

const request = (extra: Partial<DupRequest> = {}): DupRequest => ({ service: 'App', vm: 'v1', share: [], edits: [], mode: 'relayed', ...extra });

describe('planDup: the plan of dup from one observation', () => {
  it('plans the closure, its snapshots and what is not snapshotted, from the observation alone', () => {
    const plan = planDup(request(), observation());
    expect(plan.services.map((p) => p.scmName)).toEqual(['Db@v1', 'App@v1']);
    expect(plan.services[1]!.imagePath).toBe('C:\\svcdup\\svcdup-host.exe --vm v1 --service App');
    expect(plan.steps[0]).toEqual({ kind: 'files.snapshot', args: { vm: 'v1', folder: 'C:\\data', to: `${fileArea}\\C\\data`, bytes: 4096 } });
    expect(plan.steps.filter((s) => s.kind === 'files.snapshot')).toHaveLength(1);
    expect(plan.notSnapshotted).toEqual([
      { folder: 'C:', reason: "a drive's root (C:\\): never snapshotted whole" },
      { folder: 'Z:', reason: "a drive's root (Z:\\): never snapshotted whole" },
      { folder: 'D:\\logs', reason: 'the VM has its own already' },
    ]);
    // the same request and observation: the same plan
    expect(planDup(request(), observation())).toEqual(plan);
  });

  it('leaves out a folder the host lacks, and one over the size limit with the reason', () => {
    const plan = planDup(
      request(),
      observation({ snapshots: facts({ 'c:\\data': { vmHas: false, bytes: SNAPSHOT_MAX_BYTES + 1 }, 'd:\\logs': { vmHas: false } }) }),
    );
    expect(plan.steps.some((s) => s.kind === 'files.snapshot')).toBe(false);
    expect(plan.notSnapshotted?.map((s) => s.folder)).toEqual(['C:', 'Z:', 'C:\\data']);
    expect(plan.notSnapshotted![2]!.reason).toMatch(/^over 1024 MB/);
  });

  it("refuses what the analyzer refused before anything else, and a planner's refusal before a failed read", () => {
    expect(() => planDup(request(), observation({ refusal: 'App cannot run in a VM: no image', configs: [] }))).toThrow(
      new UsageError('App cannot run in a VM: no image'),
    );
    const readFailed = new Error('reg.query failed');
    expect(() => planDup(request({ service: 'Nope' }), observation({ snapshots: { failed: readFailed } }))).toThrow(UsageError);
    expect(() => planDup(request({ service: 'Nope' }), observation({ snapshots: { failed: readFailed } }))).toThrow(/Nope/);
    expect(() => planDup(request(), observation({ snapshots: { failed: readFailed } }))).toThrow(readFailed);
  });

  it('auto: relayed, with the reason, when the observed image cannot be read or is no PE; --direct refuses', () => {
    const unreadable = observation({ images: { app: { readError: 'ENOENT' } } });
    const plan = planDup(request({ mode: 'auto' }), unreadable);
    expect(plan.services[1]!.direct).toBeUndefined();
    expect(plan.relayedBecause).toBe('App: cannot read its image C:\\app\\app.exe for direct: ENOENT');
    expect(() => planDup(request({ mode: 'direct' }), unreadable)).toThrow(/cannot read its image C:\\app\\app\.exe for --direct: ENOENT/);
    const notPe = planDup(request({ mode: 'auto' }), observation({ images: { app: { bytes: new Uint8Array(64), copyExists: false } } }));
    expect(notPe.relayedBecause).toMatch(/^App: no direct copy of C:\\app\\app\.exe: /);
    expect(planDup(request({ mode: 'auto', restrictedToken: true }), observation()).relayedBecause).toMatch(/^--restricted-token/);
  });

  it('a direct copy made while observing stands for the image check only when made for exactly the planned args', () => {
    const args = { vm: 'v1', scmName: 'App@v1', image: 'C:\\app\\app.exe', copy: 'C:\\app\\app@v1.exe', hookDll: 'C:\\svcdup\\svcdup-hook.dll' };
    const made = new Uint8Array([1, 2, 3]);
    const notPe = new Uint8Array(64);
    const withCopy = (forArgs: typeof args) => observation({ images: { app: { bytes: notPe, copyExists: false, copy: { for: forArgs, bytes: made } } } });
    const plan = planDup(request({ mode: 'auto' }), withCopy(args));
    expect(plan.services[1]!.direct).toEqual(args);
    expect(madeCopy(withCopy(args).images.app, plan.services[1]!.direct!)).toBe(made);
    // made for another duplicate name: not taken, so the image itself is checked (and is no PE)
    const other = planDup(request({ mode: 'auto' }), withCopy({ ...args, scmName: 'app@v1' }));
    expect(other.relayedBecause).toMatch(/^App: no direct copy of C:\\app\\app\.exe: /);
    expect(madeCopy(withCopy({ ...args, scmName: 'app@v1' }).images.app, args)).toBeUndefined();
  });
});

describe('a drive root named literally', () => {
  it('is not a snapshot folder, but is listed by driveRootsNamed (ImagePath argument or Parameters value)', () => {
    const cfg = { imagePath: 'C:\\app\\app.exe C:\\ -D c:\\data' };
    const params = [{ name: 'Root', type: 'REG_MULTI_SZ' as const, data: ['z:\\', 'C:\\boot.ini'] }];
    expect(snapshotFolders(cfg, params)).toEqual(['c:\\data']);
    expect(driveRootsNamed(cfg, params)).toEqual(['C:', 'Z:']);
    expect(driveRootsNamed({ imagePath: 'C:\\app\\app.exe -D C:\\data' })).toEqual([]);
  });
});
