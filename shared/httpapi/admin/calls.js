// The activity log: every call, newest first, with filters, paging, an
// hourly chart, and a page per call with its request, response, attempts
// and a Resend button.

import { api, ApiError, domainTypes, everyCall } from './api.js';
import { h, clear, fill, uid, when, statusBadge, toast, headersTable, prettyBody, STATUS_LABELS } from './dom.js';
import { entityName, eventName, eventLabel } from './words.js';
import { callsChart, hourlyBuckets } from './chart.js';
import { bulkResendControl } from './health.js';

const PAGE_SIZES = [30, 100, 500];
const LIVE_EVERY_MS = 5000;
const CHART_EVERY_MS = 60000; // also redrawn whenever the list changes
const CHART_MAX_CALLS = 2000;

// The log's filters, as they stand in the address (#/calls?status=failed…)
// so that a filtered view can be bookmarked and Back works.
function readFilters(q) {
  const limit = Number(q.get('limit'));
  return {
    webhook: q.get('webhook') || '',
    status: q.get('status') || '',
    entity: q.get('entity') || '',
    event: q.get('event') || '',
    from: q.get('from') || '',
    to: q.get('to') || '',
    offset: Math.max(0, Number(q.get('offset')) || 0),
    limit: PAGE_SIZES.includes(limit) ? limit : PAGE_SIZES[0],
  };
}

function writeFilters(f) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) {
    if (v === '' || (k === 'offset' && v === 0) || (k === 'limit' && v === PAGE_SIZES[0])) continue;
    q.set(k, String(v));
  }
  const qs = q.toString();
  history.replaceState(null, '', `#/calls${qs ? `?${qs}` : ''}`);
}

