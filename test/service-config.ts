// A host service configuration for the pure planner's tests: an own-process service with its image in C:\svc.
import type { ServiceConfig } from '../src/backend/types.js';

export const svc = (name: string, extra: Partial<ServiceConfig> = {}): ServiceConfig => ({
  name,
  displayName: `${name} service`,
  type: 0x10,
  start: 'DEMAND',
  errorControl: 1,
  imagePath: `C:\\svc\\${name}.exe`,
  loadOrderGroup: '',
  account: 'LocalSystem',
  dependOnService: [],
  dependOnGroup: [],
  description: '',
  ...extra,
});
