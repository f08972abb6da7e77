// A service's configuration as the analysis reads it: kind, image, svchost group and
// neighbours, dependency closure, failure actions. Pure functions of SCM/registry data.
import type { ServiceConfig } from '../backend/types.js';
import {
  isDriverType,
  SERVICE_FILE_SYSTEM_DRIVER,
  SERVICE_KERNEL_DRIVER,
  SERVICE_USER_SERVICE,
  SERVICE_WIN32_OWN_PROCESS,
  SERVICE_WIN32_SHARE_PROCESS,
} from '../backend/service-type.js';
import { imageOf } from '../plan/image.js';

export type ServiceKind = 'own-process' | 'shared-process' | 'svchost' | 'kernel-driver' | 'fs-driver' | 'driver' | 'user-service' | 'unknown';

export { isDriverType } from '../backend/service-type.js';
export { imageOf } from '../plan/image.js';
export { closureOf, type DependencyNode } from '../plan/closure.js';

export function serviceKind(cfg: Pick<ServiceConfig, 'type' | 'imagePath' | 'svchostGroup'>): ServiceKind {
  if (isDriverType(cfg.type)) return cfg.type & SERVICE_KERNEL_DRIVER ? 'kernel-driver' : cfg.type & SERVICE_FILE_SYSTEM_DRIVER ? 'fs-driver' : 'driver';
  if (cfg.svchostGroup || svchostGroupOf(cfg.imagePath)) return 'svchost';
  if (cfg.type & SERVICE_USER_SERVICE) return 'user-service';
  if (cfg.type & SERVICE_WIN32_SHARE_PROCESS) return 'shared-process';
  if (cfg.type & SERVICE_WIN32_OWN_PROCESS) return 'own-process';
  return 'unknown';
}

/** The `-k GROUP` of a svchost command line. */
export function svchostGroupOf(imagePath: string): string | undefined {
  const m = /(?:^|[\\/"\s])svchost(?:\.exe)?"?\s+(?:.*\s)?-k\s+"?([^"\s]+)"?/i.exec(imagePath);
  return m?.[1];
}

/** The file a service's code is in: the ServiceDll for svchost services, the image otherwise (drivers default to drivers\NAME.sys). */
export function codeFileOf(cfg: Pick<ServiceConfig, 'name' | 'type' | 'imagePath' | 'serviceDll'>): { path: string; role: 'serviceDll' | 'image' } {
  if (cfg.serviceDll) return { path: cfg.serviceDll, role: 'serviceDll' };
  if (isDriverType(cfg.type) && !cfg.imagePath.trim()) return { path: `System32\\drivers\\${cfg.name}.sys`, role: 'image' };
  return { path: imageOf(cfg.imagePath), role: 'image' };
}

export interface SvchostInfo {
  group: string;
  /** the services the group's registry value lists (HKLM\...\Svchost\GROUP), when there is one */
  registryMembers?: string[];
  /** services whose ImagePath runs the same svchost group */
  sameGroup: string[];
}

/** The neighbours of a svchost service: the group's registry list and every service configured with the same `-k GROUP`. */
export function svchostInfo(
  cfg: Pick<ServiceConfig, 'name' | 'imagePath' | 'svchostGroup'>,
  configs: ServiceConfig[],
  registryMembers?: string[],
): SvchostInfo | undefined {
  const group = cfg.svchostGroup ?? svchostGroupOf(cfg.imagePath);
  if (!group) return undefined;
  const sameGroup = configs
    .filter((c) => (c.svchostGroup ?? svchostGroupOf(c.imagePath))?.toLowerCase() === group.toLowerCase())
    .map((c) => c.name)
    .sort((a, b) => a.localeCompare(b));
  if (!sameGroup.some((n) => n.toLowerCase() === cfg.name.toLowerCase())) sameGroup.push(cfg.name);
  return { group, ...(registryMembers ? { registryMembers } : {}), sameGroup };
}

export interface FailureActions {
  resetPeriodSeconds: number;
  actions: { type: 'none' | 'restart' | 'reboot' | 'run-command' | `unknown-${number}`; delayMs: number }[];
  command?: string;
  rebootMessage?: string;
}

/** The FailureActions registry value (REG_BINARY, hex): SERVICE_FAILURE_ACTIONS in its 32-bit registry layout. */
export function parseFailureActions(hexData: string, command?: string, rebootMessage?: string): FailureActions | undefined {
  if (!/^(?:[0-9a-f]{2})*$/i.test(hexData) || hexData.length < 40) return undefined;
  const b = Uint8Array.from(hexData.match(/../g)!.map((h) => parseInt(h, 16)));
  const dv = new DataView(b.buffer);
  const count = dv.getUint32(12, true);
  if (count > 64 || 20 + count * 8 > b.length) return undefined;
  const types = ['none', 'restart', 'reboot', 'run-command'] as const;
  const actions: FailureActions['actions'] = [];
  for (let i = 0; i < count; i++) {
    const t = dv.getUint32(20 + i * 8, true);
    actions.push({ type: types[t] ?? `unknown-${t}`, delayMs: dv.getUint32(24 + i * 8, true) });
  }
  return { resetPeriodSeconds: dv.getUint32(0, true), actions, ...(command ? { command } : {}), ...(rebootMessage ? { rebootMessage } : {}) };
}
