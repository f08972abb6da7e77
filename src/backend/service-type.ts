// dwServiceType, in one place: its bits, whether it is a driver, and its spelling in words (for
// the analyzer's report and the CLI's tables).

export const SERVICE_KERNEL_DRIVER = 0x1;
export const SERVICE_FILE_SYSTEM_DRIVER = 0x2;
export const SERVICE_DRIVER_MASK = 0xf; // kernel, fs, adapter, recognizer
export const SERVICE_WIN32_OWN_PROCESS = 0x10;
export const SERVICE_WIN32_SHARE_PROCESS = 0x20;
export const SERVICE_USER_SERVICE = 0x40;

/** SERVICE_KERNEL_DRIVER, SERVICE_FILE_SYSTEM_DRIVER, adapter, recognizer: and no Win32 bit. */
export function isDriverType(type: number): boolean {
  return (type & SERVICE_DRIVER_MASK) !== 0 && (type & (SERVICE_WIN32_OWN_PROCESS | SERVICE_WIN32_SHARE_PROCESS)) === 0;
}

/** dwServiceType in words: "own-process", "share-process+interactive", "kernel-driver". */
export function serviceTypeName(type: number): string {
  const parts: string[] = [];
  if (type & 0x1) parts.push('kernel-driver');
  if (type & 0x2) parts.push('fs-driver');
  if (type & 0x4) parts.push('adapter');
  if (type & 0x8) parts.push('recognizer-driver');
  if (type & 0x10) parts.push('own-process');
  if (type & 0x20) parts.push('share-process');
  if (type & 0x40) parts.push('user-service');
  if (type & 0x100) parts.push('interactive');
  return parts.join('+') || `0x${type.toString(16)}`;
}