// localToISO turns a datetime-local value (the user's time zone) into UTC.
function localToISO(v) {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function apiQuery(f, { withStatusAndTime = true } = {}) {
  const q = {
    'filter[fields][webhook_id][eq]': f.webhook,
    'filter[fields][entity_type][eq]': f.entity,
    'filter[fields][event_type][eq]': f.event,
  };
  if (withStatusAndTime) {
    q['filter[fields][status][eq]'] = f.status;
    q['filter[fields][created_at][gt]'] = localToISO(f.from);
    q['filter[fields][created_at][lt]'] = localToISO(f.to);
  }
  return q;
}

export async function renderCallLog(main, _params, query) {
  const [types, hooksDoc] = await Promise.all([domainTypes(), api('webhooks')]);
  const hooks = new Map(hooksDoc.data.map((w) => [w.id, w]));
  const f = readFilters(query);
  let timers = [];
  let disposed = false;

  const heading = h('h1', { tabindex: '-1', text: 'Activity log' });
  const chartBox = h('section', { class: 'card chart-card', 'aria-labelledby': 'chart-h' },
    h('h2', { id: 'chart-h', text: 'Calls per hour, last 24 hours' }), h('p', { class: 'muted', text: 'Loading…' }));

  // Filters.
  const select = (label, options, value, name) => {
    const el = h('select', { name }, h('option', { value: '', text: 'Any' }),
      options.map(([v, t]) => h('option', { value: v, text: t, selected: v === value })));
    const id = uid('flt');
    el.id = id;
    return { el, wrap: h('div', { class: 'field' }, h('label', { for: id, text: label }), el) };
  };
  const webhookSel = select('Webhook', [...hooks.values()].map((w) => [w.id, w.attributes.name]), f.webhook, 'webhook');
  const statusSel = select('Status', types.statuses.map((st) => [st, STATUS_LABELS[st] || st]), f.status, 'status');
  const entitySel = select('Entity type', types.entity_types.map((e) => [e.type, entityName(e.type)]), f.entity, 'entity');
  const eventSel = select('Event type', [], f.event, 'event');
  const fillEvents = () => {
    const entity = types.entity_types.find((e) => e.type === entitySel.el.value);
    const events = entity ? entity.event_types : [...new Set(types.entity_types.flatMap((e) => e.event_types))];
    const keep = events.includes(eventSel.el.value) ? eventSel.el.value : (events.includes(f.event) ? f.event : '');
    fill(eventSel.el, h('option', { value: '', text: 'Any' }),
      events.map((ev) => h('option', { value: ev, text: eventName(ev), selected: ev === keep })));
  };
  fillEvents();
  const timeInput = (label, value, name) => {
    const id = uid('flt');
    const el = h('input', { type: 'datetime-local', id, name, value, step: 60 });
    return { el, wrap: h('div', { class: 'field' }, h('label', { for: id, text: label }), el) };
  };
  const fromIn = timeInput('Created after', f.from, 'from');
  const toIn = timeInput('Created before', f.to, 'to');
  const live = h('input', { type: 'checkbox', id: uid('live'), checked: true });
  const refreshBtn = h('button', { type: 'button', class: 'btn small', text: 'Refresh' });
  const clearBtn = h('button', { type: 'reset', class: 'btn small quiet', text: 'Clear filters' });
  // Resending what the filters select: the count comes from a dry run, made
  // whenever the list is loaded afresh (declared below; read when clicked).
  let reloadAfterResend = () => {};
  const bulk = bulkResendControl(() => apiQuery(f), { onDone: () => reloadAfterResend() });
  const filterForm = h('form', { class: 'filters-bar card', 'aria-label': 'Filter calls' },
    webhookSel.wrap, statusSel.wrap, entitySel.wrap, eventSel.wrap, fromIn.wrap, toIn.wrap,
    h('div', { class: 'filter-actions' },
      h('button', { type: 'submit', class: 'btn small primary', text: 'Apply' }), clearBtn, bulk.el));

  const count = h('p', { class: 'count', role: 'status', 'aria-live': 'polite' });
  const tableBox = h('div', { class: 'table-box' });
  const prev = h('button', { type: 'button', class: 'btn small', text: '← Newer' });
  const next = h('button', { type: 'button', class: 'btn small', text: 'Older →' });
  const sizeSel = h('select', { id: uid('size') }, PAGE_SIZES.map((n) => h('option', { value: n, text: `${n} a page`, selected: n === f.limit })));
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of calls' }, prev, next,
    h('label', { for: sizeSel.id, class: 'visually-hidden', text: 'Calls per page' }), sizeSel);

  main.append(
    h('div', { class: 'page-head' }, heading,
      h('div', { class: 'inline' }, h('span', { class: 'check-inline' }, live, h('label', { for: live.id, text: 'Live (every 5 s)' })), refreshBtn)),
    chartBox, filterForm, count, tableBox, pager);
  heading.focus();

  let lastKey = '';
  const loadList = async ({ quiet = false } = {}) => {
    const doc = await api('webhook_calls', {
      query: { ...apiQuery(f), order_by: 'created_at_desc', 'page[limit]': f.limit, 'page[offset]': f.offset },
    });
    if (disposed) return;
    const total = doc.meta?.total_count ?? doc.data.length;
    const key = JSON.stringify([doc.data, total]);
    if (quiet && key === lastKey) return;
    const changed = quiet && lastKey !== '';
    lastKey = key;
    // New calls or new statuses belong in the chart too, and may change
    // what a bulk resend would take.
    if (changed) {
      loadChart().catch(() => {});
      bulk.refresh();
    }
    for (const w of doc.included || []) hooks.set(w.id, w);
    const first = doc.data.length ? f.offset + 1 : 0;
    count.textContent = total === 0 ? 'No calls match.' : `Calls ${first}–${f.offset + doc.data.length} of ${total}, newest first.`;
    prev.disabled = f.offset === 0;
    next.disabled = f.offset + doc.data.length >= total;
    fill(tableBox, callTable(doc.data, hooks));
  };
  const loadChart = async () => {
    const since = new Date(Math.floor(Date.now() / 3600000) * 3600000 - 23 * 3600000 - 1);
    const { calls, total } = await everyCall({ ...apiQuery(f, { withStatusAndTime: false }), 'filter[fields][created_at][gt]': since.toISOString(), order_by: 'created_at_desc' }, CHART_MAX_CALLS);
    if (disposed) return;
    const scope = [f.webhook && `webhook ${hooks.get(f.webhook)?.attributes.name ?? f.webhook}`, f.entity && entityName(f.entity).toLowerCase(), f.event && eventName(f.event)]
      .filter(Boolean).join(', ');
    const notes = [];
    if (scope) notes.push(`Only calls of ${scope}.`);
    if (total > calls.length) notes.push(`Counted from the newest ${calls.length} of ${total} calls.`);
    notes.push('Each call counts in the hour it was created, coloured by its status now.');
    const title = chartBox.querySelector('h2');
    const width = chartBox.clientWidth - 40; // less the card's padding
    fill(chartBox, title, callsChart(hourlyBuckets(calls), { note: notes.join(' '), width }));
  };
  const reload = async ({ chart = true } = {}) => {
    writeFilters(f);
    try {
      // The chart is fetched after the list, never beside it: a status that
      // changes between two concurrent requests would leave the chart behind
      // the list until the next minute's redraw.
      await loadList();
      bulk.refresh();
      if (chart) await loadChart();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      count.textContent = `Could not load calls: ${err.message}`;
    }
  };
  const readForm = () => {
    Object.assign(f, {
      webhook: webhookSel.el.value, status: statusSel.el.value, entity: entitySel.el.value, event: eventSel.el.value,
      from: fromIn.el.value, to: toIn.el.value, offset: 0,
    });
  };

  entitySel.el.addEventListener('change', fillEvents);
  filterForm.addEventListener('change', () => { readForm(); reload(); });
  filterForm.addEventListener('submit', (ev) => { ev.preventDefault(); readForm(); reload(); });
  filterForm.addEventListener('reset', () => {
    setTimeout(() => { fillEvents(); readForm(); reload(); }, 0);
  });
  reloadAfterResend = () => reload({ chart: false });
  prev.addEventListener('click', () => { f.offset = Math.max(0, f.offset - f.limit); reload({ chart: false }); });
  next.addEventListener('click', () => { f.offset += f.limit; reload({ chart: false }); });
  sizeSel.addEventListener('change', () => { f.limit = Number(sizeSel.value); f.offset = 0; reload({ chart: false }); });
  refreshBtn.addEventListener('click', () => reload());

  const tick = (fn, ms) => timers.push(setInterval(() => {
    if (live.checked && document.visibilityState === 'visible') fn().catch(() => {});
  }, ms));
  tick(() => loadList({ quiet: true }), LIVE_EVERY_MS);
  tick(loadChart, CHART_EVERY_MS);

  await reload();
  return () => {
    disposed = true;
    timers.forEach(clearInterval);
    timers = [];
  };
}

