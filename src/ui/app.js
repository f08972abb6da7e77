// The dashboard page: state and trace over server-sent events, actions over POST.
// Everything shown comes from VMs and services, so it is inserted as text, never as HTML.
'use strict'; // a classic script (index.html), not a module: the directive is not redundant
const token = new URLSearchParams(location.search).get('token') || '';
const $ = (sel) => document.querySelector(sel);
let state = { vms: [], duplicates: [], shared: [], diff: false };
const traceRows = [];

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function showError(msg) {
  $('#error').textContent = msg || '';
}

async function action(body, question) {
  if (question && !window.confirm(question)) return;
  showError('');
  const r = await fetch('/api/action', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Svcdup-Token': token },
    body: JSON.stringify(body),
  });
  const out = await r.json().catch(() => ({}));
  if (!r.ok) showError(`${body.action} ${body.service ? body.service + '@' : ''}${body.vm}: ${out.error || r.status}`);
}

function renderVms() {
  const tb = $('#vms tbody');
  tb.replaceChildren(
    ...state.vms.map((v) =>
      el(
        'tr',
        { 'data-vm': v.name },
        el('td', { class: 'mono' }, v.name),
        el('td', { class: 'mono' }, v.address || '-'),
        el(
          'td',
          { class: 'mono' },
          Object.entries(v.portMap)
            .map(([k, to]) => `${k}→${to}`)
            .join(' ') || '-',
        ),
        el('td', { class: 'mono processes' }, v.processes.length ? v.processes.map((p) => `${p.image}:${p.pid}`).join('  ') : '-'),
        el('td', { class: 'mono' }, v.endpoints.map((e) => `${e.proto}/${e.local}${e.inVm ? ` (${e.inVm} in the VM)` : ''}`).join('  ') || '-'),
        el(
          'td',
          {},
          el(
            'button',
            {
              class: 'danger',
              'data-action': 'vm.rm',
              onclick: () =>
                action(
                  { action: 'vm.rm', vm: v.name, confirm: true },
                  `Remove VM ${v.name}, its processes and its ${state.duplicates.filter((d) => d.vm === v.name).length} duplicates?`,
                ),
            },
            'vm rm',
          ),
        ),
      ),
    ),
  );
}

