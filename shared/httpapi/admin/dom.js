// DOM helpers. Every piece of data reaches the page as text (textContent,
// attribute values), never as HTML, so nothing a webhook or a receiver sent
// can run here; the Content-Security-Policy backs that up.

const BOOLEAN_PROPS = new Set(['checked', 'disabled', 'selected', 'hidden', 'required', 'multiple', 'readOnly', 'open']);

// h builds an element: h('a', {href: '#/x', class: 'btn'}, 'text', child…).
// Props starting with "on" add listeners; "text" sets textContent; value and
// the boolean props are set as properties; anything else as an attribute.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

// s builds an SVG element the same way.
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  append(el, children);
  return el;
}

function setProps(el, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (BOOLEAN_PROPS.has(k)) el[k] = true;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// fill replaces an element's children with the given ones (arrays are
// flattened, null and false skipped).
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let idCounter = 0;
// uid returns an id unique in the page, for label/for and aria links.
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

// when renders a time as a <time> element: local date and time, with the
// exact UTC instant on hover.
export function when(iso, { rel = false } = {}) {
  if (!iso) return h('span', { class: 'muted', text: '—' });
  const d = new Date(iso);
  const text = rel ? `${dateTime.format(d)} (${fromNow(d)})` : dateTime.format(d);
  return h('time', { datetime: iso, title: d.toISOString(), text });
}

export function fromNow(d, now = Date.now()) {
  const secs = Math.round((d.getTime() - now) / 1000);
  const abs = Math.abs(secs);
  if (abs < 60) return relative.format(secs, 'second');
  if (abs < 3600) return relative.format(Math.round(secs / 60), 'minute');
  if (abs < 86400) return relative.format(Math.round(secs / 3600), 'hour');
  return relative.format(Math.round(secs / 86400), 'day');
}

export const STATUS_LABELS = {
  success: 'Success',
  failed: 'Failed',
  rescheduled: 'Rescheduled',
  pending: 'Pending',
};

// statusBadge shows a call status in its colour, always with its name, so
// colour is never the only cue.
export function statusBadge(status) {
  if (!status) return h('span', { class: 'muted', text: 'no calls yet' });
  return h('span', { class: `badge status-${status}`, text: STATUS_LABELS[status] || status });
}

// prettyBody pretty-prints a JSON body, and leaves anything else as it is.
export function prettyBody(body) {
  if (body === null || body === undefined) return '';
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

// headersTable shows an object of headers as a two-column table.
export function headersTable(headers, caption) {
  const names = Object.keys(headers || {}).sort((a, b) => a.localeCompare(b));
  if (names.length === 0) return h('p', { class: 'muted', text: 'No headers.' });
  return h('table', { class: 'kv' },
    h('caption', { class: 'visually-hidden', text: caption }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Header' }), h('th', { scope: 'col', text: 'Value' }))),
    h('tbody', {}, names.map((n) => h('tr', {}, h('th', { scope: 'row', text: n }), h('td', {}, h('code', { text: headers[n] }))))),
  );
}

// debounce delays fn until calls stop for ms.
export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

// toast says something briefly in a polite live region.
export function toast(message) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.classList.add('shown');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove('shown'), 4000);
}

// confirmDialog asks a yes/no question in a modal <dialog> (focus is kept
// inside it, Escape cancels) and resolves to true on confirm.
export function confirmDialog({ title, message, confirmLabel, danger = false }) {
  return new Promise((resolve) => {
    const titleID = uid('dlg-title');
    const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': titleID },
      h('form', { method: 'dialog' },
        h('h2', { id: titleID, text: title }),
        h('p', { text: message }),
        h('div', { class: 'actions' },
          h('button', { type: 'submit', value: 'cancel', class: 'btn', text: 'Cancel' }),
          h('button', { type: 'submit', value: 'confirm', class: danger ? 'btn danger' : 'btn primary', text: confirmLabel }),
        ),
      ),
    );
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'confirm');
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}
