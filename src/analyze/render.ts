// The report as text, for people. The JSON form is the report object itself (docs/analyze.md).
import { serviceTypeNameLocal } from './names.js';
import type { AnalyzeReport } from './issues.js';

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
  for (const sh of r.verdict.shared) line(`  shared: ${sh.name}: ${sh.why}`);
  if (s) {
    line();
    line('service');
    line(`  display name   ${s.displayName}`);
    line(`  type           0x${s.type.toString(16)} (${serviceTypeNameLocal(s.type)}), start ${s.start}, account ${s.account || 'LocalSystem'}`);
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
      line(`  on failure     ${fa.actions.map((a) => `${a.type} after ${a.delayMs} ms`).join(', ') || 'nothing'}; reset after ${fa.resetPeriodSeconds} s${fa.command ? `; command ${fa.command}` : ''}`);
    }
  }
  if (b) {
    line();
    line(`binary ${b.file}`);
    line(`  ${b.format.machine} ${b.format.kind}, subsystem ${b.format.subsystem}, ${b.size} bytes, sha256 ${b.sha256.slice(0, 16)}...`);
    const nImp = b.imports.reduce((n, d) => n + d.functions.length, 0);
    line(`  ${nImp} imports from ${b.imports.length} DLLs, ${b.exports.functions.length} exports, ${b.resources.count} resources, ${b.strings.ascii} ASCII and ${b.strings.utf16} UTF-16 strings`);
    if (b.service.dispatchTables.length) for (const t of b.service.dispatchTables) line(`  dispatch table (${t.method}): ${t.entries.length} entr${t.entries.length === 1 ? 'y' : 'ies'}: ${t.entries.map((e) => e.name).join(', ')}`);
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
  line('trace: not run (--trace needs the VM layer, which does not exist yet)');
  if (r.warnings.length) {
    line();
    line('warnings');
    for (const w of r.warnings) line(`  ${w}`);
  }
  return out.join('\n') + '\n';
}
