// Shows the API's validation errors beside the controls they are about.
//
// Every part of a form that can be wrong carries data-field with the API's
// path for it ("url", "headers.X-Foo", "events[0].filters[1].entity_ids").
// An error's details.field is looked up as is, then with its last step cut
// off ("events[0].event_types[1]" → "events[0].event_types"), until
// something matches; what matches nothing goes to the form's summary.

import { h, uid } from './dom.js';

export function parentPath(path) {
  if (path.startsWith('headers.')) return 'headers'; // header names may hold dots
  const m = path.match(/^(.*)(\[\d+\]|\.[^.[\]]+)$/);
  return m ? m[1] : '';
}

export function findFieldTarget(form, path) {
  for (let p = path; p; p = parentPath(p)) {
    const el = [...form.querySelectorAll('[data-field]')].find((x) => x.dataset.field === p);
    if (el) return el;
  }
  return null;
}

export function clearFieldErrors(form) {
  form.querySelectorAll('.field-error').forEach((e) => e.remove());
  form.querySelectorAll('.has-error').forEach((e) => e.classList.remove('has-error'));
  form.querySelectorAll('[aria-invalid]').forEach((c) => {
    c.removeAttribute('aria-invalid');
    const ids = (c.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && !id.startsWith('err-'));
    if (ids.length) c.setAttribute('aria-describedby', ids.join(' '));
    else c.removeAttribute('aria-describedby');
  });
  const summary = form.querySelector('.error-summary');
  if (summary) summary.replaceChildren();
  if (summary) summary.hidden = true;
}

// showFieldErrors places each problem beside its control, fills the
// summary at the top of the form with links to them, and focuses the
// summary so a screen reader reads it.
export function showFieldErrors(form, problems) {
  clearFieldErrors(form);
  const summary = form.querySelector('.error-summary');
  const items = [];
  let first = null;
  for (const p of problems) {
    const target = p.field ? findFieldTarget(form, p.field) : null;
    const message = p.message || p.fieldCode || p.code;
    if (!target) {
      items.push(h('li', { text: p.field ? `${p.field}: ${message}` : message }));
      continue;
    }
    const id = uid('err');
    const label = p.field === target.dataset.field ? '' : `${describePath(p.field, target.dataset.field)}`;
    const err = h('p', { class: 'field-error', id, dataset: { for: p.field } }, label ? `${label}: ${message}` : message);
    target.classList.add('has-error');
    const control = target.matches('input, select, textarea') ? target : target.querySelector('input, select, textarea');
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), id].filter(Boolean).join(' '));
    }
    const slot = target.querySelector(':scope > .error-slot') || target;
    slot.append(err);
    first ??= control || target;
    items.push(h('li', {}, h('a', {
      href: `#${id}`,
      onclick: (ev) => { ev.preventDefault(); (control || target).focus(); },
      text: `${p.field}: ${message}`,
    })));
  }
  if (summary) {
    summary.append(
      h('h2', { text: problems.length === 1 ? 'Herald could not save this: 1 problem' : `Herald could not save this: ${problems.length} problems` }),
      h('ul', {}, items),
    );
    summary.hidden = false;
    summary.focus();
  } else if (first) {
    first.focus();
  }
}

// describePath names the part of a path below the control that shows it:
// "events[0].event_types[1]" under "events[0].event_types" is "item 2".
function describePath(full, shown) {
  const rest = full.slice(shown.length);
  const m = rest.match(/^\[(\d+)\]$/);
  if (m) return `entry ${Number(m[1]) + 1}`;
  return rest.replace(/^\./, '');
}

// clearOnEdit removes a field's error as soon as the user changes it, so
// what stays red is what is still to fix.
export function clearOnEdit(form) {
  const handler = (ev) => {
    const box = ev.target.closest('.has-error');
    if (!box) return;
    box.classList.remove('has-error');
    box.querySelectorAll(':scope > .field-error, :scope > .error-slot > .field-error').forEach((e) => e.remove());
    ev.target.removeAttribute('aria-invalid');
  };
  form.addEventListener('input', handler);
  form.addEventListener('change', handler);
}
