// What a service's settings say about a duplicate: its command line (split as Windows
// splits it), the options and values in it and in its Parameters key, and the configuration
// files it reads (key = value and ini: PostgreSQL's postgresql.conf, my.ini, *.cfg). Ports,
// addresses, data and log folders, pid files. Pure: io.ts reads the files.
import type { CommandLineSection, ConfigFileFinding, SettingFinding, SettingMeaning } from './report.js';
import { imageOf } from './config.js';

/**
 * The arguments after the program, as CommandLineToArgvW splits them: whitespace separates,
 * quotes group, 2n backslashes before a quote are n and the quote toggles, 2n+1 are n and a
 * literal quote, `""` inside quotes is a quote. An unbalanced quote runs to the end (as Windows
 * does) and is reported.
 */
export function parseCommandLine(commandLine: string): CommandLineSection {
  const t = commandLine.trim();
  const image = imageOf(t);
  let rest: string;
  if (t.startsWith('"')) {
    const end = t.indexOf('"', 1);
    rest = end > 0 ? t.slice(end + 1) : '';
  } else rest = t.slice(image.length);
  const warnings: string[] = [];
  if (t.startsWith('"') && t.indexOf('"', 1) < 0) warnings.push(`the ImagePath opens a quote that never closes: ${JSON.stringify(commandLine)}`);
  const args: string[] = [];
  let cur = '';
  let inArg = false;
  let quoted = false;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i]!;
    if (c === '\\') {
      let n = 0;
      while (rest[i] === '\\') n++, i++;
      if (rest[i] === '"') {
        cur += '\\'.repeat(Math.floor(n / 2));
        if (n % 2) cur += '"';
        else if (quoted && rest[i + 1] === '"') (cur += '"'), i++;
        else quoted = !quoted;
      } else {
        cur += '\\'.repeat(n);
        i--;
      }
      inArg = true;
    } else if (c === '"') {
      if (quoted && rest[i + 1] === '"') (cur += '"'), i++;
      else quoted = !quoted;
      inArg = true;
    } else if (!quoted && /\s/.test(c)) {
      if (inArg) args.push(cur);
      cur = '';
      inArg = false;
    } else {
      cur += c;
      inArg = true;
    }
    if (args.length >= 256) break;
  }
  if (inArg) args.push(cur);
  if (quoted) warnings.push(`the ImagePath arguments open a quote that never closes: ${JSON.stringify(commandLine)}`);
  return { image, args, warnings };
}

// ---------------------------------------------------------------- meanings

/** An absolute Windows path (drive, UNC or an environment variable). */
export const isWinPath = (v: string): boolean => /^(?:[A-Za-z]:[\\/]|\\\\[^\\]|%[A-Za-z_]\w*%[\\/])/.test(v);

/** What a setting means, from its name, then its value. */
export function meaningOf(key: string, value: string): SettingMeaning | undefined {
  const k = key.toLowerCase().replace(/^-+/, '');
  const v = value.trim();
  if (!v) return undefined;
  const portLike = /^\d{1,5}$/.test(v) && Number(v) > 0 && Number(v) < 65536;
  if (/(^|[^a-z])(pid_?file|pidfile|external_pid_file)$|pid$/.test(k) && !portLike) return 'pid-file';
  if (/(^|[_.-])(port|tcp|udp|tcp_?port|udp_?port|listen_?port)$|^(port|tcp|udp)$/.test(k) && portLike) return 'port';
  if (/(^|[_.-])(listen|bind)(_?addr(ess)?(es)?)?$|(^|[_.-])(host|address|addr)$|listen_addresses/.test(k)) return 'address';
  if (/(^|[_.-])(data_?(dir|directory|path|folder|root)|datadir|pgdata|d)$|^(data|d)$/.test(k)) return 'data-folder';
  if (/(^|[_.-])(log_?(dir|directory|folder|path)|logdir)$/.test(k)) return 'log-folder';
  if (
    /(^|[_.-])(conf(ig)?_?file|hba_file|ident_file|conf|config|c)$/.test(k) &&
    (isWinPath(v) || /\.(conf|ini|cfg|cnf|properties|ya?ml|json|xml|toml)$/i.test(v))
  )
    return 'config-file';
  if (/(^|[_.-])(log_?file|logfile|log_filename)$/.test(k) && (isWinPath(v) || /[\\/]/.test(v))) return 'file';
  if (isWinPath(v)) return /\.[A-Za-z0-9]{1,8}$/.test(v) ? (/\.(conf|ini|cfg|cnf|properties|toml)$/i.test(v) ? 'config-file' : 'file') : 'folder';
  return undefined;
}

/** Options of a command line that carry a value: `-D C:\data`, `--port 5432`, `--data-dir=C:\d`, `-c port=5432` (PostgreSQL). */
export function settingsFromArgs(args: readonly string[]): { key: string; value: string; source: string }[] {
  const out: { key: string; value: string; source: string }[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let m: RegExpExecArray | null;
    if ((m = /^(--?[A-Za-z][\w-]*)=(.*)$/.exec(a)) || (m = /^(\/[A-Za-z][\w-]*):(.+)$/.exec(a))) {
      out.push({ key: m[1]!.replace(/^[-/]+/, ''), value: m[2]!, source: `ImagePath argument ${m[1]}` });
    } else if (/^(-c|--set)$/.test(a) && i + 1 < args.length && /^[\w.]+=/.test(args[i + 1]!)) {
      const [k, ...v] = args[++i]!.split('=');
      out.push({ key: k!, value: v.join('='), source: `ImagePath argument ${a} ${k}` });
    } else if (/^--?[A-Za-z][\w-]*$/.test(a) && i + 1 < args.length && !/^-/.test(args[i + 1]!)) {
      out.push({ key: a.replace(/^-+/, ''), value: args[i + 1]!, source: `ImagePath argument ${a}` });
      i++;
    } else if (isWinPath(a)) out.push({ key: '', value: a, source: `ImagePath argument ${i + 1}` });
  }
  return out;
}

