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

const TYPE_NAMES: [number, string][] = [
  [0x1, 'kernel-driver'],
  [0x2, 'fs-driver'],
  [0x10, 'own-process'],
  [0x20, 'share-process'],
];

/** dwServiceType in words: "own-process", "share-process+interactive", "kernel-driver". */
export function serviceTypeName(type: number): string {
  const base = TYPE_NAMES.filter(([bit]) => type & bit).map(([, n]) => n);
  if (type & 0x100) base.push('interactive');
  return base.join('+') || `0x${type.toString(16)}`;
}
