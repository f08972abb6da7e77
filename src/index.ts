// The svcdup library API: what the CLI does, typed: backends, duplicates (dup, undup, start,
// stop, status), VMs (create, run, ps, trace, diff, rm), fleets (up, down, ps), the analyzer
// (analyze, verify, trace), the network identity of VMs and the dashboard's server.
export * from './backend/types.js';
export { createBackend, openBackend, type ManagedBackend, type BackendOptions, type BackendKind } from './backend/index.js';
export { WineBackend, WindowsBackend, findWine, WineMissingError } from './backend/index.js';
export { resolvePaths, type Paths } from './config.js';
export { SvcdupError, AgentError, UsageError, Win32 } from './errors.js';
export { listServices, type ServiceListing } from './services.js';
export { Duplicates, parseSet, type DupOptions, type DuplicateRecord, type DuplicateStatus, type StartTarget } from './dup/dup.js';
export { planDuplicate, planUndup, type DuplicationPlan, type PlannedService, type PlanInput } from './plan/plan.js';
export { describeStep, type Step } from './plan/steps.js';
export { SERVICES_KEY, SVCDUP_KEY, vmKey, vmServiceKey } from './plan/keys.js';
export { parseDuplicateName, duplicateServiceName } from './plan/names.js';
export { composeVmRules, rulesSizeProblem, type VmRules } from './plan/system.js';
export { dependencyClosure, PlanError, type Closure, type ClosureEntry } from './plan/closure.js';
export { openDb, type Db } from './state/db.js';
export { Journal, type StepKind, type StepKinds } from './state/journal.js';
export * from './analyze/index.js';
export { verifyService, renderVerify, type VerifyResult, type VerifyCheck } from './analyze/verify.js';
export * from './vm/index.js';
export * from './net/index.js';
export { parseFleet, readFleet, FleetFileError, type Fleet, type DeclaredVm, type DeclaredService } from './fleet/file.js';
export { fleetUp, fleetDown, fleetPs, observeFleet, type FleetContext, type FleetEvent, type UpResult, type DownResult, type FleetRow } from './fleet/fleet.js';
export { planFleet, describeChange, type FleetChange, type FleetActual } from './fleet/plan.js';
export { startUi, type UiOptions, type UiServer, type UiState } from './ui/server.js';
