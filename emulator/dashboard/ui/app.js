// sluice dashboard: polls GET /_sluice/dashboard/state once a second and
// draws it with plain DOM calls (textContent only: message bodies and log
// lines are shown, never parsed as HTML) and inline SVG sparklines.
// Admin POSTs carry X-Sluice-Admin-Token when the user gave one: it is
// typed into the token field (or passed once as #token=... in the URL,
// which browsers never send to a server) and kept in sessionStorage, so it
// lives as long as the tab and no other origin can read it.
'use strict';

const POLL_MS = 1000;
const ALARMS_RETRY_MS = 15000;
const TOKEN_KEY = 'sluice-admin-token';
const SVG_NS = 'http://www.w3.org/2000/svg';

const ui = {
  paused: false,
  inFlight: false,
  timer: null, // the polling loop's next poll, when one is scheduled
  state: null,
  alarmsMissingUntil: 0,
  traceId: null,
};

// ---------- small DOM helpers ----------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function $(id) { return document.getElementById(id); }

// Replaces el's children, keeping keyboard focus on the element with the
// same data-fk when there is one after the change.
function replace(el, ...children) {
  const active = document.activeElement;
  const fk = active && el.contains(active) ? active.getAttribute('data-fk') : null;
  el.replaceChildren(...children.flat().filter((c) => c));
  if (fk) {
    const again = el.querySelector(`[data-fk="${CSS.escape(fk)}"]`);
    if (again) again.focus();
  }
}

function fmtInt(v) {
  return typeof v === 'number' && Number.isFinite(v) ? String(Math.round(v)) : '–';
}

