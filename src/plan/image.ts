// The executable of a service's command line (ImagePath): what the planner copies for a direct
// duplicate, what snapshots look past, what the analyzer reads. Pure.

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
