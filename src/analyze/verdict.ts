// The verdict: what happens when the service is duplicated, decided from facts about the
// host (its configuration, its key, its files, its dependencies) and what the analysis
// found (shared dependencies, ports). Pure. `dup` asks the same function first
// (`dupRefusal`) and refuses before it registers anything.
import type { ServiceConfig } from '../backend/types.js';
import { isDriverType } from '../backend/service-type.js';
import type { ClosureProblem } from '../plan/closure.js';
import { imageOf } from './config.js';
import { REFUSED_VERDICTS, type Verdict, type VerdictReason } from './report.js';

/** What the host says about a service, beyond its configuration (gathered by io.ts, or given by a test). */
export interface HostFacts {
  /** HKLM\SYSTEM\CurrentControlSet\Services\NAME exists (Wine's SCM also lists services it made at run time, with no key) */
  keyExists: boolean;
  /** the image file exists; undefined when it could not be told (a path that maps to no file system) */
  imageExists?: boolean;
  /** the ServiceDll exists, for a svchost service */
  serviceDllExists?: boolean;
  /** the host's own instance is running */
  running?: boolean;
  /** the host backend: some outcomes differ under Wine (a wildcard listener holds the port on every 127.x address) */
  backend?: 'wine' | 'windows';
}

/** A dependency that would be duplicated with the service, with its own facts. */
export interface DependencyFacts {
  config: ServiceConfig;
  facts: HostFacts;
}

export interface VerdictInput {
  /** the service's name, or the file's */
  label: string;
  config?: ServiceConfig;
  facts?: HostFacts;
  /** the code file is a kernel driver (a file target has no configuration) */
  driverBinary?: boolean;
  /** problems of the dependency closure (src/plan/closure.ts) */
  closureProblems?: ClosureProblem[];
  /** the dependencies that would be duplicated with it (drivers and --share'd ones are not) */
  duplicatedDependencies?: DependencyFacts[];
  /** what stays shared with the host (from the issues) */
  shared?: { name: string; why: string }[];
  /** ports it will bind, with the address when known */
  ports?: { port: number; address?: string; source: string }[];
}

/** Images that are part of the SCM or the system itself: their services live and die with it. */
const SCM_OWNED = /^(services|lsass|wininit|csrss|smss)\.exe$/i;
/** Wine's driver host: ntoskrnl's user-mode stand-in, one process per driver group. */
const DRIVER_HOST = /^winedevice\.exe$/i;

const base = (p: string): string => p.split(/[\\/]/).pop() ?? p;

/** Why a service cannot run on the host itself (and so not in a VM either); empty when nothing is known against it. */
export function cannotRunReasons(cfg: ServiceConfig, facts: HostFacts | undefined, what = cfg.name): VerdictReason[] {
  const out: VerdictReason[] = [];
  if (cfg.start === 'DISABLED')
    out.push({
      code: 'disabled',
      text: `${what} is disabled on the host (start type DISABLED): the SCM refuses to start it`,
      fix: `enable it first: sc config ${cfg.name} start= demand`,
    });
  if (facts?.imageExists === false) {
    const image = imageOf(cfg.imagePath);
    out.push({
      code: 'image-missing',
      text: `the image of ${what}, ${image}, does not exist: the host's own service cannot start either`,
      fix: `install the program, or point the service at it: sc config ${cfg.name} binPath= "<path to the program>"`,
    });
  }
  if (cfg.serviceDll && facts?.serviceDllExists === false)
    out.push({
      code: 'service-dll-missing',
      text: `the ServiceDll of ${what}, ${cfg.serviceDll}, does not exist: svchost cannot load it`,
      fix: `install the DLL, or fix HKLM\\SYSTEM\\CurrentControlSet\\Services\\${cfg.name}\\Parameters\\ServiceDll`,
    });
  return out;
}

/** Why a service cannot be duplicated at all, whatever the host does. */
export function notDuplicableReasons(
  cfg: ServiceConfig | undefined,
  facts: HostFacts | undefined,
  driverBinary = false,
  label = cfg?.name ?? '',
): VerdictReason[] {
  const out: VerdictReason[] = [];
  if ((cfg && isDriverType(cfg.type)) || driverBinary) {
    out.push({
      code: 'kernel-driver',
      text: `${label} is a kernel driver: one copy in the kernel serves the host and every VM, and it cannot be duplicated from user mode; svcdup virtualizes its namespaces (device names, http.sys URLs) instead`,
    });
    return out;
  }
  if (!cfg) return out;
  const image = base(imageOf(cfg.imagePath));
  if (DRIVER_HOST.test(image))
    out.push({
      code: 'driver-host',
      text: `${cfg.name} is Wine's driver host (${image}): it runs kernel drivers for ntoskrnl, which has one copy for the host and every VM; a driver host cannot be duplicated from user mode`,
    });
  else if (SCM_OWNED.test(image))
    out.push({ code: 'scm-owned', text: `${cfg.name} runs inside ${image}, which the system itself owns: it cannot be started a second time` });
  if (facts && !facts.keyExists)
    out.push({
      code: 'no-service-key',
      text: `the SCM lists ${cfg.name}, but HKLM\\SYSTEM\\CurrentControlSet\\Services\\${cfg.name} does not exist (a service made at run time): there is no configuration to copy into a VM`,
    });
  return out;
}

