// A service's configuration as the analysis reads it: kind, image, svchost group and
// neighbours, dependency closure, failure actions. Pure functions of SCM/registry data.
import type { ServiceConfig } from '../backend/types.js';
import { isDriverType } from '../plan/closure.js';

export type ServiceKind = 'own-process' | 'shared-process' | 'svchost' | 'kernel-driver' | 'fs-driver' | 'driver' | 'user-service' | 'unknown';

export const SERVICE_KERNEL_DRIVER = 0x1;
export const SERVICE_FILE_SYSTEM_DRIVER = 0x2;
export const SERVICE_DRIVER_MASK = 0xf; // kernel, fs, adapter, recognizer
export const SERVICE_WIN32_OWN_PROCESS = 0x10;
export const SERVICE_WIN32_SHARE_PROCESS = 0x20;

export { isDriverType, closureOf, type DependencyNode } from '../plan/closure.js';

export function serviceKind(cfg: Pick<ServiceConfig, 'type' | 'imagePath' | 'svchostGroup'>): ServiceKind {
  if (isDriverType(cfg.type)) return cfg.type & SERVICE_KERNEL_DRIVER ? 'kernel-driver' : cfg.type & SERVICE_FILE_SYSTEM_DRIVER ? 'fs-driver' : 'driver';
  if (cfg.svchostGroup || svchostGroupOf(cfg.imagePath)) return 'svchost';
  if (cfg.type & 0x40) return 'user-service';
  if (cfg.type & SERVICE_WIN32_SHARE_PROCESS) return 'shared-process';
  if (cfg.type & SERVICE_WIN32_OWN_PROCESS) return 'own-process';
  return 'unknown';
}

/** The `-k GROUP` of a svchost command line. */
export function svchostGroupOf(imagePath: string): string | undefined {
  const m = /(?:^|[\\/"\s])svchost(?:\.exe)?"?\s+(?:.*\s)?-k\s+"?([^"\s]+)"?/i.exec(imagePath);
  return m?.[1];
}

/** The executable of a command line: quoted, or the shortest prefix ending in .exe/.sys/.dll, or up to the first space. */
export function imageOf(commandLine: string): string {
  const t = commandLine.trim();
  if (t.startsWith('"')) {
    const end = t.indexOf('"', 1);
    return end > 0 ? t.slice(1, end) : t.slice(1);
  }
  const m = /^(.*?\.(?:exe|sys|dll|com))(?=\s|$)/i.exec(t);
  if (m) return m[1]!;
  const sp = t.indexOf(' ');
  return sp > 0 ? t.slice(0, sp) : t;
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
