// The report as text, for people. The JSON form is the report object itself (docs/analyze.md).
import { serviceTypeName } from '../backend/service-type.js';
import type { AnalyzeReport, TraceReport } from './report.js';

export interface RenderOptions {
  /** evidence lines per issue; default 4 */
  evidence?: number;
}

export function renderReport(r: AnalyzeReport, opts: RenderOptions = {}): string {
  const maxEv = opts.evidence ?? 4;
  const out: string[] = [];
  const line = (s = ''): void => void out.push(s);
  const s = r.service;
  const b = r.binary;
  if (s) line(`${s.name}: ${s.kind} service${s.codeFile ? `, code in ${s.codeFile.path}` : ''}`);
  else line(`${r.target.input}: ${b ? `${b.format.machine} ${b.format.kind}` : 'file'}`);
  line(`verdict: ${r.verdict.kind}. ${r.verdict.summary}`);
  for (const why of r.verdict.reasons) line(`  reason: ${why.text}${why.fix ? `\n    fix: ${why.fix}` : ''}`);
  for (const rule of r.verdict.rules) line(`  rule: ${rule}`);
  for (const sh of r.verdict.shared) line(`  shared: ${sh.name}: ${sh.why}`);
  if (s) {
    line();
    line('service');
    line(`  display name   ${s.displayName}`);
    line(`  type           0x${s.type.toString(16)} (${serviceTypeName(s.type)}), start ${s.start}, account ${s.account || 'LocalSystem'}`);
    line(`  image path     ${s.imagePath}`);
    if (s.serviceDll) line(`  service DLL    ${s.serviceDll}`);
    if (s.loadOrderGroup) line(`  load group     ${s.loadOrderGroup}`);
    if (s.svchost) {
      line(`  svchost group  ${s.svchost.group}: ${s.svchost.sameGroup.join(', ')}`);
      if (s.svchost.registryMembers) line(`  Svchost key    ${s.svchost.group} = ${s.svchost.registryMembers.join(', ')}`);
    }
    line(`  dependencies   ${s.dependencies.length ? s.dependencies.map((d) => `${d.name} (${d.kind})`).join(', ') : 'none'}`);
    if (s.dependents) line(`  dependents     ${s.dependents.join(', ')}`);
    if (s.failureActions) {
      const fa = s.failureActions;
      line(
        `  on failure     ${fa.actions.map((a) => `${a.type} after ${a.delayMs} ms`).join(', ') || 'nothing'}; reset after ${fa.resetPeriodSeconds} s${fa.command ? `; command ${fa.command}` : ''}`,
      );
    }
  }
  const f = r.footprint;
  if (f) {
    line();
    line('the whole service');
    line(
      `  command line   ${f.commandLine.image}${f.commandLine.args.length ? ` ${f.commandLine.args.map((a) => (/[\s"]/.test(a) || !a ? JSON.stringify(a) : a)).join(' ')}` : ''}`,
    );
    for (const p of f.programs)
      line(
        `  starts         ${p.path} (${p.source})${p.exists ? '' : ', not found on the host'}${
          p.names?.length
            ? `: ${p.names
                .slice(0, 6)
                .map((n) => `${n.category} ${n.value}`)
                .join(', ')}`
            : ''
        }`,
      );
    for (const c of f.configFiles) line(`  config file    ${c.path} (${c.format}, ${c.settings} settings)${c.warning ? `: ${c.warning}` : ''}`);
    for (const st of f.settings.filter((x) => x.meaning !== 'port' && x.meaning !== 'address')) line(`  ${st.meaning.padEnd(14)} ${st.value}  (${st.source})`);
    for (const p of f.ports) line(`  binds port     ${p.port}${p.address ? ` on ${p.address}` : ''}  (${p.source})`);
    for (const w of f.writes) line(`  writes         ${w.path}  (${w.why})`);
  }
  const st = r.state;
  if (st) {
    line();
    line(`state (issue 9; rules from ${st.policy === 'default' ? 'the default policy' : `VM ${st.policy}'s policy`})`);
    for (const p of st.paths)
      line(
        `  ${p.kind.padEnd(6)} ${p.path}  ${p.rule}${p.ruleSource !== 'default' ? ` (${p.ruleSource})` : ''}${p.snapshot ? ', snapshotted when duplicated' : ''}  - ${p.why}`,
      );
    line(`  everything else: ${st.otherwise}`);
  }
  if (b) {
    line();
    line(`binary ${b.file}`);
    line(`  ${b.format.machine} ${b.format.kind}, subsystem ${b.format.subsystem}, ${b.size} bytes, sha256 ${b.sha256.slice(0, 16)}...`);
    const nImp = b.imports.reduce((n, d) => n + d.functions.length, 0);
    line(
      `  ${nImp} imports from ${b.imports.length} DLLs, ${b.exports.functions.length} exports, ${b.resources.count} resources, ${b.strings.ascii} ASCII and ${b.strings.utf16} UTF-16 strings`,
    );
    if (b.service.dispatchTables.length)
      for (const t of b.service.dispatchTables)
        line(`  dispatch table (${t.method}): ${t.entries.length} entr${t.entries.length === 1 ? 'y' : 'ies'}: ${t.entries.map((e) => e.name).join(', ')}`);
    if (b.service.serviceMainExports.length) line(`  service exports: ${b.service.serviceMainExports.join(', ')}`);
    if (b.service.controlHandlers.length) line(`  control handlers for: ${[...new Set(b.service.controlHandlers.map((h) => h.name))].join(', ')}`);
    if (b.names.length) {
      line('  named resources:');
      const w = Math.max(...b.names.map((n) => n.category.length));
      for (const n of b.names) line(`    ${n.category.padEnd(w)}  ${n.value}${n.role !== 'unknown' ? `  [${n.role}]` : ''}`);
    }
    if (b.rpc.endpoints.length) line(`  RPC endpoints: ${b.rpc.endpoints.map((e) => `${e.protseq}:[${e.endpoint}] (${e.method})`).join(', ')}`);
    if (b.com.classes.length) line(`  COM classes: ${b.com.classes.map((c) => `${c.clsid} (${c.role})`).join(', ')}`);
  }
  line();
  line('issues');
  for (const i of r.issues) {
    line(`  #${String(i.id).padEnd(2)} ${i.title.padEnd(34)} ${i.applies.padEnd(8)} ${i.resolution}`);
    if (i.applies === 'no') continue;
    line(`      ${i.how}`);
    const shown = i.evidence.slice(0, maxEv);
    for (const e of shown) line(`      - ${e.text}`);
    const more = i.evidence.length - shown.length + (i.moreEvidence ?? 0);
    if (more > 0) line(`      (${more} more: --json has them all)`);
  }
  line();
  if (r.trace) renderTrace(r.trace, r.service?.name ?? r.target.input, line);
  else if (r.service) line(`trace: not run (svcdup analyze ${r.service.name} --trace SECONDS runs it in a scratch VM and lists the names it uses)`);
  else line('trace: not run (--trace runs an installed service, not a file)');
  if (r.warnings.length) {
    line();
    line('warnings');
    for (const w of r.warnings) line(`  ${w}`);
  }
  return out.join('\n') + '\n';
}

function renderTrace(t: TraceReport, name: string, line: (s?: string) => void): void {
  const s = t.service;
  const ran = s.started ? `ran ${t.seconds} s${s.error ? ` (${s.error})` : ''}` : `did not start (${s.error ?? 'unknown error'})`;
  line(
    `trace: in scratch VM ${t.vm} (removed), ${name} ${ran}; ${t.events} decision${t.events === 1 ? '' : 's'}, ${t.resources.length} resource${t.resources.length === 1 ? '' : 's'}${t.dropped ? `, ${t.dropped} dropped` : ''}`,
  );
  if (s.duplicated.length > 1) line(`  duplicated with it: ${s.duplicated.slice(0, -1).join(', ')}`);
  if (s.shared.length) line(`  shared with the host: ${s.shared.join(', ')}`);
  if (t.resources.length) {
    const w = Math.max(...t.resources.map((r) => r.kind.length));
    for (const r of t.resources) {
      const eff = r.decision === 'renamed' ? ` -> ${r.effective}` : '';
      const tags = [
        r.decision,
        `${r.count}x`,
        `pid ${r.pids.join(',')}`,
        r.svcdup ? "svcdup's own" : r.foundStatically ? 'static: yes' : r.kind === 'process' || r.kind === 'child-process' ? '' : 'static: no',
      ].filter(Boolean);
      line(`  ${r.kind.padEnd(w)}  ${r.kind === 'child-process' ? r.name : r.used}${eff}  [${tags.join(', ')}]`);
    }
  }
  const x = t.crossReference;
  line(`  found statically and seen: ${x.confirmed.length ? x.confirmed.map((c) => c.name).join(', ') : 'none'}`);
  if (x.missedStatically.length) line(`  seen, not found statically: ${x.missedStatically.map((c) => c.name).join(', ')}`);
  if (x.notSeen.length) line(`  found statically, not seen in ${t.seconds} s: ${x.notSeen.map((c) => c.value).join(', ')}`);
}

/** `analyze --all`: one line per service. */
export function renderTable(reports: readonly AnalyzeReport[]): string {
  const rows = reports.map((r) => {
    const v = r.verdict;
    const why = v.reasons.length
      ? v.reasons.map((x) => x.text).join('; ')
      : v.rules.length
        ? v.rules.join('; ')
        : v.shared.length
          ? `shared: ${v.shared.map((x) => x.name).join(', ')}`
          : '';
    return [r.service?.name ?? r.target.input, r.service?.kind ?? '', v.kind, why];
  });
  const head = ['SERVICE', 'KIND', 'VERDICT', 'WHY'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]): string =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(w[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n') + '\n';
}