/** Ports below which the rule suggests a mapped port this far up. */
const PORT_MAP_OFFSET = 10000;
/** The port a port-map rule suggests for PORT: 10000 up, or below when that leaves the range. */
export const mappedPort = (port: number): number => (port + PORT_MAP_OFFSET < 65536 ? port + PORT_MAP_OFFSET : port - PORT_MAP_OFFSET);
const wildcard = (a: string | undefined): boolean => !a || a === '*' || a === '0.0.0.0' || a === '::' || a === '[::]' || a === '+';

export function decideVerdict(input: VerdictInput): Verdict {
  const { label, config: cfg, facts } = input;
  const shared = input.shared ?? [];
  const list = (xs: string[]): string => [...new Set(xs)].join(', ');

  const blocked = notDuplicableReasons(cfg, facts, input.driverBinary, label);
  if (blocked.length) {
    const driver = blocked.some((r) => r.code === 'kernel-driver');
    return {
      kind: 'not-duplicable',
      shared: driver ? [{ name: label, why: 'it is a kernel driver' }] : [],
      reasons: blocked,
      rules: [],
      summary: driver
        ? `${label} is a kernel driver: it cannot be duplicated from user mode. Services that use it share it with the host; svcdup virtualizes its namespaces instead.`
        : `${label} cannot be duplicated: ${blocked.map((r) => r.text).join('; ')}.`,
    };
  }

  if (cfg) {
    const reasons = cannotRunReasons(cfg, facts);
    for (const p of input.closureProblems ?? []) {
      if (p.kind === 'missing')
        reasons.push({
          code: 'dependency-missing',
          text: `${p.message}: the SCM cannot start it`,
          fix: `install ${p.service}, or remove the dependency: sc config ${cfg.name} depend= <the others, / separated>`,
        });
      else if (p.kind === 'cycle')
        reasons.push({
          code: 'dependency-cycle',
          text: `${p.message}: no order starts them`,
          fix: 'break the cycle: sc config NAME depend= ... on one of them',
        });
      else if (p.kind === 'empty-group')
        reasons.push({
          code: 'dependency-missing',
          text: `${p.message}: the SCM cannot start it`,
          fix: `remove the group dependency: sc config ${cfg.name} depend= ...`,
        });
    }
    for (const d of input.duplicatedDependencies ?? []) {
      const why = [...notDuplicableReasons(d.config, d.facts), ...cannotRunReasons(d.config, d.facts, `its dependency ${d.config.name}`)];
      for (const r of why)
        reasons.push({
          code: 'dependency-cannot-start',
          text: `${cfg.name} depends on ${d.config.name}, which cannot start: ${r.text}`,
          ...(r.fix ? { fix: r.fix } : { fix: `svcdup dup ${cfg.name} --share ${d.config.name} leaves it to the host` }),
        });
    }
    if (reasons.length)
      return {
        kind: 'cannot-run-on-host',
        shared,
        reasons,
        rules: [],
        summary: `${cfg.name} cannot run on the host either, so not in a VM: ${reasons.map((r) => r.text).join('; ')}. Fix: ${reasons
          .map((r) => r.fix)
          .filter(Boolean)
          .join('; ')}.`,
      };
  }

  // Under Wine a host listener on the wildcard address holds its port on every 127.x address, the VM's too.
  if (facts?.running && facts.backend !== 'windows') {
    const taken = (input.ports ?? []).filter((p) => wildcard(p.address));
    if (taken.length) {
      const rules = [`--port-map ${taken.map((p) => `${p.port}:${mappedPort(p.port)}`).join(',')}`];
      const ports = list(taken.map((p) => String(p.port)));
      return {
        kind: 'duplicable-with-policy',
        shared,
        reasons: [
          {
            code: 'port-taken',
            text: `the host's own ${label} is running and binds port${taken.length > 1 ? 's' : ''} ${ports} on ${taken[0]!.address ?? 'the wildcard address'} (${list(taken.map((p) => p.source))}): under Wine that holds the port on every 127.x address, the VM's too`,
            fix: `give the VM a port map: svcdup vm create VM ${rules.join(' ')}; or bind the host's instance to 127.0.0.1`,
          },
        ],
        rules: rules.map((r) => `svcdup vm create VM ${r}`),
        summary: `${label} can be duplicated with a rule: svcdup vm create VM ${rules.join(' ')} (the host's instance holds port${taken.length > 1 ? 's' : ''} ${ports}).`,
      };
    }
  }

  if (shared.length)
    return {
      kind: 'duplicable-with-shared-dependencies',
      shared,
      reasons: [],
      rules: [],
      summary: `${label} can be duplicated; ${list(shared.map((s) => s.name))} stay${shared.length === 1 ? 's' : ''} shared with the host.`,
    };
  return { kind: 'duplicable', shared: [], reasons: [], rules: [], summary: `${label} can be duplicated: every issue that applies is resolved inside the VM.` };
}

/** `dup`'s question: refuse, and why (one message with the fixes), or undefined to go ahead. */
export function dupRefusal(verdict: Verdict, service: string): string | undefined {
  if (!REFUSED_VERDICTS.includes(verdict.kind)) return undefined;
  const what = verdict.kind === 'not-duplicable' ? 'cannot be duplicated' : 'cannot run on the host either, so not in a VM';
  const fixes = [...new Set(verdict.reasons.map((r) => r.fix).filter(Boolean))];
  return `${service} ${what}: ${verdict.reasons.map((r) => r.text).join('; ')}${fixes.length ? `\n  fix: ${fixes.join('; ')}` : ''}`;
}
