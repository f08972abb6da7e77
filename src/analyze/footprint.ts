// The whole service, assembled from what io.ts read: its command line, its Parameters
// values, the programs it starts (named in its code, found beside its image, or seen by
// --trace) and their own findings, the configuration files its settings name or its data
// folders hold. The result: the ports it will bind and the folders it will write. Pure.
import type { BinaryAnalysis } from './binary.js';
import type { CommandLineSection, ConfigFileFinding, FootprintSection, ProgramFinding, SettingFinding } from './report.js';
import { configSettings, isWinPath, settingFinding, settingsFromArgs, winDirname, type ParsedConfig } from './settings.js';

export interface FootprintInput {
  commandLine: CommandLineSection;
  /** the image's Windows path (its folder is "its own folder") */
  image: string;
  /** Parameters values (and the service key's own string values), by name */
  parameters: { name: string; value: string }[];
  /** programs found, with what their own analysis found */
  programs: (ProgramFinding & { binary?: BinaryAnalysis })[];
  /** configuration files read: path and parse, or why not */
  configFiles: { path: string; parsed?: ParsedConfig; error?: string }[];
  /** ports the code itself names (the code file's `port` names) */
  codePorts?: { port: number; address?: string; source: string }[];
}

const PATH_MEANINGS = new Set(['data-folder', 'log-folder', 'folder']);
const MAX_SETTINGS = 500;

/** Settings from the command line and Parameters, relative paths against the image's folder. */
export function directSettings(commandLine: CommandLineSection, image: string, parameters: FootprintInput['parameters']): SettingFinding[] {
  const own = winDirname(image);
  const out: SettingFinding[] = [];
  for (const a of settingsFromArgs(commandLine.args)) {
    const f = settingFinding(a.key, a.value, a.source, own);
    if (f) out.push(f);
  }
  for (const p of parameters) {
    const f = settingFinding(p.name, p.value, `Parameters\\${p.name}`, isWinPath(p.value) ? undefined : own);
    if (f) out.push(f);
  }
  return out;
}

export function assembleFootprint(input: FootprintInput): FootprintSection {
  const settings: SettingFinding[] = directSettings(input.commandLine, input.image, input.parameters);
  const configFiles: ConfigFileFinding[] = [];
  for (const c of input.configFiles) {
    if (!c.parsed) {
      configFiles.push({ path: c.path, format: 'key-value', settings: 0, warning: c.error ?? 'not read' });
      continue;
    }
    configFiles.push({ path: c.path, format: c.parsed.format, settings: c.parsed.entries.length, ...(c.parsed.warning ? { warning: c.parsed.warning } : {}) });
    settings.push(...configSettings(c.path, c.parsed));
  }
  const uniq = new Map<string, SettingFinding>();
  for (const s of settings) if (uniq.size < MAX_SETTINGS) uniq.set(`${s.meaning}\0${s.value.toLowerCase()}\0${s.source}`, s);
  const all = [...uniq.values()];

  // ports, each with the address set beside it (same command line, same file)
  const container = (source: string): string =>
    source.startsWith('ImagePath') ? 'ImagePath' : source.startsWith('Parameters') ? 'Parameters' : source.replace(/:\d+ .*$/, '');
  const ports: FootprintSection['ports'] = [];
  const addPort = (port: number, address: string | undefined, source: string): void => {
    if (!(port > 0 && port < 65536)) return;
    const known = ports.find((p) => p.port === port);
    if (known) {
      if (!known.address && address) known.address = address;
      return;
    }
    ports.push({ port, ...(address ? { address } : {}), source });
  };
  for (const s of all.filter((x) => x.meaning === 'port')) {
    const addr = all.find((x) => x.meaning === 'address' && container(x.source) === container(s.source));
    addPort(Number(s.value), addr ? addr.value.replace(/:\d{1,5}$/, '') : undefined, s.source);
  }
  for (const p of input.codePorts ?? []) addPort(p.port, p.address, p.source);
  for (const prog of input.programs)
    for (const n of prog.binary?.names ?? [])
      if (n.category === 'port') addPort(Number(n.detail.port ?? n.name), n.detail.address ? String(n.detail.address) : undefined, `${prog.path}: ${n.value}`);

  // folders it will write
  const writes: FootprintSection['writes'] = [];
  const addWrite = (path: string, why: string): void => {
    if (!writes.some((w) => w.path.toLowerCase() === path.toLowerCase())) writes.push({ path, why });
  };
  for (const s of all) {
    if (PATH_MEANINGS.has(s.meaning)) addWrite(s.value, `${s.meaning} (${s.source})`);
    else if (s.meaning === 'pid-file' || s.meaning === 'file')
      addWrite(winDirname(s.value), `holds ${s.meaning === 'pid-file' ? 'the pid file' : 'the file'} ${s.value} (${s.source})`);
  }
  if (isWinPath(input.image)) addWrite(winDirname(input.image), "the image's own folder (logs and pid files beside the program)");

  return {
    commandLine: input.commandLine,
    programs: input.programs.map(({ binary, ...p }) => ({
      ...p,
      ...(binary
        ? {
            names: binary.names
              .filter((n) => ['port', 'pipe', 'kernel-object', 'rpc-endpoint', 'url', 'file'].includes(n.category))
              .slice(0, 30)
              .map((n) => ({ category: n.category, value: n.value })),
          }
        : {}),
    })),
    configFiles,
    settings: all,
    ports,
    writes,
  };
}
