// svcdup.yaml: the declarative fleet file. YAML parsed by the `yaml` package (which keeps
// every node's source range), validated with zod; a problem is reported with the line and
// column of the node it is about, as editors and compilers do.
import { hostCapacity, parseLimits, type VmLimits } from '../ops/limits.js';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { parsePortMap, validateAddress } from '../net/index.js';
import { vmNameProblem } from '../vm/names.js';
import { serviceNameProblem } from '../plan/names.js';
import { parseSet } from '../plan/edits.js';
import type { DupMode } from '../dup/dup.js';
import { parseRestart } from '../ops/restart.js';
import { parseHealth } from '../ops/health.js';

/** `set: { 'Parameters\Greeting': hello, 'Parameters\Port:REG_DWORD': 8080 }` */
const SetSpec = z.record(z.string().min(1), z.union([z.string(), z.number(), z.array(z.string())]));

export const ServiceSpec = z
  .object({
    set: SetSpec.optional(),
    share: z.array(z.string().min(1)).optional(),
    /** how the duplicate runs (docs/dup.md): auto (direct where it applies, the default), direct or relayed */
    mode: z.enum(['auto', 'direct', 'relayed']).optional(),
    /** the spelling before `mode`: true is `mode: direct`, false `mode: relayed` */
    direct: z.boolean().optional(),
    /** `dup --restart`, `--health`, `--interval`, `--retries` (docs/operate.md) */
    restart: z.string().optional(),
    health: z.string().optional(),
    interval: z.number().optional(),
    retries: z.number().optional(),
  })
  .strict();

const VmSpec = z
  .object({
    ip: z.string().optional(),
    ports: z.array(z.union([z.string(), z.number()])).optional(),
    policy: z.string().optional(),
    memory: z.union([z.string(), z.number()]).optional(),
    cpus: z.union([z.string(), z.number()]).optional(),
    processes: z.union([z.string(), z.number()]).optional(),
    services: z.record(z.string().min(1), ServiceSpec.nullable()).default({}),
  })
  .strict();

// `cluster:` is the cluster's section (src/cluster/file.ts); `up` ignores it
const FleetSpec = z.object({ vms: z.record(z.string(), VmSpec.nullable()).default({}), cluster: z.unknown().optional() }).strict();