/** The folder of a Windows path. */
export function winDirname(p: string): string {
  const i = Math.max(p.lastIndexOf('\\'), p.lastIndexOf('/'));
  return i > 2 ? p.slice(0, i) : i === 2 ? p.slice(0, 3) : p;
}

/** A relative path resolved against a base folder, Windows style; absolute ones as they are. */
export function winResolve(baseDir: string, p: string): string {
  const v = p.replace(/\//g, '\\');
  if (isWinPath(v)) return v;
  return `${baseDir.replace(/\\+$/, '')}\\${v.replace(/^\.\\/, '')}`;
}

/** One setting, with its meaning resolved (relative paths against `baseDir`), or undefined. */
export function settingFinding(key: string, value: string, source: string, baseDir?: string): SettingFinding | undefined {
  const meaning = meaningOf(key, value);
  if (!meaning) return undefined;
  let v = value.trim();
  if (['data-folder', 'log-folder', 'pid-file', 'config-file', 'file', 'folder'].includes(meaning)) {
    if (!isWinPath(v) && !baseDir) return undefined;
    v = baseDir ? winResolve(baseDir, v) : v;
  }
  return { meaning, value: v, source };
}

// ---------------------------------------------------------------- configuration files

export interface ParsedConfig {
  format: ConfigFileFinding['format'];
  entries: { section?: string; key: string; value: string; line: number }[];
  warning?: string;
}

/** More settings than any real configuration file has: the rest is not read. */
const MAX_ENTRIES = 10000;

/**
 * A key = value or ini file: `[section]` headers, `key = value` or `key value` lines with
 * `#` or `;` comments, values quoted with '...' or "..." (PostgreSQL doubles a quote inside).
 * Text that is not (a NUL byte, or mostly control characters) is reported, not parsed.
 */
export function parseConfigText(bytes: Uint8Array, truncatedFrom?: number): ParsedConfig {
  const sample = bytes.subarray(0, 4096);
  let ctl = 0;
  for (const b of sample)
    if (b === 0) return { format: 'key-value', entries: [], warning: 'not a text file (it holds NUL bytes): not read' };
    else if (b < 9 || (b > 13 && b < 32)) ctl++;
  if (sample.length && ctl / sample.length > 0.1) return { format: 'key-value', entries: [], warning: 'not a text file (mostly control characters): not read' };
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes).replace(/^\uFEFF/, '');
  const entries: ParsedConfig['entries'] = [];
  let format: ParsedConfig['format'] = 'key-value';
  let section: string | undefined;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length && entries.length < MAX_ENTRIES; n++) {
    const line = lines[n]!.trim();
    if (!line || line[0] === '#' || line[0] === ';') continue;
    let m: RegExpExecArray | null;
    if ((m = /^\[([^\]]{1,200})\]$/.exec(line))) {
      format = 'ini';
      section = m[1]!.trim();
      continue;
    }
    if (!(m = /^([A-Za-z_][\w.-]{0,200})\s*(?:=|\s)\s*(.*)$/.exec(line))) continue;
    entries.push({ ...(section !== undefined ? { section } : {}), key: m[1]!, value: unquote(m[2]!), line: n + 1 });
  }
  const warnings: string[] = [];
  if (truncatedFrom !== undefined) warnings.push(`only the first ${bytes.length} of ${truncatedFrom} bytes were read`);
  if (entries.length >= MAX_ENTRIES) warnings.push(`only the first ${MAX_ENTRIES} settings were read`);
  return { format, entries, ...(warnings.length ? { warning: warnings.join('; ') } : {}) };
}

/** `'C:\data'  # comment` -> C:\data; PostgreSQL's '' inside single quotes is one quote. */
function unquote(raw: string): string {
  const v = raw.trim();
  const q = v[0];
  if (q === "'" || q === '"') {
    let out = '';
    for (let i = 1; i < v.length; i++) {
      const c = v[i]!;
      if (c === q) {
        if (v[i + 1] === q) {
          out += q;
          i++;
          continue;
        }
        return out;
      }
      if (c === '\\' && q === '"' && v[i + 1] === '"') {
        out += '"';
        i++;
        continue;
      }
      out += c;
    }
    return out;
  }
  return v.replace(/\s+[#;].*$/, '').trim();
}

/** The settings of a parsed file that mean something for a duplicate; relative paths against the file's folder. */
export function configSettings(path: string, parsed: ParsedConfig): SettingFinding[] {
  const dir = winDirname(path);
  const out: SettingFinding[] = [];
  for (const e of parsed.entries) {
    const f = settingFinding(e.key, e.value, `${path}:${e.line} ${e.section ? `[${e.section}] ` : ''}${e.key}`, dir);
    if (f) out.push(f);
    // `listen = 0.0.0.0:8080`, `bind-address = 127.0.0.1:5000`: the port too
    const hp = /^(?:\[?[0-9a-fA-F:.]*\]?|\*|[\w.-]+):(\d{1,5})$/.exec(e.value.trim());
    if (f?.meaning === 'address' && hp) out.push({ meaning: 'port', value: hp[1]!, source: f.source });
  }
  return out;
}

/** File names a folder's configuration files usually have: read these when a data folder or the image's folder holds them. */
export const CONFIG_FILE = /\.(conf|ini|cfg|cnf|properties|toml)$/i;
