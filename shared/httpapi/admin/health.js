// Endpoint health on the page (docs/endpoint-health.md): a webhook's badge,
// its health card with the last 24 hours and a test send, and the activity
// log's bulk resend.

import { api, ApiError } from './api.js';
import { h, fill, when, toast, confirmDialog, prettyBody } from './dom.js';
import { callsChart } from './chart.js';

// healthBadge says in a word or three how a webhook is doing: disabled
// (and whether Herald did it), failing since when, or healthy.
export function healthBadge(a) {
  if (!a.enabled) {
    const auto = a.disabled_reason === 'auto_disabled';
    return h('span', { class: 'badge health-disabled', dataset: { health: auto ? 'auto-disabled' : 'disabled' },
      title: a.disabled_at ? `Since ${new Date(a.disabled_at).toLocaleString()}` : '' },
    auto ? 'Disabled automatically' : 'Disabled');
  }
  const hl = a.health;
  if (hl?.failing_since) {
    return h('span', { class: 'badge health-failing', dataset: { health: 'failing' },
      title: `${hl.consecutive_failures} failed attempt${hl.consecutive_failures === 1 ? '' : 's'} in a row` },
    'Failing since ', when(hl.failing_since));
  }
  return h('span', { class: 'badge health-ok', dataset: { health: 'healthy' } }, 'Healthy');
}

const OUTCOMES = ['success', 'failed'];
const OUTCOME_LABELS = { success: 'Succeeded', failed: 'Failed' };

// healthSection is the health card of a webhook's page: the badge, the
// figures, the 24-hour chart, the way back from a disable, and the test send.
export function healthSection(id, a, { onChange } = {}) {
  const hl = a.health || {};
  const dt = (t) => h('dt', { text: t });
  const chartBox = h('div', { class: 'health-chart' });
  const card = h('section', { class: 'card health', 'aria-labelledby': 'health-h', id: 'health' },
    h('div', { class: 'title-line' }, h('h2', { id: 'health-h', text: 'Health' }), healthBadge(a)));
  if (!a.enabled) {
    const enable = h('button', { type: 'button', class: 'btn primary', text: 'Enable again' });
    enable.addEventListener('click', async () => {
      enable.disabled = true;
      try {
        await api(`webhooks/${encodeURIComponent(id)}`, { method: 'PUT', body: { data: { id, type: 'webhook', attributes: { enabled: true } } } });
        toast('Webhook enabled again. Resend what it missed from the activity log.');
        onChange?.();
      } catch (err) {
        enable.disabled = false;
        toast(`Could not enable it: ${err.message}`);
      }
    });
    const why = a.disabled_reason === 'auto_disabled'
      ? 'Herald disabled this webhook because every attempt failed for too long. Fix the endpoint (check it with Send test), then enable it again: failed calls can then be resent from the activity log.'
      : 'This webhook is disabled: it is sent nothing. Send test still reaches it.';
    card.append(h('div', { class: 'notice-box', role: 'note' },
      h('p', {}, why, a.disabled_at ? [' Disabled ', when(a.disabled_at, { rel: true }), '.'] : ''), enable));
  }
  card.append(
    h('dl', { class: 'summary' },
      dt('Last success'), h('dd', {}, hl.last_success_at ? when(hl.last_success_at, { rel: true }) : h('span', { class: 'muted', text: 'none known' })),
      dt('Failing since'), h('dd', {}, hl.failing_since ? when(hl.failing_since, { rel: true }) : h('span', { class: 'muted', text: '—' })),
      dt('Failed in a row'), h('dd', { text: String(hl.consecutive_failures ?? 0) }),
      dt('Last 24 hours'), h('dd', { text: `${hl.successes_24h ?? 0} succeeded, ${hl.failures_24h ?? 0} failed` })),
    chartBox,
    testSend(id));
  // Drawn once the card is in the page, to the width it has.
  requestAnimationFrame(() => {
    const buckets = (hl.hourly || []).map((x) => ({ start: new Date(x.hour), counts: { success: x.successes, failed: x.failures } }));
    fill(chartBox, callsChart(buckets, {
      order: OUTCOMES, labels: OUTCOME_LABELS, unit: 'attempt', title: 'Attempts per hour, last 24 hours',
      width: Math.max(300, chartBox.clientWidth),
      note: 'Every attempt at this webhook\'s calls, by outcome: first attempts, retries and resends; test sends are not counted.',
    }));
  });
  return card;
}

