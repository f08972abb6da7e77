// Strings (and call arguments) classified as the named resources that stand in the way of a
// second copy: kernel objects, pipes, mailslots, ports, RPC endpoints, URLs, registry keys,
// files, COM classes, service names. Pure.

export type ResourceCategory =
  | 'kernel-object'
  | 'pipe'
  | 'mailslot'
  | 'alpc-port'
  | 'object-path'
  | 'device'
  | 'rpc-protseq'
  | 'rpc-endpoint'
  | 'rpc-binding'
  | 'url'
  | 'port'
  | 'registry'
  | 'file'
  | 'com-class'
  | 'service-name';

export interface Classified {
  category: ResourceCategory;
  /** the part of the name that identifies the resource (what a VM renames) */
  name: string;
  detail: Record<string, string | number | boolean>;
}

export const PROTSEQS = [
  'ncalrpc',
  'ncacn_np',
  'ncacn_ip_tcp',
  'ncacn_http',
  'ncadg_ip_udp',
  'ncacn_hvsocket',
  'ncacn_nb_tcp',
  'ncacn_nb_nb',
  'ncacn_nb_ipx',
  'ncacn_spx',
  'ncadg_ipx',
  'ncacn_dnet_nsp',
  'ncacn_at_dsp',
  'ncadg_mq',
  'ncacn_vns_spp',
  'ncadg_cluster',
] as const;
const PROTSEQ_SET = new Set<string>(PROTSEQS);

const GUID = '\\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\\}?';
const GUID_RE = new RegExp(`^${GUID}$`);

/** Object names may not contain a backslash; a %-format marks a name built at run time. */
const objName = /^[^\\]{1,255}$/;

