// What no snapshot may take, whatever a service's configuration names (docs/state.md, "No
// torn views"): a drive's root, svcdup's own folders (its home, with the Wine prefix and the
// state database; its Windows state folder, with every VM's file area) or a folder holding
// one. Copying those would copy svcdup into itself. And one folder spelled two ways (C:\x and,
// under Wine, Z:\<prefix>\drive_c\x) is one folder: it is snapshotted once, under its drive
// letter, where the hook looks for it. Pure.

/** Another spelling of a drive's root, as the VM's `alias files` rules name it. */
export interface DriveAlias {
  /** the drive, e.g. "C:" */
  drive: string;
  /** another path naming its root, e.g. Z:\home\u\.svcdup\prefix\drive_c */
  spelling: string;
}

/** A folder of svcdup's own, with what it is (for the reason a snapshot is refused). */
export interface OwnFolder {
  folder: string;
  what: string;
}

/** The drive aliases of a rules text: its `alias files DRIVE SPELLING` lines (fileAliasRules). */
export function driveAliases(rules: string): DriveAlias[] {
  const out: DriveAlias[] = [];
  for (const line of rules.split('\n')) {
    const m = /^alias files ([A-Za-z]:) (.+?)\r?$/.exec(line);
    if (m) out.push({ drive: m[1]!.toUpperCase(), spelling: m[2]!.replace(/\\+$/, '') });
  }
  return out;
}

const lower = (s: string): string => s.toLowerCase();
const inside = (f: string, parent: string): boolean => lower(f).startsWith(`${lower(parent)}\\`);

/** The folder as its drive letter spells it: an alias spelling of a drive's root is replaced by the drive. */
export function canonicalFolder(folder: string, aliases: readonly DriveAlias[]): string {
  const f = folder.replace(/\\+$/, '');
  // the longest spelling first: one alias may lie inside another's folder (Z:\ and Z:\...\drive_c)
  for (const a of [...aliases].sort((x, y) => y.spelling.length - x.spelling.length)) {
    if (lower(f) === lower(a.spelling)) return a.drive;
    if (inside(f, a.spelling)) return `${a.drive}${f.slice(a.spelling.length)}`;
  }
  return f;
}

/** Why `folder` (canonical) must not be snapshotted, or undefined when it may be. */
export function snapshotRefusal(folder: string, own: readonly OwnFolder[]): string | undefined {
  if (/^[A-Za-z]:\\?$/.test(folder)) return `a drive's root (${folder.slice(0, 2).toUpperCase()}\\): never snapshotted whole`;
  for (const o of own) {
    const f = o.folder.replace(/\\+$/, '');
    if (lower(folder) === lower(f) || inside(f, folder)) return `holds ${o.what} (${f}): never snapshotted`;
    if (inside(folder, f)) return `inside ${o.what} (${f}): never snapshotted`;
  }
  return undefined;
}