function webhookName(hooks, id) {
  return hooks.get(id)?.attributes.name ?? null;
}

// lastOutcome says how the latest attempt ended: the response status, or
// the kind of failure when there was no response.
function lastOutcome(a) {
  const last = a.attempts?.[a.attempts.length - 1];
  if (a.response_status) return String(a.response_status);
  if (last?.error_kind) return last.error_kind.replaceAll('_', ' ');
  return '—';
}

function callTable(calls, hooks) {
  if (calls.length === 0) return h('p', { class: 'empty', text: 'No calls yet. Calls appear here as events arrive.' });
  return h('table', { class: 'list responsive calls', id: 'call-table' },
    h('caption', { class: 'visually-hidden', text: 'Webhook calls, newest first' }),
    h('thead', {}, h('tr', {}, ['Status', 'Created', 'Webhook', 'Event', 'Response', 'Attempts', 'Next retry']
      .map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, calls.map((c) => {
      const a = c.attributes;
      const hookID = c.relationships?.webhook?.data?.id;
      const href = `#/calls/${encodeURIComponent(c.id)}`;
      const row = h('tr', { class: 'clickable', dataset: { id: c.id, status: a.status } },
        h('td', { 'data-label': 'Status' }, statusBadge(a.status)),
        h('td', { 'data-label': 'Created' }, h('a', { href, 'aria-label': `Call of ${eventLabel(a.entity_type, a.event_type).toLowerCase()}, ${new Date(a.created_at).toLocaleString()}` }, when(a.created_at))),
        h('td', { 'data-label': 'Webhook' }, webhookName(hooks, hookID) ?? h('span', { class: 'muted', text: 'deleted webhook' })),
        h('td', { 'data-label': 'Event' }, eventLabel(a.entity_type, a.event_type)),
        h('td', { 'data-label': 'Response' }, lastOutcome(a)),
        h('td', { 'data-label': 'Attempts', class: 'num' }, String(a.attempts?.length ?? 0)),
        h('td', { 'data-label': 'Next retry' }, when(a.next_retry_at, { rel: true })),
      );
      row.addEventListener('click', (ev) => {
        if (ev.target.closest('a, button') || getSelection().toString()) return;
        location.hash = href;
      });
      return row;
    })));
}

// ---- One call ----

export async function renderCall(main, { id }) {
  const heading = h('h1', { tabindex: '-1' }, 'Call ', h('code', { text: id }));
  const badge = h('span');
  const resend = h('button', { type: 'button', class: 'btn primary', id: 'resend', text: 'Resend' });
  const resendNote = h('p', { class: 'hint', role: 'status', 'aria-live': 'polite' });
  const summary = h('dl', { class: 'summary' });
  const attempts = h('section', { class: 'card', 'aria-labelledby': 'attempts-h' });
  const request = h('section', { class: 'card', 'aria-labelledby': 'request-h' });
  const response = h('section', { class: 'card', 'aria-labelledby': 'response-h' });
  main.append(
    h('div', { class: 'page-head' }, h('div', { class: 'title-line' }, heading, badge),
      h('a', { href: '#/calls', class: 'btn', text: 'Back to the activity log' })),
    h('section', { class: 'card' }, summary, h('div', { class: 'inline' }, resend), resendNote),
    attempts, h('div', { class: 'two wide' }, request, response));
  heading.focus();

  let disposed = false;
  let timer = null;
  let waitingFor = 0; // the attempt count a resend waits to exceed
  const load = async () => {
    const doc = await api(`webhook_calls/${encodeURIComponent(id)}`);
    if (disposed) return null;
    const c = doc.data;
    const a = c.attributes;
    const hookID = c.relationships?.webhook?.data?.id;
    const hook = (doc.included || []).find((w) => w.id === hookID);
    fill(badge, statusBadge(a.status));
    fill(summary,
      dt('Webhook'), h('dd', {}, hook ? h('a', { href: `#/webhooks/${encodeURIComponent(hook.id)}`, text: hook.attributes.name }) : h('span', { class: 'muted', text: 'deleted' })),
      dt('Event'), h('dd', {}, eventLabel(a.entity_type, a.event_type), ' ', h('code', { class: 'muted', text: a.event_id || '' })),
      dt('Created'), h('dd', {}, when(a.created_at)),
      dt('Last sent'), h('dd', {}, when(a.last_sent_at, { rel: true })),
      dt('Next retry'), h('dd', {}, a.next_retry_at ? when(a.next_retry_at, { rel: true }) : h('span', { class: 'muted', text: 'none scheduled' })),
      dt('Automatic retries'), h('dd', { text: String(a.attempted_auto_retries_count) }),
    );
    resend.disabled = !hook || a.resend_pending;
    if (!hook) resendNote.textContent = 'The webhook was deleted, so this call cannot be resent.';
    else if (a.resend_pending) resendNote.textContent = 'Resend queued; waiting for the attempt…';
    else if (waitingFor && a.attempts.length > waitingFor) {
      const last = a.attempts[a.attempts.length - 1];
      resendNote.textContent = `Resent: attempt ${last.number} ${last.success ? 'succeeded' : 'failed'}.`;
      waitingFor = 0;
    } else if (!waitingFor) resendNote.textContent = '';

    fill(attempts, h('h2', { id: 'attempts-h', text: 'Attempts' }), timeline(a));
    fill(request, h('h2', { id: 'request-h', text: 'Request' }),
      h('h3', { text: 'URL' }), h('p', {}, h('code', { class: 'wrap', text: a.request_url || '—' })),
      h('h3', { text: 'Headers' }), headersTable(a.request_headers, 'Request headers'),
      h('h3', { text: 'Payload' }), bodyBlock(a.request_payload, a.request_payload_truncated, 'request-payload'));
    fill(response, h('h2', { id: 'response-h', text: 'Response' }),
      h('h3', { text: 'Status' }), h('p', {}, a.response_status ? h('span', { class: `http-status s${String(a.response_status)[0]}xx`, text: String(a.response_status) }) : h('span', { class: 'muted', text: 'no response' })),
      h('h3', { text: 'Headers' }), a.response_headers ? headersTable(a.response_headers, 'Response headers') : h('p', { class: 'muted', text: 'None.' }),
      h('h3', { text: 'Body' }), a.response_payload === null ? h('p', { class: 'muted', text: 'None.' }) : bodyBlock(a.response_payload, a.response_payload_truncated, 'response-body'));
    return a;
  };
  const schedule = (a) => {
    clearTimeout(timer);
    if (disposed || !a) return;
    const soon = a.resend_pending || a.status === 'pending' || waitingFor;
    timer = setTimeout(() => load().then(schedule, () => schedule(a)), soon ? 1000 : 10000);
  };
  resend.addEventListener('click', async () => {
    resend.disabled = true;
    try {
      const doc = await api(`webhook_calls/${encodeURIComponent(id)}/resend_webhook`, { method: 'POST' });
      waitingFor = doc?.data?.attributes?.attempts?.length ?? 0;
      toast('Resend queued.');
      resendNote.textContent = 'Resend queued; waiting for the attempt…';
      schedule(await load());
    } catch (err) {
      resend.disabled = false;
      resendNote.textContent = `Could not resend: ${err.message}`;
    }
  });
  schedule(await load());
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
}

const dt = (t) => h('dt', { text: t });

function bodyBlock(body, truncated, cls) {
  const id = uid('body');
  return h('div', {},
    h('pre', { class: `body ${cls}`, id, tabindex: '0', 'aria-label': cls.replace('-', ' ') }, prettyBody(body) || ' '),
    truncated ? h('p', { class: 'hint', text: 'Cut short: Herald keeps only the start of large bodies.' }) : null);
}

const TRIGGER_WORDS = { first: 'first attempt', auto: 'automatic retry', manual: 'manual resend' };

// timeline lists the attempts oldest first, then the retry that is
// scheduled, if any.
function timeline(a) {
  const items = (a.attempts || []).map((t) => h('li', { class: t.success ? 'ok' : 'bad', dataset: { number: t.number, trigger: t.trigger } },
    h('div', { class: 'tl-head' },
      h('strong', { text: `#${t.number}` }), ' ', TRIGGER_WORDS[t.trigger] || t.trigger, ' · ', when(t.started_at),
      ' · ', `${t.duration_ms} ms`),
    h('div', {},
      h('span', { class: t.success ? 'badge status-success' : 'badge status-failed', text: t.success ? 'Succeeded' : 'Failed' }), ' ',
      t.response_status ? `HTTP ${t.response_status}` : (t.error_kind || '').replaceAll('_', ' '),
      t.error ? h('span', { class: 'muted' }, ` — ${t.error}`) : '')));
  if (a.next_retry_at) {
    items.push(h('li', { class: 'next' }, h('div', { class: 'tl-head' }, h('strong', { text: 'Next retry' }), ' ', when(a.next_retry_at, { rel: true }))));
  } else if (a.status === 'pending' && items.length === 0) {
    items.push(h('li', { class: 'next' }, h('div', { class: 'tl-head', text: 'Waiting for the first attempt…' })));
  }
  if (items.length === 0) return h('p', { class: 'muted', text: 'No attempts yet.' });
  return h('ol', { class: 'timeline', id: 'attempts' }, items);
}
