// Host services as the SCM reports them: status joined with configuration.
import type { HostBackend, ServiceConfig, ServiceStatus } from './backend/types.js';

export interface ServiceListing extends ServiceStatus {
  imagePath: string;
  start?: ServiceConfig['start'];
  serviceDll?: string;
  svchostGroup?: string;
  /** why the configuration could not be read, when it could not */
  configError?: string;
}

export async function listServices(backend: HostBackend): Promise<ServiceListing[]> {
  const statuses = await backend.call('scm.list', {});
  const out = await Promise.all(
    statuses.map(async (s): Promise<ServiceListing> => {
      try {
        const c = await backend.call('scm.config', { name: s.name });
        return {
          ...s,
          imagePath: c.imagePath,
          start: c.start,
          ...(c.serviceDll ? { serviceDll: c.serviceDll } : {}),
          ...(c.svchostGroup ? { svchostGroup: c.svchostGroup } : {}),
        };
      } catch (err) {
        return { ...s, imagePath: '', configError: (err as Error).message };
      }
    }),
  );
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

// one spelling of the service type, shared with the analyzer
export { serviceTypeName } from './backend/service-type.js';
