// svcdup analyze: what stands in the way of duplicating a service, and how it is resolved.
// Pure analysis (binary, config, issues) plus a thin I/O layer (io).
export { analyzeBinary, type BinaryAnalysis, type BinaryOptions, type Evidence, type NamedResource, type RpcEndpoint, type ComClass } from './binary.js';
export { parsePe, type PeImage, type PeImport, type PeExport, type PeResource, type PeSection, LIMITS } from './pe.js';
export { MalformedPeError } from './errors.js';
export { classifyString, parseRgsClasses, type ResourceCategory } from './classify.js';
export {
  serviceKind,
  codeFileOf,
  imageOf,
  svchostGroupOf,
  svchostInfo,
  dependencyClosure,
  parseFailureActions,
  type ServiceKind,
  type DependencyNode,
  type SvchostInfo,
  type FailureActions,
} from './config.js';
export { assess, ISSUES, REPORT_SCHEMA, type AnalyzeReport, type AssessInput, type IssueAssessment, type Verdict, type VerdictKind, type ServiceSection } from './issues.js';
export { analyzeTarget, analyzeFile, analyzeService, looksLikeFile, TraceUnavailableError, type AnalyzeHost, type AnalyzeOptions } from './io.js';
export { renderReport } from './render.js';