function fmtMs(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function fmtAge(s) {
  if (typeof s !== 'number') return '–';
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h`;
}

function fmtTime(ms) {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// The per-second rate of the last complete sparkline period.
function rate(series, periodS) {
  if (!Array.isArray(series) || series.length < 2) return 0;
  const v = series[series.length - 2];
  return typeof v === 'number' ? v / periodS : 0;
}

function fmtRate(r) {
  return r === 0 ? '0/s' : r < 10 ? `${r.toFixed(1)}/s` : `${Math.round(r)}/s`;
}

// A number cell the tests (and screen readers) find by key.
function num(key, text) {
  return h('span', { class: 'num', 'data-k': key, text });
}

// ---------- sparklines ----------

// series: [{values, cls}] drawn as polylines over a shared scale; null
// values are gaps.
function sparkline(series, label) {
  const w = 120, hgt = 28, pad = 2;
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('width', String(w));
  svg.setAttribute('height', String(hgt));
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const title = document.createElementNS(SVG_NS, 'title');
  title.textContent = label;
  svg.append(title);
  let max = 0;
  for (const s of series) for (const v of s.values) if (typeof v === 'number' && v > max) max = v;
  if (max === 0) max = 1;
  for (const s of series) {
    const n = s.values.length;
    let points = [];
    const flush = () => {
      if (points.length === 1) points.push(points[0].replace(/^([\d.]+)/, (x) => String(Number(x) + 1)));
      if (points.length > 1) {
        const pl = document.createElementNS(SVG_NS, 'polyline');
        pl.setAttribute('points', points.join(' '));
        pl.setAttribute('class', s.cls);
        pl.setAttribute('fill', 'none');
        svg.append(pl);
      }
      points = [];
    };
    s.values.forEach((v, i) => {
      if (typeof v !== 'number') { flush(); return; }
      const x = pad + (i * (w - 2 * pad)) / Math.max(1, n - 1);
      const y = hgt - pad - (v / max) * (hgt - 2 * pad);
      points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
    });
    flush();
  }
  return svg;
}

// ---------- requests ----------

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

async function getJSON(path) {
  const r = await fetch(path, { cache: 'no-store', credentials: 'same-origin' });
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  return { status: r.status, body };
}

async function postJSON(path, payload) {
  const headers = { 'Content-Type': 'application/json' };
  if (token()) headers['X-Sluice-Admin-Token'] = token();
  const r = await fetch(path, {
    method: 'POST', headers, body: JSON.stringify(payload), cache: 'no-store', credentials: 'same-origin',
  });
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  return { status: r.status, body };
}

// ---------- panels ----------

function queueByName(st) {
  return new Map(st.queues.map((q) => [q.name, q]));
}

function renderPattern(st) {
  const period = st.sparklines.period_s;
  const queues = queueByName(st);
  const fnByName = new Map(st.functions.map((f) => [f.name, f]));
  const arnToQueue = new Map(st.queues.map((q) => [q.arn, q]));
  const consumers = new Map();
  for (const m of st.mappings) {
    const q = arnToQueue.get(m.source_arn);
    if (!q) continue;
    if (!consumers.has(q.name)) consumers.set(q.name, []);
    consumers.get(q.name).push(m.function);
  }
  const flows = [];
  const covered = new Set();
  for (const r of st.routes) {
    if (r.integration === 'sqs' && queues.has(r.target)) {
      flows.push({ route: r, queue: queues.get(r.target) });
      covered.add(r.target);
    } else if (r.integration === 'lambda') {
      flows.push({ route: r, fn: r.target });
    }
  }
  for (const q of st.queues) {
    if (covered.has(q.name) || q.dlq_sources.length) continue;
    flows.push({ queue: q });
  }

  const node = (kind, title, ...details) =>
    h('li', { class: `node ${kind}` }, h('span', { class: 'kind', text: kind }), h('strong', { text: title }), ...details);
  const arrow = (label) => h('li', { class: 'arrow' }, h('span', { class: 'arrow-label', text: label }));

  const rows = flows.map((f) => {
    const items = [];
    if (f.route) {
      items.push(node('route', `${f.route.api} ${f.route.route}`,
        h('span', { class: 'detail' }, num(`p:r:${f.route.api} ${f.route.route}:count`, fmtInt(f.route.totals.count)), ' requests')));
      items.push(arrow(`${fmtRate(rate(f.route.series.count, period))}`));
    }
    if (f.queue) {
      const q = f.queue;
      items.push(node('queue', q.name,
        h('span', { class: 'detail' }, num(`p:q:${q.name}:visible`, fmtInt(q.visible)), ' waiting · ',
          num(`p:q:${q.name}:in_flight`, fmtInt(q.in_flight)), ' in flight')));
      const fns = consumers.get(q.name) || [];
      for (const name of fns) {
        const fn = fnByName.get(name);
        items.push(arrow(`${fmtRate(rate(q.series.received, period))} received · oldest ${fmtAge(q.oldest_age_s)}`));
        items.push(node('function', name, fn ? h('span', { class: 'detail' },
          num(`p:f:${name}:invocations`, fmtInt(fn.totals.invocations)), ' runs · ',
          num(`p:f:${name}:errors`, fmtInt(fn.totals.errors)), ' errors') : null));
      }
      if (q.dlq) {
        const d = queues.get(q.dlq);
        items.push(arrow(`after ${q.max_receive_count} receives`));
        items.push(node('dlq', q.dlq, d ? h('span', { class: 'detail' },
          num(`p:dlq:${q.dlq}:visible`, fmtInt(d.visible + d.in_flight + d.delayed)), ' dead letters') : null));
      }
    } else if (f.fn) {
      const fn = fnByName.get(f.fn);
      items.push(node('function', f.fn, fn ? h('span', { class: 'detail' },
        num(`p:f:${f.fn}:invocations`, fmtInt(fn.totals.invocations)), ' runs · ',
        num(`p:f:${f.fn}:errors`, fmtInt(fn.totals.errors)), ' errors') : null));
    }
    return h('ol', { class: 'flow', 'aria-label': items.map((i) => i.textContent).join(' → ') }, items);
  });
  replace($('pattern'), rows.length ? rows : h('p', { class: 'empty', text: 'No routes, queues or functions yet.' }));
}

function renderQueues(st) {
  const rows = st.queues.map((q) => {
    const k = (f) => `q:${q.name}:${f}`;
    return h('tr', {},
      h('th', { scope: 'row' }, q.name, q.dlq_sources.length ? h('span', { class: 'tag', text: 'DLQ' }) : null,
        q.fifo ? h('span', { class: 'tag', text: 'FIFO' }) : null),
      h('td', {}, num(k('visible'), fmtInt(q.visible))),
      h('td', {}, num(k('in_flight'), fmtInt(q.in_flight))),
      h('td', {}, num(k('delayed'), fmtInt(q.delayed))),
      h('td', {}, num(k('oldest_age_s'), fmtAge(q.oldest_age_s))),
      h('td', {}, num(k('sent'), fmtInt(q.totals.sent))),
      h('td', {}, num(k('received'), fmtInt(q.totals.received))),
      h('td', {}, num(k('deleted'), fmtInt(q.totals.deleted))),
      h('td', {}, sparkline([{ values: q.series.visible, cls: 's1' }, { values: q.series.in_flight, cls: 's2' }],
        `${q.name}: visible and in-flight messages, last 5 minutes`)),
      h('td', {}, sparkline([{ values: q.series.sent, cls: 's1' }, { values: q.series.received, cls: 's2' },
        { values: q.series.deleted, cls: 's3' }], `${q.name}: sent, received and deleted, last 5 minutes`)));
  });
  replace($('queues').tBodies[0], rows.length ? rows : h('tr', {}, h('td', { colspan: 10, class: 'empty', text: 'No queues.' })));
}

function renderFunctions(st) {
  const rows = st.functions.map((f) => {
    const k = (x) => `f:${f.name}:${x}`;
    return h('tr', {},
      h('th', { scope: 'row', text: f.name }),
      h('td', {}, num(k('invocations'), fmtInt(f.totals.invocations))),
      h('td', { class: f.totals.errors ? 'bad' : '' }, num(k('errors'), fmtInt(f.totals.errors))),
      h('td', {}, num(k('throttles'), fmtInt(f.totals.throttles))),
      h('td', {}, num(k('p50'), fmtMs(f.duration_ms.p50))),
      h('td', {}, num(k('p99'), fmtMs(f.duration_ms.p99))),
      h('td', {}, num(k('running'), fmtInt(f.running))),
      h('td', {}, sparkline([{ values: f.series.errors, cls: 'sbad' }, { values: f.series.invocations, cls: 's1' }],
        `${f.name}: invocations and errors, last 5 minutes`)));
  });
  replace($('functions').tBodies[0], rows.length ? rows : h('tr', {}, h('td', { colspan: 8, class: 'empty', text: 'No functions.' })));
}

function renderRoutes(st) {
  const rows = st.routes.map((r) => {
    const k = (x) => `r:${r.api} ${r.route}:${x}`;
    return h('tr', {},
      h('th', { scope: 'row' }, `${r.api} `, h('code', { text: r.route }),
        h('span', { class: 'tag', text: r.target ? `${r.integration}: ${r.target}` : r.integration })),
      h('td', {}, num(k('count'), fmtInt(r.totals.count))),
      h('td', {}, num(k('4xx'), fmtInt(r.totals['4xx']))),
      h('td', { class: r.totals['5xx'] ? 'bad' : '' }, num(k('5xx'), fmtInt(r.totals['5xx']))),
      h('td', {}, num(k('p50'), fmtMs(r.latency_ms.p50))),
      h('td', {}, num(k('p99'), fmtMs(r.latency_ms.p99))),
      h('td', {}, sparkline([{ values: r.series.errors, cls: 'sbad' }, { values: r.series.count, cls: 's1' }],
        `${r.api} ${r.route}: requests and 5xx errors, last 5 minutes`)));
  });
  replace($('routes').tBodies[0], rows.length ? rows : h('tr', {}, h('td', { colspan: 7, class: 'empty', text: 'No API routes.' })));
}

function renderDlqs(st) {
  const dlqs = st.queues.filter((q) => q.dlq_sources.length);
  if (!dlqs.length) {
    replace($('dlqs'), h('p', { class: 'empty', text: 'No queue has a dead-letter queue.' }));
    return;
  }
  const items = dlqs.map((q) => {
    const depth = q.visible + q.in_flight + q.delayed;
    return h('div', { class: `dlq${depth ? ' has-messages' : ''}` },
      h('p', {}, h('strong', { text: q.name }), ' holds ', num(`dlq:${q.name}:depth`, fmtInt(depth)),
        depth === 1 ? ' message, from ' : ' messages, from ', q.dlq_sources.join(', ')),
      h('div', { class: 'actions' },
        h('button', { type: 'button', 'data-fk': `redrive:${q.name}`, onclick: () => redrive(q.name) },
          `Redrive ${q.name}`),
        h('button', { type: 'button', 'data-fk': `peek:${q.name}`, onclick: () => peek(q.name) },
          `Peek at ${q.name}`)));
  });
  replace($('dlqs'), items);
}

async function redrive(name) {
  const msg = $('dlq-msg');
  msg.className = 'msg';
  msg.textContent = `Starting a redrive of ${name}…`;
  const r = await postJSON('/_sluice/dashboard/redrive', { queue: name });
  if (r.status === 200) {
    msg.textContent = `Redrive of ${name} started: its messages move back to their source queue.`;
    replace($('peek')); // an earlier peek no longer shows what the queue holds
    poll(true);
  } else {
    msg.className = 'msg bad';
    const why = (r.body && r.body.error) || `HTTP ${r.status}`;
    msg.textContent = `Redrive of ${name} refused: ${why}`;
    if (r.status === 403 && /Admin-Token/i.test(why)) showToken(true);
  }
}

async function peek(name) {
  const r = await getJSON(`/_sluice/dashboard/peek?queue=${encodeURIComponent(name)}&limit=10`);
  const out = $('peek');
  if (r.status !== 200) {
    replace(out, h('p', { class: 'msg bad', text: `Cannot peek at ${name}: ${(r.body && r.body.error) || r.status}` }));
    return;
  }
  const msgs = r.body.messages;
  replace(out,
    h('h3', { text: `${name}: ${msgs.length ? `first ${msgs.length} messages` : 'empty'}` }),
    h('p', { class: 'hint', text: 'A peek does not receive: receive counts and visibility stay as they are.' }),
    msgs.length ? h('div', { class: 'scroll' }, h('table', { class: 'peek' },
      h('thead', {}, h('tr', {}, ['Message', 'Receives', 'Sent', 'Body'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, msgs.map((m) => h('tr', {},
        h('td', {}, h('code', { text: m.MessageId })),
        h('td', {}, num(`peek:${m.MessageId}:receives`, fmtInt(m.ApproximateReceiveCount))),
        h('td', { text: fmtTime(m.SentTimestamp) }),
        h('td', {}, h('pre', { class: 'body', text: m.Body + (m.Truncated ? '…' : '') }),
          m.AWSTraceHeader ? h('a', { href: `#trace=${encodeURIComponent(traceRoot(m.AWSTraceHeader))}`, text: 'trace' }) : null)))))) : null);
}

function traceRoot(header) {
  const m = /Root=([^;]+)/.exec(header || '');
  return m ? m[1] : header;
}

function renderTraces(st) {
  const t = st.traces;
  $('h-slow').textContent = t.recorded ? `Slow (≥ ${t.slow_ms} ms)` : 'Slow';
  const list = (items, kind) => {
    if (!t.recorded) return [h('li', { class: 'empty', text: 'Traces are not recorded (observe: enabled: false).' })];
    if (!items || !items.length) return [h('li', { class: 'empty', text: `No ${kind} traces.` })];
    return items.map((x) => h('li', {},
      h('a', { href: `#trace=${encodeURIComponent(x.trace_id)}`, 'data-fk': `${kind}:${x.trace_id}`, class: 'trace-link' },
        h('code', { text: x.trace_id })),
      h('span', { class: 'detail', text: ` ${x.first} · ${x.duration_ms} ms · ${x.hops} hops` }),
      x.dead_lettered ? h('span', { class: 'tag bad', text: 'dead-lettered' }) : null,
      x.failed && !x.dead_lettered ? h('span', { class: 'tag bad', text: 'failed' }) : null));
  };
  replace($('traces-failed'), list(t.failed, 'failed'));
  // Failed chains are listed once, under Failed, however long they took.
  replace($('traces-slow'), list(t.slow && t.slow.filter((x) => !x.failed), 'slow'));
}

function hopText(hop) {
  switch (hop.kind) {
    case 'api': return `${hop.api} ${hop.route || hop.path} → ${hop.status} (${fmtMs(hop.duration_ms)} ms)`;
    case 'send': return `sent to ${hop.queue} as ${hop.message_id} (${hop.action})`;
    case 'receive': return `received from ${hop.queue} by ${hop.receiver} (receive ${hop.receive_count})`;
    case 'invoke': return `${hop.function} ran ${fmtMs(hop.duration_ms)} ms: ${hop.outcome}` +
      (hop.error_type ? ` (${hop.error_type}: ${hop.error_message})` : '');
    case 'retry': return `back to ${hop.queue} after ${hop.reason} (visible again in ${hop.visibility_timeout} s)`;
    case 'delete': return `deleted from ${hop.queue}`;
    case 'dead_letter': return `moved from ${hop.queue} to ${hop.dlq} after ${hop.receive_count} receives`;
    case 'redrive': return `redriven from ${hop.source} to ${hop.dest}`;
    default: {
      const skip = new Set(['ts_ms', 'kind', 'trace_id', 'offset_ms', 'failed', 'logs']);
      return Object.entries(hop).filter(([k]) => !skip.has(k)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
    }
  }
}

async function showTrace(id) {
  const panel = $('trace-panel');
  if (!id) {
    panel.hidden = true;
    ui.traceId = null;
    return;
  }
  ui.traceId = id;
  panel.hidden = false;
  replace($('trace'), h('p', { text: 'Loading…' }));
  const r = await getJSON(`/_sluice/traces/${encodeURIComponent(id)}`);
  if (ui.traceId !== id) return;
  if (r.status !== 200) {
    replace($('trace'), h('p', { class: 'msg bad', text: (r.body && r.body.error) || `HTTP ${r.status}` }));
    return;
  }
  const c = r.body;
  $('h-trace').textContent = `Trace ${c.id}`;
  replace($('trace'),
    h('p', {}, `Started ${fmtTime(c.start_ms)}, took ${c.duration_ms} ms`,
      c.failed ? h('span', { class: 'tag bad', text: 'failed' }) : null,
      c.dead_lettered ? h('span', { class: 'tag bad', text: 'dead-lettered' }) : null),
    h('ol', { class: 'hops' }, c.hops.map((hop) => h('li', { class: `hop ${hop.kind}${hop.failed ? ' failed' : ''}` },
      h('span', { class: 'offset', text: `+${hop.offset_ms} ms` }),
      h('span', { class: 'kind', text: hop.kind }),
      h('span', { class: 'what', text: hopText(hop) }),
      hop.logs && hop.logs.length ? h('pre', { class: 'logs', 'aria-label': `log lines of ${hop.request_id}` },
        // Lambda writes a multi-line error as one event with \r between lines.
        hop.logs.map((l) => h('span', { class: 'log-line', text: `${fmtTime(l.ts_ms)} ${l.message.replace(/\r/g, '\n    ')}\n` }))) : null))));
  $('h-trace').focus();
}

// ---------- alarms (GET /_sluice/alarms; 404 until alarms exist) ----------

async function refreshAlarms() {
  if (Date.now() < ui.alarmsMissingUntil) return;
  let r;
  try { r = await getJSON('/_sluice/alarms'); } catch { r = { status: 0 }; }
  if (r.status === 404) {
    ui.alarmsMissingUntil = Date.now() + ALARMS_RETRY_MS;
    replace($('alarms'), h('p', { class: 'empty', text: 'No alarms.' }));
    return;
  }
  if (r.status !== 200 || !r.body) {
    replace($('alarms'), h('p', { class: 'msg bad', text: `Alarms unavailable (HTTP ${r.status}).` }));
    return;
  }
  const alarms = r.body.alarms || [];
  const history = (r.body.history || []).slice(0, 10); // newest first, as the endpoint gives it
  if (!alarms.length) {
    replace($('alarms'), h('p', { class: 'empty', text: 'No alarms.' }));
    return;
  }
  replace($('alarms'),
    h('div', { class: 'scroll' }, h('table', { class: 'alarms' },
      h('thead', {}, h('tr', {}, ['Alarm', 'State', 'Metric', 'Condition', 'Reason'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, alarms.map((a) => h('tr', {},
        h('th', { scope: 'row', text: a.name }),
        h('td', {}, h('span', { class: `state state-${a.state}`, 'data-k': `alarm:${a.name}:state`, text: a.state })),
        h('td', { text: `${a.namespace} ${a.metric}` + ((a.dimensions || []).length
          ? ` (${a.dimensions.map((d) => `${d.name}=${d.value}`).join(', ')})` : '') }),
        h('td', { text: `${a.statistic} ${a.comparison} ${a.threshold} over ${a.period} s` }),
        h('td', { class: 'reason', text: a.reason || '' })))))),
    history.length ? h('details', {}, h('summary', { text: 'History' }),
      h('ul', { class: 'history' }, history.map((e) =>
        h('li', { text: `${e.time} ${e.name}: ${e.old} → ${e.new}. ${e.reason || ''}` })))) : null);
}

// ---------- the loop ----------

function setStatus(text, bad) {
  const s = $('status');
  s.textContent = text;
  s.className = bad ? 'status bad' : 'status';
}

function showToken(required) {
  $('token-form').hidden = !required;
}

// The polling loop is one chain of timers: each poll(false) schedules the
// next. A poll(true) (a refresh after Redrive) runs outside it; a timer that
// fires while it is in flight reschedules instead of dropping out, which
// stopped every update after a Redrive when the two met.
function schedule() {
  if (ui.timer || ui.paused) return;
  ui.timer = setTimeout(() => {
    ui.timer = null;
    poll(false);
  }, POLL_MS);
}

async function poll(once) {
  if (ui.inFlight) {
    if (!once) schedule();
    return;
  }
  ui.inFlight = true;
  try {
    const r = await getJSON('/_sluice/dashboard/state');
    if (r.status !== 200 || !r.body) throw new Error((r.body && r.body.error) || `HTTP ${r.status}`);
    const st = r.body;
    ui.state = st;
    showToken(st.token_required);
    renderPattern(st);
    renderQueues(st);
    renderFunctions(st);
    renderRoutes(st);
    renderDlqs(st);
    renderTraces(st);
    await refreshAlarms();
    setStatus(`updated ${fmtTime(st.now_ms)}${st.metrics ? '' : ' (metrics off)'}${ui.paused ? ' · paused' : ''}`);
  } catch (e) {
    setStatus(`cannot reach sluice: ${e.message}`, true);
  } finally {
    ui.inFlight = false;
    if (!once) schedule();
  }
}

function onHash() {
  const m = /^#trace=(.+)$/.exec(location.hash);
  showTrace(m ? decodeURIComponent(m[1]) : null);
}

function init() {
  // A token handed over in the fragment: keep it for this tab, drop it
  // from the address bar and history.
  const t = /^#token=(.+)$/.exec(location.hash);
  if (t) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(t[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  $('token-input').value = token();
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = $('token-input').value.trim();
    if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY);
    $('dlq-msg').textContent = v ? 'Admin token set for this tab.' : 'Admin token cleared.';
  });
  $('token-clear').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $('token-input').value = '';
    $('dlq-msg').textContent = 'Admin token cleared.';
  });
  $('pause').addEventListener('click', () => {
    ui.paused = !ui.paused;
    $('pause').setAttribute('aria-pressed', String(ui.paused));
    $('pause').textContent = ui.paused ? 'Resume updates' : 'Pause updates';
    if (!ui.paused) poll(false);
  });
  $('trace-close').addEventListener('click', (e) => {
    e.preventDefault();
    history.pushState(null, '', location.pathname + location.search);
    showTrace(null);
  });
  window.addEventListener('hashchange', onHash);
  onHash();
  poll(false);
}

document.addEventListener('DOMContentLoaded', init);