function renderDups() {
  const f = $('#dup-filter').value.trim().toLowerCase();
  const tb = $('#dups tbody');
  const rows = state.duplicates.filter((d) => !f || [d.scmName, d.vm, d.state, d.type, d.mode].some((x) => x.toLowerCase().includes(f)));
  tb.replaceChildren(
    ...rows.map((d) =>
      el(
        'tr',
        { 'data-dup': d.scmName },
        el('td', { class: 'mono' }, d.scmName),
        el('td', { class: 'mono' }, d.vm),
        el('td', {}, d.mode),
        el(
          'td',
          { class: `state ${d.state}` },
          d.state,
          ...(d.health ? [el('div', { class: `health ${d.health}` }, d.health)] : []),
          ...(d.restarts ? [el('div', { class: 'restarts' }, `restarts ${d.restarts}`)] : []),
          ...(d.why ? [el('div', { class: 'why' }, d.why.join(' '))] : []),
        ),
        el('td', { class: 'mono pid' }, d.pid || '-'),
        el('td', { class: 'mono' }, `${d.win32ExitCode}/${d.serviceExitCode}`),
        el('td', {}, d.createdInVm ? 'created in VM' : d.type),
        el('td', {}, d.startType),
        el('td', { class: 'mono' }, d.dependOnService.join(', ') || '-'),
        el(
          'td',
          {},
          el('button', { 'data-action': 'start', onclick: () => action({ action: 'start', vm: d.vm, service: d.service }) }, 'start'),
          el('button', { 'data-action': 'stop', onclick: () => action({ action: 'stop', vm: d.vm, service: d.service }, `Stop ${d.scmName}?`) }, 'stop'),
          el(
            'button',
            {
              class: 'danger',
              'data-action': 'undup',
              onclick: () => action({ action: 'undup', vm: d.vm, service: d.service, confirm: true }, `Remove the duplicate ${d.scmName}?`),
            },
            'undup',
          ),
        ),
      ),
    ),
  );
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Columns: the host's shared services, then one per VM; in a column, dependencies above dependents. */
function renderGraph() {
  const cols = [{ name: 'host (shared)', nodes: state.shared.map((s) => ({ id: s.name, label: s.name, state: s.state, host: true, deps: [] })) }];
  for (const v of state.vms) {
    cols.push({
      name: v.name,
      nodes: state.duplicates.filter((d) => d.vm === v.name).map((d) => ({ id: d.scmName, label: d.scmName, state: d.state, deps: d.dependOnService })),
    });
  }
  const byId = new Map();
  for (const c of cols) for (const n of c.nodes) byId.set(n.id.toLowerCase(), n);
  const depth = (n, seen = new Set()) => {
    if (seen.has(n.id)) return 0;
    seen.add(n.id);
    return Math.max(
      0,
      ...n.deps
        .map((d) => byId.get(d.toLowerCase()))
        .filter(Boolean)
        .map((d) => depth(d, seen) + 1),
    );
  };
  const W = 190,
    H = 28,
    GX = 30,
    GY = 16,
    TOP = 26;
  let rows = 1;
  cols.forEach((c, ci) => {
    c.nodes.sort((a, b) => depth(a) - depth(b) || a.id.localeCompare(b.id));
    c.nodes.forEach((n, i) => {
      n.x = 10 + ci * (W + GX);
      n.y = TOP + i * (H + GY);
    });
    rows = Math.max(rows, c.nodes.length);
  });
  const s = svg('svg', {
    viewBox: `0 0 ${20 + cols.length * (W + GX)} ${TOP + rows * (H + GY) + 10}`,
    role: 'img',
    'aria-label': 'dependencies of the duplicates',
  });
  const defs = svg('defs', {});
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#9aa4af' }));
  defs.append(marker);
  s.append(defs);
  for (const [ci, c] of cols.entries()) s.append(svg('text', { class: 'col', x: 10 + ci * (W + GX), y: 14 }, c.name));
  for (const c of cols) {
    for (const n of c.nodes) {
      for (const d of n.deps) {
        const t = byId.get(d.toLowerCase());
        if (!t) continue;
        let d2;
        if (t.x === n.x) {
          // same column: a curve out to the right, so it passes no node in between
          const x = n.x + W,
            bulge = 24 + Math.abs(n.y - t.y) / 6;
          d2 = `M${x},${n.y + H / 2} C${x + bulge},${n.y + H / 2} ${x + bulge},${t.y + H / 2} ${x + 2},${t.y + H / 2}`;
        } else {
          d2 = `M${n.x},${n.y + H / 2} L${t.x + W + 2},${t.y + H / 2}`;
        }
        s.append(svg('path', { d: d2, class: 'edge', 'marker-end': 'url(#arrow)' }));
      }
    }
  }
  for (const c of cols) {
    for (const n of c.nodes) {
      const g = svg('g', { class: `node ${n.state}${n.host ? ' host' : ''}`, 'data-node': n.id });
      g.append(svg('rect', { x: n.x, y: n.y, width: W, height: H }));
      g.append(svg('text', { x: n.x + 6, y: n.y + 18 }, `${n.label.length > 26 ? n.label.slice(0, 25) + '…' : n.label}`));
      const title = svg('title', {}, `${n.id}: ${n.state}`);
      g.append(title);
      s.append(g);
    }
  }
  $('#graph').replaceChildren(s);
}

function renderDiffPanel() {
  $('#diff-section').hidden = !state.diff;
  const sel = $('#diff-vm');
  const names = state.vms.map((v) => v.name);
  if (sel.options.length !== names.length || [...sel.options].some((o, i) => o.value !== names[i]))
    sel.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
}

function renderEvents() {
  const tb = $('#events tbody');
  tb.replaceChildren(
    ...(state.events ?? [])
      .slice()
      .reverse()
      .map((e) =>
        el(
          'tr',
          {},
          el('td', { class: 'mono' }, new Date(e.at).toLocaleTimeString([], { hour12: false })),
          el('td', { class: `event ${e.kind}` }, e.kind),
          el('td', { class: 'mono' }, e.service ? `${e.service}@${e.vm}` : (e.vm ?? '-')),
          el(
            'td',
            { class: 'mono' },
            Object.entries(e.detail)
              .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join(' '),
          ),
        ),
      ),
  );
}

/** With --etcd: nodes, groups, what cannot be placed and why, every replica's state on its host. */
function renderCluster() {
  const c = state.cluster;
  $('#cluster-section').hidden = !c;
  if (!c) return;
  $('#cluster-etcd').textContent = `etcd ${c.etcd}; ${c.leader ? `controller ${c.leader} leads` : 'no controller leads'}`;
  $('#cluster-problem').textContent = c.problem || '';
  const stateClass = (s) => (s === 'RUNNING' || s.startsWith('Ready') ? 'state run' : s === 'pending' ? 'state pend' : 'state stop');
  const mono = (text, cls = '') => el('td', { class: `mono ${cls}`.trim() }, text);
  // one row per item, keyed by a data- attribute the tests find it by
  const fill = (sel, attr, items, cells) => $(sel).replaceChildren(...items.map((x) => el('tr', { [`data-${attr}`]: x.name ?? x.vm }, ...cells(x))));
  const pairs = (o) =>
    Object.entries(o)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  fill('#cluster-nodes tbody', 'node', c.nodes, (n) => [
    mono(n.name),
    el('td', { class: stateClass(n.status) }, n.status),
    mono(n.leaseLeft === null ? '-' : `${n.leaseLeft} s`, 'lease'),
    mono(pairs(n.labels) || '-'),
    mono(`${n.duplicates} / ${n.capacity ?? '∞'}`),
    mono(n.hostname || '-'),
  ]);
  fill('#cluster-groups tbody', 'group', c.groups, (g) => [
    mono(g.name),
    mono(`${g.running} / ${g.replicas}`),
    mono(`spread: ${g.spread} ${pairs(g.labels)}`.trim()),
    mono(g.onNodeLoss === 'replace' ? `replace after ${g.grace} s` : 'wait (node lost)'),
  ]);
  $('#cluster-placement').replaceChildren(
    ...c.unplaced.map((u) => el('li', { class: 'unplaced', 'data-vm': u.vm }, `cannot place ${u.vm}: ${u.constraint}`)),
    ...c.waiting.map((w) => el('li', { class: 'waiting', 'data-vm': w.vm }, `${w.vm} on ${w.host}: ${w.reason}`)),
  );
  fill('#cluster-dups tbody', 'vm', c.duplicates, (d) => [
    mono(d.vm),
    mono(d.host, 'host'),
    mono(d.generation || '-'),
    el('td', { class: stateClass(d.state) }, d.state),
    mono(d.services.map((x) => `${x.service} ${x.state}${x.pid ? ` (${x.pid})` : ''}`).join(', ') || '-'),
    el('td', {}, d.note || ''),
  ]);
}

function render() {
  renderCluster();
  renderVms();
  renderDups();
  renderEvents();
  renderGraph();
  renderDiffPanel();
  $('#updated').textContent = `updated ${new Date(state.at).toLocaleTimeString([], { hour12: false })}`;
}

function traceMatches(ev) {
  const f = $('#trace-filter').value.trim().toLowerCase();
  return (
    !f ||
    [ev.vm, ev.call, ev.used, ev.effective, ev.decision, String(ev.pid)].some((x) =>
      String(x ?? '')
        .toLowerCase()
        .includes(f),
    )
  );
}

function traceRow(ev) {
  const t = ev.time ? new Date(ev.time).toLocaleTimeString([], { hour12: false }) : '';
  return el(
    'tr',
    {},
    el('td', { class: 'mono' }, t),
    el('td', { class: 'mono' }, ev.vm),
    el('td', { class: 'mono' }, ev.pid ?? ''),
    el('td', { class: 'mono' }, ev.call ?? (ev.dropped ? 'dropped' : '')),
    el('td', { class: 'mono' }, ev.used ?? ''),
    el('td', { class: 'mono' }, ev.effective ?? ''),
    el('td', { class: `decision-${ev.decision}` }, ev.decision ?? (ev.dropped ? `${ev.dropped} events` : '')),
  );
}

function renderTrace() {
  if ($('#trace-pause').checked) return;
  $('#trace tbody').replaceChildren(...traceRows.filter(traceMatches).slice(-300).reverse().map(traceRow));
}

// Stats (docs/operate.md): the server samples every 5 s while a page is open and keeps 5 minutes.
let statsHistory = [];
const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

function spark(values, max, cls) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 120 24');
  svg.setAttribute('class', `spark ${cls}`);
  const line = document.createElementNS(ns, 'polyline');
  const top = Math.max(max, 1);
  line.setAttribute('points', values.map((v, i) => `${(i * 120) / Math.max(values.length - 1, 1)},${24 - (v / top) * 22}`).join(' '));
  svg.append(line);
  return svg;
}