const RE = {
  kernelObject: /^(Global|Local|Session\\\d+)\\(.+)$/i,
  baseNamed: /^(?:\\Sessions\\\d+)?\\BaseNamedObjects\\(?:(Global|Local)\\)?(.+)$/i,
  pipe: /^(?:\\\\([^\\]+)\\pipe\\|\\Device\\NamedPipe\\|\\\?\?\\pipe\\|\\pipe\\)(.*)$/i,
  mailslot: /^(?:\\\\([^\\]+)\\mailslot\\|\\Device\\Mailslot\\|\\\?\?\\mailslot\\)(.*)$/i,
  rpcControl: /^\\RPC Control\\(.+)$/i,
  objectPath: /^\\(?:KernelObjects|Callback|KnownDlls|Windows|ObjectTypes|Sessions|BaseNamedObjects)(?:\\|$)/i,
  device: /^(?:\\Device\\|\\DosDevices\\|\\GLOBAL\?\?\\|\\\?\?\\(?![A-Za-z]:)|\\\\\.\\(?![A-Za-z]:)(?=[A-Za-z]))([^\\]*(?:\\.*)?)$/i,
  url: /\b(https?):\/\/(\[[0-9a-fA-F:.]+\]|[^/\s:'"<>]+)(?::(\d{1,5}))?(\/[^\s'"<>]*)?/i,
  hostPort: /^(?:(?:tcp|udp):\/\/)?((?:\d{1,3}\.){3}\d{1,3}|localhost|\*|\+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/i,
  binding: new RegExp(`^(?:${GUID}@)?(nca[a-z_]+):([^\\[]*)\\[([^\\]]*)\\]`, 'i'),
  registry:
    /^(?:\\Registry\\(?:Machine|User)\\|HKEY_(?:LOCAL_MACHINE|CURRENT_USER|CLASSES_ROOT|USERS|CURRENT_CONFIG)\\|HK(?:LM|CU|CR|U|CC)\\|(?:SOFTWARE|SYSTEM)\\|(?:CLSID|AppID|Interface|TypeLib)\\\{)/i,
  registryInner: /\\CurrentControlSet\\|\\CurrentVersion\\/i,
  file: /^(?:[A-Za-z]:\\|%[A-Za-z_][A-Za-z0-9_]*%\\|\\\\\?\\[A-Za-z]:\\|\\SystemRoot\\)/,
  dataFile: /\\[^\\]*\.(?:log|txt|dat|db|sqlite|ini|xml|json|pid|lock|tmp|job|cfg|conf|etl|evtx|bak)$/i,
  services: /(?:^|\\)Services\\([^\\]+)/i,
  clsidPath: new RegExp(`(?:^|\\\\)(CLSID|AppID)\\\\(${GUID})(?:\\\\([^\\\\]+))?`, 'i'),
};

function rootOf(path: string): string | undefined {
  const p = path.toUpperCase();
  if (p.startsWith('\\REGISTRY\\MACHINE\\') || p.startsWith('HKEY_LOCAL_MACHINE\\') || p.startsWith('HKLM\\')) return 'HKLM';
  if (p.startsWith('\\REGISTRY\\USER\\') || p.startsWith('HKEY_USERS\\') || p.startsWith('HKU\\')) return 'HKU';
  if (p.startsWith('HKEY_CURRENT_USER\\') || p.startsWith('HKCU\\')) return 'HKCU';
  if (p.startsWith('HKEY_CLASSES_ROOT\\') || p.startsWith('HKCR\\')) return 'HKCR';
  if (p.startsWith('HKEY_CURRENT_CONFIG\\') || p.startsWith('HKCC\\')) return 'HKCC';
  return undefined;
}

function normalizeGuid(g: string): string {
  const core = g.replace(/[{}]/g, '').toUpperCase();
  return `{${core}}`;
}

/** What a string names, if anything a duplicate collides on. A string can name two things (a URL and its port). */
export function classifyString(value: string): Classified[] {
  const v = value.trim();
  if (v.length < 3 || v.length > 1024) return [];
  // Every category below needs a backslash (object, pipe, registry and file paths), a colon
  // (URLs, host:port, bindings) or is a protocol sequence (all start "nca"): most strings of a
  // large binary have none, and leave here without running a pattern.
  if (!v.includes('\\') && !v.includes(':') && !/^nca/i.test(v)) return [];
  const out: Classified[] = [];
  let m: RegExpExecArray | null;
  const first = v[0];
  if (first === '\\' || first === '%' || /^[A-Za-z]/.test(v)) {
    if ((m = RE.pipe.exec(v))) {
      out.push({ category: 'pipe', name: m[2] ?? '', detail: { ...(m[1] && m[1] !== '.' ? { server: m[1] } : {}), ...(m[2] ? {} : { prefixOnly: true }) } });
      return out;
    }
    if ((m = RE.mailslot.exec(v))) {
      out.push({
        category: 'mailslot',
        name: m[2] ?? '',
        detail: { ...(m[1] && m[1] !== '.' ? { server: m[1] } : {}), ...(m[2] ? {} : { prefixOnly: true }) },
      });
      return out;
    }
    if ((m = RE.kernelObject.exec(v)) && objName.test(m[2]!)) {
      out.push({ category: 'kernel-object', name: m[2]!, detail: { scope: m[1]!.split('\\')[0]!, ...(m[2]!.includes('%') ? { pattern: true } : {}) } });
      return out;
    }
    if ((m = RE.baseNamed.exec(v)) && objName.test(m[2]!)) {
      out.push({ category: 'kernel-object', name: m[2]!, detail: { scope: m[1] ?? 'BaseNamedObjects' } });
      return out;
    }
    if ((m = RE.rpcControl.exec(v))) {
      out.push({ category: 'alpc-port', name: m[1]!, detail: {} });
      return out;
    }
    if (RE.objectPath.test(v)) {
      out.push({ category: 'object-path', name: v, detail: {} });
      return out;
    }
    if ((m = RE.device.exec(v)) && m[1]) {
      out.push({
        category: 'device',
        name: v.replace(/^\\\\\.\\|^\\\?\?\\|^\\DosDevices\\|^\\GLOBAL\?\?\\/i, ''),
        detail: { kind: /^\\Device\\/i.test(v) ? 'device' : 'dos-device' },
      });
      return out;
    }
    if (PROTSEQ_SET.has(v.toLowerCase())) {
      out.push({ category: 'rpc-protseq', name: v.toLowerCase(), detail: {} });
      return out;
    }
    if ((m = RE.binding.exec(v)) && PROTSEQ_SET.has(m[1]!.toLowerCase())) {
      out.push({ category: 'rpc-binding', name: v, detail: { protseq: m[1]!.toLowerCase(), address: m[2]!, endpoint: m[3]! } });
      return out;
    }
    if (RE.registry.test(v) || (RE.registryInner.test(v) && !RE.file.test(v))) {
      const detail: Record<string, string | number | boolean> = {};
      const root = rootOf(v);
      if (root) detail.root = root;
      if ((m = RE.services.exec(v)) && /CurrentControlSet|ControlSet\d+/i.test(v)) detail.service = m[1]!;
      const c = RE.clsidPath.exec(v);
      if (c) {
        detail[c[1]!.toLowerCase() === 'clsid' ? 'clsid' : 'appid'] = normalizeGuid(c[2]!);
        if (c[3]) detail.server = c[3];
      }
      out.push({ category: 'registry', name: v, detail });
      if (c && c[1]!.toLowerCase() === 'clsid') out.push({ category: 'com-class', name: normalizeGuid(c[2]!), detail: { ...(c[3] ? { server: c[3] } : {}) } });
      return out;
    }
    if (RE.file.test(v) || RE.dataFile.test(v)) {
      if (!/^\\\\\.\\/.test(v)) {
        out.push({ category: 'file', name: v, detail: {} });
        return out;
      }
    }
  }
  if ((m = RE.hostPort.exec(v))) {
    const port = Number(m[2]);
    if (port > 0 && port < 65536) out.push({ category: 'port', name: String(port), detail: { address: m[1]!, port } });
    return out;
  }
  if ((m = RE.url.exec(v))) {
    const host = m[2]!;
    const scheme = m[1]!.toLowerCase();
    const port = m[3] ? Number(m[3]) : scheme === 'https' ? 443 : 80;
    const wildcard = host === '+' || host === '*';
    out.push({ category: 'url', name: m[0], detail: { scheme, host, port, ...(wildcard ? { httpSysReservation: true } : {}) } });
    return out;
  }
  return out;
}

/** Classification of a call argument: the API says what the string is even without a telling prefix. */
export function classifyArg(role: string, value: string, api: string): Classified[] {
  const byString = classifyString(value);
  switch (role) {
    case 'object name':
      if (byString.some((c) => c.category === 'kernel-object')) return byString;
      if (objName.test(value))
        return [{ category: 'kernel-object', name: value, detail: { scope: 'session', ...(value.includes('%') ? { pattern: true } : {}) } }];
      return byString;
    case 'pipe name':
      return byString.some((c) => c.category === 'pipe') ? byString : [{ category: 'pipe', name: value, detail: {} }];
    case 'mailslot name':
      return byString.some((c) => c.category === 'mailslot') ? byString : [{ category: 'mailslot', name: value, detail: {} }];
    case 'protseq':
      return [{ category: 'rpc-protseq', name: value.toLowerCase(), detail: {} }];
    case 'URL':
      return byString.length
        ? byString.map((c) => (c.category === 'url' ? { ...c, detail: { ...c.detail, httpSys: true } } : c))
        : [{ category: 'url', name: value, detail: { httpSys: true } }];
    case 'registry key': {
      if (byString.some((c) => c.category === 'registry')) return byString;
      const detail: Record<string, string | number | boolean> = { relative: true };
      const m = RE.services.exec(value);
      if (m && /CurrentControlSet|ControlSet\d+/i.test(value)) detail.service = m[1]!;
      return [{ category: 'registry', name: value, detail }];
    }
    case 'file name':
    case 'directory':
      return byString.length ? byString : [{ category: 'file', name: value, detail: {} }];
    case 'service name':
      return [{ category: 'service-name', name: value, detail: { api } }];
    case 'string binding':
      return byString;
    default:
      return byString;
  }
}

export function isGuid(s: string): boolean {
  return GUID_RE.test(s);
}

/** Endpoint syntax by protocol: which strings can be the endpoint of a protseq. */
export function endpointFits(protseq: string, s: string): boolean {
  if (PROTSEQ_SET.has(s.toLowerCase())) return false;
  switch (protseq) {
    case 'ncacn_np':
      return /^\\pipe\\[^\\]+$/i.test(s);
    case 'ncacn_ip_tcp':
    case 'ncacn_http':
    case 'ncadg_ip_udp':
      return /^\d{1,5}$/.test(s) && Number(s) > 0 && Number(s) < 65536;
    case 'ncalrpc':
      return /^[A-Za-z0-9_.$-]{2,128}$/.test(s) && !/^\d+$/.test(s);
    default:
      return /^[A-Za-z0-9_.$\\-]{1,128}$/.test(s);
  }
}

// --- .rgs registry scripts (REGISTRY / WINE_REGISTRY resources): COM class registrations ---

export interface RgsClass {
  clsid: string;
  name?: string;
  /** InprocServer32, LocalServer32, ... as registered */
  servers: string[];
  progId?: string;
}

interface RgsNode {
  name: string;
  value?: string;
  children: RgsNode[];
}

/** The classes an ATL/Wine registry script registers under CLSID. Tolerant: a malformed script gives what could be read. */
export function parseRgsClasses(text: string): RgsClass[] {
  const tokens: string[] = [];
  const re = /'((?:[^']|'')*)'|([{}=])|([^\s{}=']+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) && tokens.length < 200000) tokens.push(m[1] !== undefined ? `'${m[1]}` : (m[2] ?? m[3]!));
  let i = 0;
  const word = (t: string): string => (t.startsWith("'") ? t.slice(1) : t);
  const block = (depth: number): RgsNode[] => {
    const nodes: RgsNode[] = [];
    while (i < tokens.length) {
      let t = tokens[i]!;
      if (t === '}') {
        i++;
        return nodes;
      }
      if (t === '{' || t === '=') {
        i++;
        continue;
      }
      const isVal = /^val$/i.test(t);
      while (/^(NoRemove|ForceRemove|Delete|val)$/i.test(t) && i + 1 < tokens.length) t = tokens[++i]!;
      const node: RgsNode = { name: word(t), children: [] };
      i++;
      if (tokens[i] === '=' && i + 2 < tokens.length + 1) {
        node.value = word(tokens[i + 2] ?? '');
        i += 3;
      }
      if (tokens[i] === '{') {
        i++;
        node.children = depth < 64 ? block(depth + 1) : [];
      }
      if (!isVal) nodes.push(node);
    }
    return nodes;
  };
  const roots = block(0);
  const out: RgsClass[] = [];
  const walk = (nodes: RgsNode[], depth: number): void => {
    if (depth > 64) return;
    for (const n of nodes) {
      if (n.name.toUpperCase() === 'CLSID') {
        for (const c of n.children) {
          if (!isGuid(c.name)) continue;
          const cls: RgsClass = {
            clsid: normalizeGuid(c.name),
            servers: c.children.filter((k) => /Server32$|^LocalServer$|^InprocHandler32$/i.test(k.name)).map((k) => k.name),
          };
          if (c.value) cls.name = c.value;
          const prog = c.children.find((k) => /^ProgId$/i.test(k.name));
          if (prog?.value) cls.progId = prog.value;
          out.push(cls);
        }
      } else walk(n.children, depth + 1);
    }
  };
  walk(roots, 0);
  return out;
}
