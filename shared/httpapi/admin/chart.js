// A stacked bar chart of calls per hour by status over the last 24 hours,
// drawn as SVG with no library.

import { h, s, STATUS_LABELS } from './dom.js';

const HOUR = 3600 * 1000;
const ORDER = ['success', 'failed', 'rescheduled', 'pending'];

// hourlyBuckets counts calls by the hour they were created in, for the 24
// hours ending with the current one, oldest first.
export function hourlyBuckets(calls, now = Date.now()) {
  const end = Math.floor(now / HOUR) * HOUR + HOUR; // end of the current hour
  const start = end - 24 * HOUR;
  const buckets = Array.from({ length: 24 }, (_, i) => ({ start: new Date(start + i * HOUR), counts: {} }));
  for (const c of calls) {
    const t = Date.parse(c.attributes.created_at);
    if (Number.isNaN(t) || t < start || t >= end) continue;
    const b = buckets[Math.floor((t - start) / HOUR)];
    const st = c.attributes.status;
    b.counts[st] = (b.counts[st] || 0) + 1;
  }
  return buckets;
}

const hourFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

// callsChart draws the buckets at width px (the space it has, so text keeps
// its size at any width), with a legend and a note. By default it counts
// calls by status; order, labels, unit and title draw other series (a
// webhook's attempts by outcome, say) from the same buckets.
export function callsChart(buckets, {
  note, width = 720, order = ORDER, labels = STATUS_LABELS, unit = 'call',
  title = 'Calls per hour by status, last 24 hours',
} = {}) {
  const W = Math.max(300, Math.round(width));
  const H = 200;
  const pad = { l: 36, r: 8, t: 10, b: 26 };
  const innerW = W - pad.l - pad.r;
  const innerH = H - pad.t - pad.b;
  const totals = buckets.map((b) => Object.values(b.counts).reduce((x, y) => x + y, 0));
  const max = Math.max(1, ...totals);
  const step = niceStep(max);
  const top = Math.ceil(max / step) * step;
  const y = (v) => pad.t + innerH - (v / top) * innerH;
  const slot = innerW / buckets.length;
  const barW = Math.max(2, slot * 0.72);
  const sum = order.map((st) => [st, buckets.reduce((n, b) => n + (b.counts[st] || 0), 0)]);
  const total = sum.reduce((n, [, c]) => n + c, 0);

  const grid = [];
  for (let v = 0; v <= top; v += step) {
    grid.push(s('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis', text: String(v) }));
  }
  const bars = buckets.map((b, i) => {
    const x = pad.l + i * slot + (slot - barW) / 2;
    let acc = 0;
    const label = `${hourFmt.format(b.start)}: ${totals[i]} ${unit}${totals[i] === 1 ? '' : 's'}${totals[i] ? ` (${order.filter((st) => b.counts[st]).map((st) => `${b.counts[st]} ${labels[st].toLowerCase()}`).join(', ')})` : ''}`;
    const rects = order.filter((st) => b.counts[st]).map((st) => {
      const v = b.counts[st];
      const r = s('rect', { x, y: y(acc + v), width: barW, height: Math.max(1, y(acc) - y(acc + v)), class: `bar bar-${st}` });
      acc += v;
      return r;
    });
    // A full-height transparent target so the hour's tooltip shows anywhere
    // in its column.
    return s('g', { class: 'hour' }, s('title', { text: label }),
      s('rect', { x: pad.l + i * slot, y: pad.t, width: slot, height: innerH, class: 'hit' }), rects);
  });
  const every = W >= 600 ? 3 : 6;
  const ticks = buckets.map((b, i) => (i % every === 0
    ? s('text', { x: pad.l + i * slot + slot / 2, y: H - 8, 'text-anchor': 'middle', class: 'axis', text: hourFmt.format(b.start) })
    : null));

  const titleID = 'chart-title';
  const descID = 'chart-desc';
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${titleID} ${descID}`, class: 'chart' },
    s('title', { id: titleID, text: title }),
    s('desc', { id: descID, text: `${total} ${unit}s: ${sum.map(([st, n]) => `${n} ${labels[st].toLowerCase()}`).join(', ')}.` }),
    grid, bars, ticks,
    s('line', { x1: pad.l, x2: W - pad.r, y1: y(0), y2: y(0), class: 'baseline' }));
  const legend = h('ul', { class: 'legend' }, sum.map(([st, n]) => h('li', {},
    h('span', { class: `swatch bar-${st}`, 'aria-hidden': 'true' }), `${labels[st]} ${n}`)));
  return h('figure', { class: 'chart-box' }, svg,
    h('figcaption', {}, legend, note ? h('p', { class: 'hint', text: note }) : null));
}

function niceStep(max) {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return Math.max(1, m * mag);
  return Math.max(1, 10 * mag);
}