function renderStats() {
  const last = statsHistory.at(-1);
  if (!last) return;
  $('#stats tbody').replaceChildren(
    ...last.vms.map((v) => {
      const hist = statsHistory.map((s) => s.vms.find((x) => x.vm === v.vm));
      const ws = hist.map((x) => (x ? x.workingSetBytes : 0));
      const cpu = hist.map((x) => (x && x.cpuPercent !== undefined ? x.cpuPercent : 0));
      return el(
        'tr',
        { 'data-stats-vm': v.vm },
        el('td', { class: 'mono' }, v.vm),
        el('td', { class: 'mono' }, v.cpuPercent === undefined ? '-' : `${v.cpuPercent.toFixed(1)}%`),
        el('td', { class: 'mono' }, mib(v.privateBytes)),
        el('td', { class: 'mono' }, mib(v.workingSetBytes) + (v.memoryLimit ? ` / ${mib(v.memoryLimit)}` : '')),
        el('td', { class: 'mono' }, v.processes),
        el('td', { class: 'mono' }, v.threads),
        el('td', { class: 'mono' }, v.handles),
        el('td', {}, spark(ws, Math.max(...ws, v.memoryLimit || 0), 'mem'), spark(cpu, Math.max(100, ...cpu), 'cpu')),
      );
    }),
  );
}

