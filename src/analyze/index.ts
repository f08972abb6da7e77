// svcdup analyze: what stands in the way of duplicating a service, and how it is resolved.
// Pure analysis (binary, config, settings, state, issues, verdict) plus a thin I/O layer (service, io).
export { analyzeBinary, type BinaryAnalysis, type BinaryOptions, type Evidence, type NamedResource, type RpcEndpoint, type ComClass } from './binary.js';
export { parsePe, type PeImage, type PeImport, type PeExport, type PeResource, type PeSection, LIMITS } from '../pe/pe.js';
export { MalformedPeError } from '../pe/errors.js';
export { classifyString, parseRgsClasses, type ResourceCategory } from './classify.js';
export {
  serviceKind,
  codeFileOf,
  imageOf,
  svchostGroupOf,
  svchostInfo,
  parseFailureActions,
  type ServiceKind,
  type SvchostInfo,
  type FailureActions,
} from './config.js';
export { isDriverType } from '../backend/service-type.js';
export { closureOf, type DependencyNode, type ClosureProblem, type ClosureResult } from '../plan/closure.js';
export { assess, ISSUES, type AssessInput } from './issues.js';
export * from './report.js';
export { decideVerdict, dupRefusal, cannotRunReasons, notDuplicableReasons, type HostFacts, type DependencyFacts, type VerdictInput } from './verdict.js';
export { parseCommandLine, parseConfigText, configSettings, meaningOf, settingsFromArgs, type ParsedConfig } from './settings.js';
export { stateRules, stateSection, ruleFor, stateHow, type StateRuleLine, type StateInput } from './state.js';
export { assembleFootprint, type FootprintInput } from './footprint.js';
export {
  analyzeService,
  analyzeAll,
  dupCheck,
  dupRefusalFor,
  hostSnapshot,
  hostFacts,
  type AnalyzeHost,
  type HostSnapshot,
  type ServiceAnalysisOptions,
} from './service.js';
export {
  analyzeTarget,
  analyzeFile,
  looksLikeFile,
  isFileTarget,
  traceService,
  vmTraceLab,
  scratchVmName,
  TraceUnavailableError,
  type AnalyzeOptions,
  type TraceLab,
  type TraceListener,
} from './io.js';
export { parseTrace, summarizeTrace, applyTrace, classifyEvent, type TraceEvent } from './trace.js';
export { renderReport, renderTable } from './render.js';
export { serviceTypeName } from '../backend/service-type.js';
