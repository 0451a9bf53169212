// Settings › Webhooks: the list, and the form that creates and edits one.

import { api, ApiError, domainTypes } from './api.js';
import { h, clear, fill, uid, when, statusBadge, toast, confirmDialog, debounce, prettyBody } from './dom.js';
import { showFieldErrors, clearFieldErrors, clearOnEdit } from './fielderrors.js';
import { describeTrigger, entityName, eventName, filterName, eventLabel } from './words.js';
import { healthBadge, healthSection } from './health.js';

// ---- List ----

export async function renderWebhookList(main) {
  const heading = h('h1', { tabindex: '-1', text: 'Webhooks' });
  const body = h('div', { class: 'loading', text: 'Loading webhooks…' });
  main.append(
    h('div', { class: 'page-head' }, heading, h('a', { class: 'btn primary', href: '#/webhooks/new', text: 'New webhook' })),
    body,
  );
  heading.focus();
  const doc = await api('webhooks');
  const hooks = doc.data.slice().sort((a, b) => a.attributes.name.localeCompare(b.attributes.name));
  clear(body).classList.remove('loading');
  if (hooks.length === 0) {
    body.append(h('p', { class: 'empty' }, 'No webhooks yet. ', h('a', { href: '#/webhooks/new', text: 'Create the first one' }), '.'));
    return;
  }
  const lastCells = new Map();
  body.append(h('table', { class: 'list responsive', id: 'webhook-table' },
    h('caption', { class: 'visually-hidden', text: 'Webhooks of this project' }),
    h('thead', {}, h('tr', {}, ['Name', 'URL', 'Health', 'Triggers', 'Last call'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, hooks.map((w) => {
      const a = w.attributes;
      const last = h('td', { 'data-label': 'Last call', class: 'last-call' }, h('span', { class: 'muted', text: '…' }));
      lastCells.set(w.id, last);
      return h('tr', { dataset: { id: w.id } },
        h('td', { 'data-label': 'Name' }, h('a', { href: `#/webhooks/${encodeURIComponent(w.id)}`, text: a.name })),
        h('td', { 'data-label': 'URL', class: 'url' }, h('code', { text: a.url })),
        h('td', { 'data-label': 'Health' }, healthBadge(a)),
        h('td', { 'data-label': 'Triggers' }, h('ul', { class: 'plain' }, a.events.map((t) => h('li', { text: describeTrigger(t) })))),
        last,
      );
    })),
  ));
  // The newest call of each webhook, asked for in parallel.
  await Promise.all(hooks.map(async (w) => {
    const cell = lastCells.get(w.id);
    try {
      const calls = await api('webhook_calls', { query: { 'filter[fields][webhook_id][eq]': w.id, 'page[limit]': 1, order_by: 'created_at_desc' } });
      const c = calls.data[0];
      fill(cell, c
        ? h('a', { href: `#/calls/${encodeURIComponent(c.id)}`, class: 'plain-link' }, statusBadge(c.attributes.status), ' ', when(c.attributes.created_at))
        : statusBadge(null));
    } catch (err) {
      fill(cell, h('span', { class: 'muted', text: 'unknown' }));
      if (!(err instanceof ApiError)) throw err;
    }
  }));
}

// ---- Form ----

// field is a labelled control with an optional hint; the wrapper carries
// the API path errors are matched on.
function field(path, label, control, hint) {
  control.id ||= uid('f');
  const wrap = h('div', { class: 'field', dataset: { field: path } }, h('label', { for: control.id, text: label }), control);
  if (hint) {
    const hintID = uid('hint');
    control.setAttribute('aria-describedby', hintID);
    wrap.append(h('p', { class: 'hint', id: hintID, text: hint }));
  }
  return wrap;
}

function checkbox(path, label, checked, hint) {
  const input = h('input', { type: 'checkbox', id: uid('f'), checked });
  const wrap = h('div', { class: 'field check', dataset: { field: path } }, input, h('label', { for: input.id, text: label }));
  if (hint) {
    const hintID = uid('hint');
    input.setAttribute('aria-describedby', hintID);
    wrap.append(h('p', { class: 'hint', id: hintID, text: hint }));
  }
  return { wrap, input };
}

const EMPTY_WEBHOOK = {
  name: '', url: '', enabled: true, auto_retry: true, headers: {}, custom_payload: null,
  http_basic_user: null, http_basic_password: null,
  events: [{ entity_type: 'item', event_types: [], filters: null }],
};

export async function renderWebhookForm(main, { id }) {
  const types = await domainTypes();
  const editing = id !== 'new';
  let hook = { ...EMPTY_WEBHOOK };
  if (editing) {
    const doc = await api(`webhooks/${encodeURIComponent(id)}`);
    hook = doc.data.attributes;
  }
  const heading = h('h1', { tabindex: '-1', text: editing ? `Edit webhook “${hook.name}”` : 'New webhook' });
  const form = new WebhookForm(types, hook);
  main.append(h('div', { class: 'page-head' }, heading, h('a', { href: '#/webhooks', class: 'btn', text: 'Back to webhooks' })));
  if (editing) {
    // Enabling it again from the health card re-reads the page.
    main.append(healthSection(id, hook, { onChange: () => window.dispatchEvent(new HashChangeEvent('hashchange')) }));
  }
  main.append(form.el);
  if (editing) main.append(secretSection(id), deleteSection(id, hook.name));
  heading.focus();

  form.onSubmit = async (attrs) => {
    const doc = editing
      ? await api(`webhooks/${encodeURIComponent(id)}`, { method: 'PUT', body: { data: { id, type: 'webhook', attributes: attrs } } })
      : await api('webhooks', { method: 'POST', body: { data: { type: 'webhook', attributes: attrs } } });
    toast(editing ? `Saved webhook “${doc.data.attributes.name}”.` : `Created webhook “${doc.data.attributes.name}”.`);
    location.hash = '#/webhooks';
  };
  form.schedulePreview();
  return () => form.dispose();
}

class WebhookForm {
  constructor(types, hook) {
    this.types = types;
    this.triggers = [];
    this.headerRows = [];
    this.sampleTouched = false;
    this.previewSeq = 0;

    this.name = h('input', { type: 'text', autocomplete: 'off', required: true, value: hook.name, maxlength: 255 });
    this.url = h('input', { type: 'text', inputmode: 'url', autocomplete: 'url', spellcheck: 'false', required: true, value: hook.url, placeholder: 'https://example.com/hooks/herald' });
    this.enabled = checkbox('enabled', 'Enabled', hook.enabled, 'A disabled webhook matches no event.');
    this.autoRetry = checkbox('auto_retry', 'Retry failed calls automatically', hook.auto_retry,
      'Seven retries: 2 min after the failure, then 6 min, 30 min, 1 h, 5 h, 1 day and 2 days apart.');
    this.basicUser = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', value: hook.http_basic_user || '' });
    this.basicPassword = h('input', { type: 'password', autocomplete: 'new-password', value: hook.http_basic_password || '' });

    this.headersList = h('div', { class: 'rows' });
    this.triggersList = h('div', { class: 'triggers' });
    this.useCustom = checkbox('custom_payload_enabled', 'Send a custom payload', hook.custom_payload !== null,
      'Off: Herald sends its default JSON payload. On: the Mustache template below is the body.');
    this.customPayload = h('textarea', { rows: 12, spellcheck: 'false', class: 'code', value: hook.custom_payload ?? '{\n  "id": "{{entity.id}}",\n  "event": "{{event_type}}"\n}' });
    this.customField = field('custom_payload', 'Custom payload (Mustache template)', this.customPayload,
      '{{name}} inserts a value escaped for a JSON string; {{{name}}} inserts it as is; objects insert as JSON.');
    this.sample = this.sampleSelect();
    this.previewURL = h('output', { class: 'preview-url' });
    this.previewBody = h('pre', { class: 'preview-body', tabindex: '0' });
    this.previewStatus = h('p', { class: 'preview-status', role: 'status', 'aria-live': 'polite' });
    this.summary = h('div', { class: 'error-summary', tabindex: '-1', role: 'alert', hidden: true });
    this.saveButton = h('button', { type: 'submit', class: 'btn primary', text: 'Save webhook' });

    for (const [k, v] of Object.entries(hook.headers || {})) this.addHeader(k, v);
    for (const t of hook.events || []) this.addTrigger(t);

    const previewID = uid('preview');
    this.el = h('form', { class: 'webhook-form', novalidate: true, 'aria-label': 'Webhook settings' },
      this.summary,
      h('section', { class: 'card' }, h('h2', { text: 'Endpoint' }),
        field('name', 'Name', this.name, 'Unique within the project.'),
        field('url', 'URL', this.url, 'An absolute http or https URL. It may use Mustache tags, such as {{entity.id}}.'),
        this.enabled.wrap, this.autoRetry.wrap),
      h('section', { class: 'card' }, h('h2', { text: 'Authentication and headers' }),
        h('div', { class: 'two' },
          field('http_basic_user', 'HTTP basic auth user', this.basicUser, 'Leave empty for no basic auth.'),
          field('http_basic_password', 'HTTP basic auth password', this.basicPassword)),
        h('fieldset', { class: 'headers', dataset: { field: 'headers' } },
          h('legend', { text: 'Headers sent with every call' }),
          this.headersList,
          h('div', { class: 'error-slot' }),
          h('button', { type: 'button', class: 'btn small', onclick: () => this.addHeader('', '', true), text: 'Add header' }))),
      h('section', { class: 'card', dataset: { field: 'events' } }, h('h2', { text: 'Triggers' }),
        h('p', { class: 'hint', text: 'The webhook is called once for each event that any trigger matches.' }),
        this.triggersList,
        h('div', { class: 'error-slot' }),
        h('button', { type: 'button', class: 'btn small', onclick: () => this.addTrigger(null, true), text: 'Add trigger' })),
      h('section', { class: 'card' }, h('h2', { text: 'Payload' }),
        this.useCustom.wrap, this.customField,
        h('div', { class: 'preview', id: previewID, 'aria-label': 'Preview' },
          h('h3', { text: 'Preview' }),
          field('preview_sample', 'Sample event', this.sample, 'Rendered by Herald itself, as a receiver would get it.'),
          h('dl', { class: 'preview-out' },
            h('dt', { text: 'URL' }), h('dd', {}, this.previewURL),
            h('dt', { text: 'Body' }), h('dd', {}, this.previewBody)),
          this.previewStatus)),
      h('div', { class: 'form-actions' }, this.saveButton, h('a', { href: '#/webhooks', class: 'btn', text: 'Cancel' })),
    );

    const refresh = () => this.schedulePreview();
    this.schedulePreview = debounce(() => this.preview(), 250);
    this.customPayload.addEventListener('input', refresh);
    this.url.addEventListener('input', refresh);
    this.sample.addEventListener('change', () => { this.sampleTouched = true; refresh(); });
    this.useCustom.input.addEventListener('change', () => { this.syncCustom(); refresh(); });
    this.syncCustom();
    this.el.addEventListener('submit', (ev) => { ev.preventDefault(); this.submit(); });
    clearOnEdit(this.el);
  }

  dispose() { this.disposed = true; }

  syncCustom() {
    this.customField.hidden = !this.useCustom.input.checked;
  }

  // ---- headers ----

  addHeader(name, value, focus = false) {
    const nameInput = h('input', { type: 'text', value: name, autocomplete: 'off', spellcheck: 'false', class: 'header-name', placeholder: 'X-Header-Name' });
    const valueInput = h('input', { type: 'text', value, autocomplete: 'off', spellcheck: 'false', class: 'header-value' });
    const remove = h('button', { type: 'button', class: 'btn small quiet' }, 'Remove');
    const row = { nameInput, valueInput };
    row.el = h('div', { class: 'row header-row' },
      field('', 'Header name', nameInput), field('', 'Value', valueInput), remove);
    const label = () => remove.setAttribute('aria-label', `Remove header ${nameInput.value || '(unnamed)'}`);
    label();
    nameInput.addEventListener('input', () => { this.renumber(); label(); });
    remove.addEventListener('click', () => {
      this.headerRows = this.headerRows.filter((r) => r !== row);
      row.el.remove();
      this.renumber();
    });
    this.headerRows.push(row);
    this.headersList.append(row.el);
    this.renumber();
    if (focus) nameInput.focus();
  }

  // ---- triggers ----

  entityTypes() { return this.types.entity_types; }

  entity(type) { return this.entityTypes().find((e) => e.type === type); }

  addTrigger(t, focus = false) {
    t ??= { entity_type: 'item', event_types: [], filters: null };
    const trig = { filters: [] };
    trig.entity = h('select', {}, this.entityTypes().map((e) => h('option', { value: e.type, text: entityName(e.type), selected: e.type === t.entity_type })));
    trig.legend = h('legend');
    trig.events = h('div', { class: 'checks' });
    trig.eventsSet = h('fieldset', { class: 'event-types' }, h('legend', { text: 'Event types' }), trig.events, h('div', { class: 'error-slot' }));
    trig.filtersList = h('div', { class: 'rows' });
    trig.addFilter = h('button', { type: 'button', class: 'btn small', text: 'Add filter' });
    trig.filtersBox = h('div', { class: 'filters' }, h('h4', { text: 'Filters (optional)' }),
      h('p', { class: 'hint', text: 'Only events about these ids. Ids in one filter are alternatives; every filter must hold.' }),
      trig.filtersList, h('div', { class: 'error-slot' }), trig.addFilter);
    const remove = h('button', { type: 'button', class: 'btn small quiet remove-trigger', text: 'Remove trigger' });
    trig.entityField = field('', 'Entity type', trig.entity);
    trig.el = h('fieldset', { class: 'trigger' }, trig.legend, h('div', { class: 'error-slot' }),
      trig.entityField, trig.eventsSet, trig.filtersBox, remove);

    trig.setEvents = (checked) => {
      const e = this.entity(trig.entity.value);
      fill(trig.events, (e?.event_types || []).map((ev) => {
        const box = h('input', { type: 'checkbox', id: uid('ev'), value: ev, checked: checked.includes(ev) });
        box.addEventListener('change', () => this.triggersChanged());
        return h('span', { class: 'check-inline' }, box, h('label', { for: box.id, text: eventName(ev) }));
      }));
      const filterTypes = e?.filter_types || [];
      trig.addFilter.disabled = filterTypes.length === 0;
      trig.addFilter.title = filterTypes.length === 0 ? `${entityName(trig.entity.value)} events take no filters` : '';
      for (const f of trig.filters) this.setFilterTypes(trig, f, f.type.value);
    };
    trig.entity.addEventListener('change', () => {
      trig.setEvents([]);
      this.triggersChanged();
    });
    trig.addFilter.addEventListener('click', () => this.addFilter(trig, null, true));
    remove.addEventListener('click', () => {
      this.triggers = this.triggers.filter((x) => x !== trig);
      trig.el.remove();
      this.renumber();
      this.triggersChanged();
    });
    this.triggers.push(trig);
    this.triggersList.append(trig.el);
    trig.setEvents(t.event_types || []);
    for (const f of t.filters || []) this.addFilter(trig, f);
    this.renumber();
    if (focus) trig.entity.focus();
  }

  setFilterTypes(trig, f, selected) {
    const allowed = this.entity(trig.entity.value)?.filter_types || [];
    const options = allowed.includes(selected) || !selected ? allowed : [...allowed, selected];
    fill(f.type, options.map((ft) => h('option', { value: ft, text: filterName(ft), selected: ft === selected })));
  }

  addFilter(trig, fl, focus = false) {
    const f = {};
    f.type = h('select');
    f.ids = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', value: (fl?.entity_ids || []).join(', '), placeholder: 'e.g. 1423, article' });
    const remove = h('button', { type: 'button', class: 'btn small quiet', text: 'Remove filter' });
    f.typeField = field('', 'Filter by', f.type);
    f.idsField = field('', 'Ids (comma-separated)', f.ids, 'Model ids or API keys, record ids, environment names, or primary / sandbox.');
    f.el = h('div', { class: 'row filter-row' }, f.typeField, f.idsField, remove);
    remove.addEventListener('click', () => {
      trig.filters = trig.filters.filter((x) => x !== f);
      f.el.remove();
      this.renumber();
    });
    trig.filters.push(f);
    trig.filtersList.append(f.el);
    this.setFilterTypes(trig, f, fl?.entity_type || (this.entity(trig.entity.value)?.filter_types || [])[0]);
    this.renumber();
    if (focus) f.type.focus();
  }

  // renumber points each part's data-field at its API path, as the list
  // stands now, and names triggers by their position.
  renumber() {
    this.triggers.forEach((t, i) => {
      const at = `events[${i}]`;
      t.el.dataset.field = at;
      t.legend.textContent = `Trigger ${i + 1}`;
      t.entityField.dataset.field = `${at}.entity_type`;
      t.eventsSet.dataset.field = `${at}.event_types`;
      t.filtersBox.dataset.field = `${at}.filters`;
      t.filters.forEach((f, j) => {
        f.el.dataset.field = `${at}.filters[${j}]`;
        f.typeField.dataset.field = `${at}.filters[${j}].entity_type`;
        f.idsField.dataset.field = `${at}.filters[${j}].entity_ids`;
      });
    });
    for (const r of this.headerRows) r.el.dataset.field = `headers.${r.nameInput.value.trim()}`;
  }

  triggersChanged() {
    if (this.sampleTouched) return;
    for (const t of this.triggers) {
      const ev = [...t.events.querySelectorAll('input:checked')].map((b) => b.value)[0];
      if (ev) {
        this.sample.value = `${t.entity.value}/${ev}`;
        this.schedulePreview();
        return;
      }
    }
  }

  // ---- preview ----

  sampleSelect() {
    return h('select', {}, this.entityTypes().map((e) => h('optgroup', { label: entityName(e.type) },
      e.event_types.map((ev) => h('option', { value: `${e.type}/${ev}`, text: eventLabel(e.type, ev), selected: e.type === 'item' && ev === 'update' })))));
  }

  async preview() {
    if (this.disposed) return;
    const seq = ++this.previewSeq;
    const [entity, event] = this.sample.value.split('/');
    const attrs = {
      custom_payload: this.useCustom.input.checked ? this.customPayload.value : null,
      url: this.url.value.trim(),
      entity_type: entity,
      event_type: event,
    };
    this.previewStatus.textContent = 'Rendering…';
    try {
      const doc = await api('webhook_payload_preview', { method: 'POST', body: { data: { type: 'webhook_payload_preview', attributes: attrs } } });
      if (seq !== this.previewSeq) return;
      const a = doc.data.attributes;
      this.previewURL.textContent = a.url_error ? `⚠ ${a.url_error}` : (a.url ?? '(no URL yet)');
      this.previewURL.classList.toggle('bad', Boolean(a.url_error));
      this.previewBody.textContent = a.body_error ? `⚠ ${a.body_error}` : prettyBody(a.body);
      this.previewBody.classList.toggle('bad', Boolean(a.body_error));
      this.previewStatus.textContent = a.body_error || a.url_error ? 'The template does not render; see above.' : `Rendered for a sample ${eventLabel(entity, event).toLowerCase()} event.`;
    } catch (err) {
      if (seq !== this.previewSeq) return;
      this.previewStatus.textContent = `Preview failed: ${err.message}`;
    }
  }

  // ---- submit ----

  values() {
    const headers = {};
    const dup = [];
    for (const r of this.headerRows) {
      const name = r.nameInput.value.trim();
      if (!name && !r.valueInput.value) continue;
      if (Object.hasOwn(headers, name)) dup.push(name);
      headers[name] = r.valueInput.value;
    }
    const events = this.triggers.map((t) => ({
      entity_type: t.entity.value,
      event_types: [...t.events.querySelectorAll('input:checked')].map((b) => b.value),
      filters: t.filters.length === 0 ? null : t.filters.map((f) => ({
        entity_type: f.type.value,
        entity_ids: f.ids.value.split(',').map((x) => x.trim()).filter(Boolean),
      })),
    }));
    const attrs = {
      name: this.name.value,
      url: this.url.value.trim(),
      enabled: this.enabled.input.checked,
      auto_retry: this.autoRetry.input.checked,
      http_basic_user: this.basicUser.value || null,
      http_basic_password: this.basicPassword.value || null,
      headers,
      events,
      custom_payload: this.useCustom.input.checked ? this.customPayload.value : null,
    };
    return { attrs, problems: dup.map((n) => ({ field: `headers.${n}`, message: 'is given twice' })) };
  }

  async submit() {
    this.renumber();
    const { attrs, problems } = this.values();
    if (problems.length) {
      showFieldErrors(this.el, problems);
      return;
    }
    clearFieldErrors(this.el);
    this.saveButton.disabled = true;
    this.saveButton.textContent = 'Saving…';
    try {
      await this.onSubmit(attrs);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showFieldErrors(this.el, err.problems);
    } finally {
      this.saveButton.disabled = false;
      this.saveButton.textContent = 'Save webhook';
    }
  }
}

// ---- Signing secret ----

function secretSection(id) {
  const out = h('div', { class: 'secret-out', role: 'status', 'aria-live': 'polite' });
  const reveal = h('button', { type: 'button', class: 'btn', text: 'Reveal secret' });
  const rotate = h('button', { type: 'button', class: 'btn', text: 'Rotate secret' });
  const show = (doc) => {
    const a = doc.data.attributes;
    const input = h('input', { type: 'text', readOnly: true, value: a.secret, class: 'code', id: uid('secret'), spellcheck: 'false' });
    const copy = h('button', { type: 'button', class: 'btn small', text: 'Copy' });
    copy.addEventListener('click', async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(a.secret);
        toast('Secret copied.');
      } catch {
        toast('Press Ctrl+C to copy the selected secret.');
      }
    });
    fill(out,
      h('div', { class: 'field' }, h('label', { for: input.id, text: 'Current signing secret' }), h('div', { class: 'inline' }, input, copy)),
      a.previous_secret_expires_at
        ? h('p', { class: 'hint' }, 'The previous secret still signs beside it until ', when(a.previous_secret_expires_at), '.')
        : null,
    );
    reveal.textContent = 'Hide secret';
  };
  reveal.addEventListener('click', async () => {
    if (out.childElementCount) {
      clear(out);
      reveal.textContent = 'Reveal secret';
      return;
    }
    try {
      show(await api(`webhooks/${encodeURIComponent(id)}/secret`));
    } catch (err) {
      fill(out, h('p', { class: 'error', text: err.message }));
    }
  });
  rotate.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Rotate the signing secret?',
      message: 'Herald makes a new secret now. The current one keeps signing calls beside it for 24 hours, so receivers can switch over without rejecting calls.',
      confirmLabel: 'Rotate secret',
    });
    if (!ok) return;
    try {
      show(await api(`webhooks/${encodeURIComponent(id)}/secret/rotate`, { method: 'POST' }));
      toast('Signing secret rotated.');
    } catch (err) {
      fill(out, h('p', { class: 'error', text: err.message }));
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'secret-h' },
    h('h2', { id: 'secret-h', text: 'Signing secret' }),
    h('p', { class: 'hint', text: 'Every call is signed with this secret (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature). Receivers verify calls with it.' }),
    h('div', { class: 'inline' }, reveal, rotate), out);
}

// ---- Delete ----

function deleteSection(id, name) {
  const del = h('button', { type: 'button', class: 'btn danger', text: 'Delete webhook' });
  del.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: `Delete webhook “${name}”?`,
      message: 'No more calls are made to it, pending retries stop, and its calls in the activity log can no longer be resent. This cannot be undone.',
      confirmLabel: 'Delete webhook',
      danger: true,
    });
    if (!ok) return;
    try {
      await api(`webhooks/${encodeURIComponent(id)}`, { method: 'DELETE' });
      toast(`Deleted webhook “${name}”.`);
      location.hash = '#/webhooks';
    } catch (err) {
      toast(`Could not delete: ${err.message}`);
    }
  });
  return h('section', { class: 'card danger-zone', 'aria-labelledby': 'delete-h' },
    h('h2', { id: 'delete-h', text: 'Delete' }), del);
}
