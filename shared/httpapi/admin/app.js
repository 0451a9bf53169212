// Herald's admin page: sign in with a project token, then Settings ›
// Webhooks and the activity log, all through the public API.
//
// Views are chosen by the address's fragment (#/webhooks, #/calls/ID…), so
// the server serves one page and Back, reload and bookmarks work.

import { api, ApiError, session, whenUnauthorized } from './api.js';
import { h, clear, fill, uid, toast } from './dom.js';
import { renderWebhookList, renderWebhookForm } from './webhooks.js';
import { renderCallLog, renderCall } from './calls.js';

const routes = [
  [/^\/webhooks$/, renderWebhookList, 'webhooks'],
  [/^\/webhooks\/(?<id>[^/]+)$/, renderWebhookForm, 'webhooks'],
  [/^\/calls$/, renderCallLog, 'calls'],
  [/^\/calls\/(?<id>[^/]+)$/, renderCall, 'calls'],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signOutButton = document.getElementById('sign-out');
let cleanup = null;
let renderSeq = 0;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/webhooks';
  const [path, qs = ''] = raw.split('?');
  return { path, query: new URLSearchParams(qs) };
}

async function route() {
  const seq = ++renderSeq;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  clear(main);
  if (!session.token) {
    showSignedIn(false);
    renderSignIn();
    return;
  }
  showSignedIn(true);
  const { path, query } = parseHash();
  const match = routes.map(([re, view, section]) => [re.exec(path), view, section]).find(([m]) => m);
  if (!match) {
    location.replace('#/webhooks');
    return;
  }
  const [m, view, section] = match;
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const params = Object.fromEntries(Object.entries(m.groups || {}).map(([k, v]) => [k, decodeURIComponent(v)]));
  try {
    const done = await view(main, params, query);
    if (seq === renderSeq) cleanup = typeof done === 'function' ? done : null;
    else if (typeof done === 'function') done();
  } catch (err) {
    if (seq !== renderSeq) return;
    if (err instanceof ApiError && err.status === 401) return; // signed out already
    fill(main, h('div', { class: 'card error-page' },
      h('h1', { tabindex: '-1', text: err instanceof ApiError && err.status === 404 ? 'Not found' : 'Something went wrong' }),
      h('p', { text: err.message }),
      h('p', {}, h('a', { href: '#/webhooks', text: 'Back to webhooks' }))));
    main.querySelector('h1').focus();
  }
}

function showSignedIn(yes) {
  nav.hidden = !yes;
  signOutButton.hidden = !yes;
}

function renderSignIn(message) {
  const input = h('input', {
    type: 'password', id: uid('token'), autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'hrld_…', 'aria-describedby': 'token-hint',
  });
  const fieldBox = h('div', { class: 'field', dataset: { field: 'token' } },
    h('label', { for: input.id, text: 'Project API token' }), input,
    h('p', { class: 'hint', id: 'token-hint', text: 'Tokens start with hrld_ (make token PROJECT=<id> creates one). The token is kept in this browser tab only, until you sign out or close the tab.' }));
  const error = h('p', { class: 'field-error', id: 'token-error', hidden: true });
  fieldBox.append(error);
  const button = h('button', { type: 'submit', class: 'btn primary', text: 'Sign in' });
  const heading = h('h1', { tabindex: '-1', id: 'signin-h', text: 'Sign in to Herald' });
  const form = h('form', { class: 'card sign-in', novalidate: true, 'aria-labelledby': 'signin-h' }, fieldBox, button);
  const fail = (msg) => {
    error.textContent = msg;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', 'token-hint token-error');
    input.focus();
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) return fail('Enter a project API token.');
    button.disabled = true;
    try {
      await api('webhooks', { token }); // proves the token before keeping it
      session.signIn(token);
      if (!location.hash || location.hash === '#/sign-in') location.hash = '#/webhooks';
      else route();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      fail(err.status === 401 ? 'Herald does not know this token. Check it and try again.' : err.message);
    } finally {
      button.disabled = false;
    }
  });
  main.append(h('div', { class: 'sign-in-page' }, heading,
    h('p', { class: 'lead', text: 'Manage the project’s webhooks and read its activity log.' }),
    message ? h('p', { class: 'notice', role: 'alert', text: message }) : null, form));
  input.focus();
}

signOutButton.addEventListener('click', () => {
  session.signOut();
  toast('Signed out.');
  route();
});

whenUnauthorized(() => {
  session.signOut();
  if (cleanup) cleanup();
  cleanup = null;
  renderSeq += 1;
  clear(main);
  showSignedIn(false);
  renderSignIn('Herald no longer accepts the token; sign in again.');
});

window.addEventListener('hashchange', route);
route();