// testSend is the Send test button and what came of it: a ping, sent now
// even to a disabled webhook, followed until its attempt is recorded.
function testSend(id) {
  const button = h('button', { type: 'button', class: 'btn', id: 'send-test', text: 'Send test' });
  const out = h('div', { class: 'test-result', role: 'status', 'aria-live': 'polite' });
  button.addEventListener('click', async () => {
    button.disabled = true;
    fill(out, h('p', { class: 'muted', text: 'Sending a test call…' }));
    try {
      const doc = await api(`webhooks/${encodeURIComponent(id)}/ping`, { method: 'POST' });
      const callID = doc.data.id;
      for (let i = 0; i < 60; i += 1) {
        const c = await api(`webhook_calls/${encodeURIComponent(callID)}`);
        const att = c.data.attributes.attempts || [];
        if (att.length > 0) {
          showResult(out, callID, c.data.attributes, att[att.length - 1]);
          return;
        }
        await new Promise((r) => { setTimeout(r, 1000); });
      }
      fill(out, h('p', { class: 'error', text: 'No answer was recorded within a minute; see the activity log.' }));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      fill(out, h('p', { class: 'error', text: `Could not send a test: ${err.message}` }));
    } finally {
      button.disabled = false;
    }
  });
  return h('div', { class: 'test-send' },
    h('div', { class: 'inline' }, button,
      h('span', { class: 'hint', text: 'Sends a webhook/ping event to this webhook only, now, even while it is disabled. It is logged, never retried, and does not count in its health.' })),
    out);
}

function showResult(out, callID, a, att) {
  const outcome = att.response_status ? `HTTP ${att.response_status}` : (att.error_kind || '').replaceAll('_', ' ');
  fill(out,
    h('p', { class: 'result-line' },
      h('span', { class: att.success ? 'badge status-success' : 'badge status-failed', text: att.success ? 'Succeeded' : 'Failed' }), ' ',
      h('strong', { text: outcome }), ` in ${att.duration_ms} ms`, att.error ? h('span', { class: 'muted' }, ` — ${att.error}`) : '', ' · ',
      h('a', { href: `#/calls/${encodeURIComponent(callID)}`, text: 'open the call' })),
    a.response_payload === null || a.response_payload === undefined
      ? h('p', { class: 'muted', text: 'No response body.' })
      : h('pre', { class: 'body response-body', tabindex: '0', 'aria-label': 'Test response body' }, prettyBody(a.response_payload) || ' '));
}

// bulkResendControl is the activity log's "Resend these N calls": it asks
// the API how many calls the filter selects (a dry run) whenever the list is
// loaded afresh, and resends them, after a confirmation.
export function bulkResendControl(currentQuery, { onDone } = {}) {
  const button = h('button', { type: 'button', class: 'btn small', id: 'bulk-resend', disabled: true, text: 'Resend these calls' });
  const note = h('span', { class: 'hint bulk-note', role: 'status', 'aria-live': 'polite' });
  let count = { resendable: 0, matched: 0, skipped: {} };
  let seq = 0;
  const refresh = async () => {
    const mine = ++seq;
    try {
      const doc = await api('webhook_calls/bulk_resend', { method: 'POST', query: { ...currentQuery(), dry_run: 'true' } });
      if (mine !== seq) return;
      count = doc.data.attributes;
      button.disabled = count.resendable === 0;
      button.textContent = { 0: 'Nothing to resend', 1: 'Resend this call' }[count.resendable] ?? `Resend these ${count.resendable} calls`;
      const skipped = count.matched - count.resendable;
      note.textContent = skipped > 0 ? `${skipped} of the ${count.matched} calls belong to disabled or deleted webhooks and are not resent.` : '';
    } catch (err) {
      if (mine !== seq) return;
      button.disabled = true;
      button.textContent = 'Resend these calls';
      note.textContent = err instanceof ApiError && err.status === 422
        ? 'More than 10,000 calls match: narrow the filters to resend them.'
        : `Could not count the calls to resend: ${err.message}`;
    }
  };
  button.addEventListener('click', async () => {
    const n = count.resendable;
    const ok = await confirmDialog({
      title: n === 1 ? 'Resend this call?' : `Resend these ${n} calls?`,
      message: `Each call the filters select is sent again now, with its webhook's current settings and its own webhook-id, as a single resend is. `
        + `${count.matched > n ? `${count.matched - n} of them, of disabled or deleted webhooks, are left out. ` : ''}`
        + 'Asking again within 5 minutes resends nothing twice.',
      confirmLabel: n === 1 ? 'Resend 1 call' : `Resend ${n} calls`,
    });
    if (!ok) return;
    button.disabled = true;
    try {
      const doc = await api('webhook_calls/bulk_resend', { method: 'POST', query: currentQuery() });
      const q = doc.data.attributes.queued;
      toast(q === 1 ? 'Queued 1 resend.' : `Queued ${q} resends.`);
      onDone?.();
    } catch (err) {
      toast(`Could not resend: ${err.message}`);
    } finally {
      refresh();
    }
  });
  return { el: h('div', { class: 'bulk-resend inline' }, button, note), refresh };
}
