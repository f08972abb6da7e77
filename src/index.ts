// The svcdup library API: everything the CLI does is available here, typed.
export * from './backend/types.js';
export { createBackend, openBackend, type ManagedBackend, type BackendOptions, type BackendKind } from './backend/index.js';
export { WineBackend, WindowsBackend, findWine, WineMissingError } from './backend/index.js';
export { resolvePaths, type Paths } from './config.js';
export { SvcdupError, AgentError, UsageError, Win32 } from './errors.js';
export { listServices, serviceTypeName, type ServiceListing } from './services.js';
export { Duplicates, parseSet, type DupOptions, type DuplicateRecord, type DuplicateStatus, type StartTarget } from './dup/dup.js';
export { planDuplicate, planUndup, type DuplicationPlan, type PlannedService, type PlanInput } from './plan/plan.js';
export { describeStep, type Step } from './plan/steps.js';
export { SERVICES_KEY, SVCDUP_KEY, vmKey, vmServiceKey } from './plan/keys.js';
export { parseDuplicateName, duplicateServiceName } from './plan/names.js';
export { dependencyClosure, PlanError, type Closure, type ClosureEntry } from './plan/closure.js';
export { openDb, type Db } from './state/db.js';
export { Journal, type StepKind, type StepKinds } from './state/journal.js';
export { analyzeTarget, analyzeFile, analyzeService, type AnalyzeReport, MalformedPeError } from './analyze/index.js';
export * from './vm/index.js';