async function loadStats() {
  const r = await fetch(`/api/stats?token=${encodeURIComponent(token)}`);
  if (r.ok) {
    statsHistory = await r.json();
    renderStats();
  }
}

function connect() {
  void loadStats();
  const es = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
  es.addEventListener('open', () => {
    $('#conn').textContent = 'live';
    $('#conn').className = 'conn live';
  });
  es.addEventListener('error', () => {
    $('#conn').textContent = 'disconnected (retrying)';
    $('#conn').className = 'conn down';
  });
  es.addEventListener('state', (m) => {
    state = JSON.parse(m.data);
    render();
  });
  es.addEventListener('stats', (m) => {
    statsHistory.push(JSON.parse(m.data));
    if (statsHistory.length > 60) statsHistory.shift();
    renderStats();
  });
  let pending = false;
  es.addEventListener('trace', (m) => {
    traceRows.push(JSON.parse(m.data));
    if (traceRows.length > 2000) traceRows.splice(0, traceRows.length - 2000);
    if (!pending) {
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        renderTrace();
      });
    }
  });
}

$('#dup-filter').addEventListener('input', renderDups);
$('#trace-filter').addEventListener('input', renderTrace);
$('#trace-pause').addEventListener('change', renderTrace);
$('#analyze-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const service = $('#analyze-service').value.trim();
  $('#analyze-out').textContent = `analyzing ${service}…`;
  const r = await fetch(`/api/analyze?token=${encodeURIComponent(token)}&service=${encodeURIComponent(service)}`);
  const out = await r.json().catch(() => ({}));
  $('#analyze-out').textContent = r.ok ? out.text : `error: ${out.error || r.status}`;
});
$('#diff-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const vm = $('#diff-vm').value;
  const r = await fetch(`/api/diff?token=${encodeURIComponent(token)}&vm=${encodeURIComponent(vm)}`);
  const out = await r.json().catch(() => ({}));
  $('#diff-out').textContent = r.ok ? JSON.stringify(out, null, 2) : `error: ${out.error || r.status}`;
});
// issue 24.5: the selected VM's checkpoints (restore asks first), a checkpoint, the export download
async function showCheckpoints() {
  const vm = $('#diff-vm').value;
  const r = await fetch(`/api/checkpoints?token=${encodeURIComponent(token)}&vm=${encodeURIComponent(vm)}`);
  const list = await r.json().catch(() => []);
  if (!r.ok) return showError(`checkpoints of ${vm}: ${list.error || r.status}`);
  $('#ckpts tbody').replaceChildren(
    ...list.map((c) =>
      el(
        'tr',
        { 'data-checkpoint': c.name },
        el('td', { class: 'mono' }, c.name),
        el('td', { class: 'mono' }, c.createdAt),
        el('td', { class: 'mono' }, c.fileBytes),
        el(
          'td',
          {},
          el(
            'button',
            {
              class: 'danger',
              'data-action': 'vm.restore',
              onclick: () =>
                action(
                  { action: 'vm.restore', vm, checkpoint: c.name, confirm: true },
                  `Restore VM ${vm} to checkpoint ${c.name}? Its duplicates are stopped and started again; what it changed since is lost.`,
                ),
            },
            'restore',
          ),
        ),
      ),
    ),
  );
}
$('#ckpt-list').addEventListener('click', showCheckpoints);
$('#ckpt-take').addEventListener('click', async () => {
  await action({ action: 'vm.checkpoint', vm: $('#diff-vm').value });
  await showCheckpoints();
});
$('#export-link').addEventListener('click', (e) => {
  e.preventDefault();
  location.href = `/api/export?token=${encodeURIComponent(token)}&vm=${encodeURIComponent($('#diff-vm').value)}`;
});
connect();
