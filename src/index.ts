// The svcdup library API: everything the CLI does is available here, typed.
export * from './backend/types.js';
export { createBackend, openBackend, type ManagedBackend, type BackendOptions, type BackendKind } from './backend/index.js';
export { WineBackend, WindowsBackend, findWine, WineMissingError } from './backend/index.js';
export { resolvePaths, type Paths } from './config.js';
export { SvcdupError, AgentError, UsageError, Win32 } from './errors.js';
export { listServices, serviceTypeName, type ServiceListing } from './services.js';
