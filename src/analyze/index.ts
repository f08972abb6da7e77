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
export { analyzeTarget, analyzeFile, analyzeService, looksLikeFile, isFileTarget, traceService, vmTraceLab, scratchVmName, TraceUnavailableError, type AnalyzeHost, type AnalyzeOptions, type TraceLab, type TraceListener } from './io.js';
export { parseTrace, summarizeTrace, applyTrace, classifyEvent, type TraceEvent, type TraceReport, type TracedResource, type TraceSummary, type TraceCrossReference, type TracedReport } from './trace.js';
export { renderReport } from './render.js';
