// The one spelling of dwServiceType in words, for the analyzer's report and the CLI's tables.

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