/** A problem in the file, with where it is (1-based line and column). */
export class FleetFileError extends UsageError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${col}: ${problem}`);
  }
}

export interface DeclaredService {
  name: string;
  /** `--set` specs for the VM's copy of the service key (src/dup/dup.ts parseSet) */
  set: string[];
  share: string[];
  /** `dup` (auto), `dup --direct` or `dup --relayed` */
  mode: DupMode;
  /** `dup --restart`, `--health`, `--interval`, `--retries` as given (checked here, applied by up) */
  restart?: string;
  health?: string;
  interval?: string;
  retries?: string;
}

export interface DeclaredVm {
  name: string;
  ip?: string;
  /** port map in `vm create --port-map` spelling, e.g. "80:8081,udp/53:5353" */
  ports?: string;
  /** absolute path of the policy file */
  policyFile?: string;
  /** memory, cpus, processes (src/ops/limits.ts) */
  limits?: VmLimits;
  services: DeclaredService[];
}

export interface Fleet {
  /** absolute path of the file (the fleet's identity: what `up` owns) */
  file: string;
  vms: DeclaredVm[];
}

/** Value of one `set` entry in parseSet's `PATH[:TYPE]=VALUE` spelling; numbers are REG_DWORD unless typed. */
function setSpec(path: string, value: string | number | string[]): string {
  const typed = /:REG_[A-Z_]+$/.test(path);
  if (Array.isArray(value)) return `${typed ? path : `${path}:REG_MULTI_SZ`}=${value.join(',')}`;
  if (typeof value === 'number') return `${typed ? path : `${path}:REG_DWORD`}=${value}`;
  return `${path}=${value}`;
}

/** Where a path of keys points in the document: the key when `key` is set (unknown keys), else the value. */
export function position(doc: Document, lc: LineCounter, path: (string | number)[], key?: string): { line: number; col: number } {
  let node: unknown = doc.contents;
  let offset = 0;
  const steps = key === undefined ? path : [...path, key];
  for (let i = 0; i < steps.length; i++) {
    if (!isMap(node)) break;
    const want = String(steps[i]);
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === want);
    if (!pair) break;
    const last = i === steps.length - 1;
    const target = last && key !== undefined ? pair.key : (pair.value ?? pair.key);
    const range = (target as { range?: [number, number, number] } | null)?.range;
    if (range) offset = range[0];
    node = pair.value;
  }
  return lc.linePos(offset);
}

/** Parse and validate fleet text; `file` names it in errors and anchors relative policy paths. */
export function parseFleet(text: string, file: string): Fleet {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const fail = (pos: { line: number; col: number }, problem: string): never => {
    throw new FleetFileError(file, pos.line, pos.col, problem);
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    fail(e.linePos?.[0] ?? lc.linePos(e.pos[0]), e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''));
  }
  let js: unknown;
  try {
    // aliases expand: a few nested ones make millions of nodes (a "billion laughs" file)
    js = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    if (err instanceof ReferenceError) fail({ line: 1, col: 1 }, `too many YAML aliases (at most ${MAX_ALIASES} expansions): ${err.message}`);
    throw err;
  }
  const parsed = FleetSpec.safeParse(js ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code === 'unrecognized_keys') {
      const k = issue.keys[0]!;
      const where = path.length ? ` in ${path.join('.')}` : '';
      fail(position(doc, lc, path, k), `unknown key ${JSON.stringify(k)}${where} (expected ${expectedKeys(path)})`);
    }
    fail(position(doc, lc, path), `${path.join('.') || 'file'}: ${issue.message}`);
  }
  const base = dirname(resolve(file));
  const vms: DeclaredVm[] = [];
  for (const [name, spec] of Object.entries(parsed.data!.vms)) {
    const at = (...p: string[]) => position(doc, lc, ['vms', name, ...p]);
    const problem = vmNameProblem(name);
    if (problem) fail(position(doc, lc, ['vms'], name), `VM name ${JSON.stringify(name)}: ${problem}`);
    const vm: DeclaredVm = { name, services: [] };
    try {
      if (spec?.ip !== undefined) vm.ip = validateAddress(spec.ip);
    } catch (err) {
      fail(at('ip'), (err as Error).message.replace(/^--ip: /, 'ip: '));
    }
    if (spec?.ports?.length) {
      vm.ports = spec.ports.map(String).join(',');
      try {
        parsePortMap(vm.ports);
      } catch (err) {
        fail(at('ports'), (err as Error).message.replace(/^--port-map: /, 'ports: '));
      }
    }
    if (spec?.policy) vm.policyFile = resolve(base, spec.policy);
    for (const field of ['memory', 'cpus', 'processes'] as const) {
      if (spec?.[field] === undefined) continue;
      try {
        vm.limits = { ...vm.limits, ...parseLimits({ [field]: spec[field] }, hostCapacity(), { memory: 'memory', cpus: 'cpus', processes: 'processes' }) };
      } catch (err) {
        fail(at(field), (err as Error).message);
      }
    }
    vm.services = parseServices(
      spec?.services ?? {},
      (...p) => position(doc, lc, ['vms', name, ...p]),
      (...p) => position(doc, lc, ['vms', name, 'services'], p[0]),
      fail,
    );
    vms.push(vm);
  }
  return { file: resolve(file), vms };
}

type Pos = { line: number; col: number };
/**
 * The `services` map of a VM (or of a cluster group): names, `set` values and modes checked,
 * a problem reported at `at(path)` (a value) or `keyAt(name)` (a service's key).
 */
export function parseServices(
  services: Record<string, z.infer<typeof ServiceSpec> | null>,
  at: (...p: string[]) => Pos,
  keyAt: (svc: string) => Pos,
  fail: (pos: Pos, problem: string) => never,
): DeclaredService[] {
  const out: DeclaredService[] = [];
  for (const [svc, s] of Object.entries(services)) {
    const svcProblem = serviceNameProblem(svc);
    if (svcProblem && !/[\\/@]/.test(svc)) fail(keyAt(svc), `service name ${JSON.stringify(svc)}: ${svcProblem}`);
    if (/[\\/@]/.test(svc)) fail(keyAt(svc), `service name ${JSON.stringify(svc)}: the host service's own name, without @, / or \\`);
    const set = Object.entries(s?.set ?? {}).map(([p, v]) => setSpec(p, v));
    for (const [i, spec2] of set.entries()) {
      try {
        parseSet(spec2);
      } catch (err) {
        fail(at('services', svc, 'set', Object.keys(s!.set!)[i]!), (err as Error).message.replace(/^--set /, 'set: '));
      }
    }
    const legacy = s?.direct === undefined ? undefined : s.direct ? 'direct' : 'relayed';
    if (legacy && s?.mode && s.mode !== legacy) fail(at('services', svc, 'direct'), `direct: ${s.direct} contradicts mode: ${s.mode} (give mode only)`);
    const policy = {
      ...(s?.restart !== undefined ? { restart: s.restart } : {}),
      ...(s?.health !== undefined ? { health: s.health } : {}),
      ...(s?.interval !== undefined ? { interval: String(s.interval) } : {}),
      ...(s?.retries !== undefined ? { retries: String(s.retries) } : {}),
    };
    try {
      if (policy.restart !== undefined) parseRestart(policy.restart);
      if (policy.health !== undefined) parseHealth(policy.health, policy.interval, policy.retries);
      else if (policy.interval !== undefined || policy.retries !== undefined) throw new Error('interval and retries go with health');
    } catch (err) {
      const key = ['restart', 'health', 'interval', 'retries'].find((k) => (err as Error).message.includes(k)) ?? 'restart';
      fail(at('services', svc, key), (err as Error).message.replace(/^--/, ''));
    }
    out.push({ name: svc, set, share: s?.share ?? [], mode: s?.mode ?? legacy ?? 'auto', ...policy });
  }
  return out;
}

function expectedKeys(path: (string | number)[]): string {
  if (path.length === 0) return 'vms, cluster';
  if (path.length === 2) return 'ip, ports, policy, memory, cpus, processes, services';
  if (path.length === 4) return 'set, share, mode, restart, health, interval, retries';
  return 'see docs/fleet.md';
}

/** A fleet file is a page or two; anything larger is refused before it is parsed. */
export const MAX_FLEET_BYTES = 1024 * 1024;
/** Alias expansions allowed in a fleet file (yaml's toJS counts them). */
export const MAX_ALIASES = 100;

export function readFleet(file: string): Fleet {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new UsageError(`${file} is not a regular file`);
    const size = st.size;
    if (size > MAX_FLEET_BYTES) throw new UsageError(`${file} is ${size} bytes: a fleet file may be ${MAX_FLEET_BYTES} bytes at most`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (give one with -f FILE)' : (err as Error).message}`,
    );
  }
  return parseFleet(text, file);
}
