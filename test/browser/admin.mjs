// Drives Herald's admin page in Debian's headless Chromium, as a person
// would: sign in, create a webhook (seeing an invalid URL refused beside its
// field first), ingest an event, watch its call arrive, open it, resend it,
// reveal and rotate the signing secret, delete the webhook. Each view is
// screenshotted into HERALD_ARTIFACTS.
//
// The Go test in test/e2e starts the local stack and a receiver and runs
// this with:
//   HERALD_URL           the gateway in front of the API function
//   HERALD_TOKEN         a token of project HERALD_PROJECT
//   HERALD_PROJECT       the project the token belongs to
//   HERALD_INGEST_URL    where a POST of an event invokes the ingest function
//   HERALD_RECEIVER_URL  the receiver: fails its first call, then succeeds
//   HERALD_DEAD_URL      a receiver that fails every call until it gets a test
//                        send, then succeeds (the stack disables a webhook
//                        whose attempts all failed for 3.6 s)
//   HERALD_ARTIFACTS     where screenshots go
//   CHROMIUM             the browser (/usr/bin/chromium)

import { chromium } from 'playwright-core';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return v;
};

const baseURL = env('HERALD_URL').replace(/\/$/, '');
const token = env('HERALD_TOKEN');
const project = env('HERALD_PROJECT');
const ingestURL = env('HERALD_INGEST_URL');
const receiverURL = env('HERALD_RECEIVER_URL');
const deadURL = env('HERALD_DEAD_URL');
const artifacts = env('HERALD_ARTIFACTS');
const executablePath = env('CHROMIUM', '/usr/bin/chromium');

const WAIT = 45_000; // for things that take the stack a round trip or two
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let passed = 0;
let failed = 0;
const problems = []; // console errors, page errors, CSP violations

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok ${passed + failed} - ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    failed += 1;
    console.log(`not ok ${passed + failed} - ${name}\n  ${String(err?.stack || err).split('\n').join('\n  ')}`);
    await shot(`failure-${passed + failed}`).catch(() => {});
    throw err;
  }
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

let page;

async function shot(name, { fullPage = true } = {}) {
  // A toast left over from the step before would cover the view.
  await page.evaluate(() => document.getElementById('toast')?.classList.remove('shown')).catch(() => {});
  await page.waitForTimeout(250);
  await page.screenshot({ path: path.join(artifacts, `admin-${name}.png`), fullPage });
}

// The event the CMS would send: a record of model 1423 was updated.
function itemUpdate(eventID) {
  return {
    project_id: project,
    event_id: eventID,
    environment: 'main',
    is_environment_primary: true,
    entity_type: 'item',
    event_type: 'update',
    event_triggered_at: new Date().toISOString(),
    entity: {
      id: '293467',
      type: 'item',
      attributes: { title: 'Hello from the browser test' },
      relationships: { item_type: { data: { id: '1423', type: 'item_type' } } },
    },
    related_entities: [{ id: '1423', type: 'item_type', attributes: { api_key: 'article' } }],
  };
}

// record is an event about a record of another model than the Receiver
// webhook's filter takes, so that only the health steps' webhooks get it.
function otherRecord(eventID, eventType) {
  const ev = itemUpdate(eventID);
  ev.event_type = eventType;
  ev.entity.relationships.item_type.data.id = '9999';
  ev.related_entities = [];
  return ev;
}

// call asks the API directly, as a script would.
async function call(method, apiPath, body) {
  const res = await fetch(`${baseURL}/${apiPath}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const doc = await res.json();
  if (!res.ok) throw new Error(`${method} ${apiPath}: ${res.status} ${JSON.stringify(doc)}`);
  return doc;
}

async function ingest(ev) {
  const res = await fetch(ingestURL, { method: 'POST', body: JSON.stringify(ev) });
  const reply = await res.json();
  expect(res.ok && reply.accepted === 1, `ingest answered ${res.status} ${JSON.stringify(reply)}`);
  return reply.results[0].calls.map((c) => c.call_id);
}

// until polls cond every 250 ms until it holds, for at most WAIT.
async function until(what, cond) {
  const deadline = Date.now() + WAIT;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => { setTimeout(r, 250); });
  }
}

// unlabelledControls lists the form controls on the page that no label
// names: every control must have one.
async function unlabelledControls() {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => el.offsetParent !== null)
    .filter((el) => {
      if (el.tagName === 'BUTTON') return !(el.textContent.trim() || el.getAttribute('aria-label'));
      return !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby'));
    })
    .map((el) => el.outerHTML.slice(0, 120)));
}

// overflowsX tells whether the page scrolls sideways: it must not at
// phone width.
const overflowsX = () => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);

async function main() {
  await mkdir(artifacts, { recursive: true });
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'herald-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: DESKTOP,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    page = context.pages()[0] ?? await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await run();
  } finally {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
}

async function run() {
  let callID;

  await step('the page loads without a token and asks for one', async () => {
    const res = await page.goto(`${baseURL}/admin`);
    expect(res.status() === 200, `GET /admin answered ${res.status()}`);
    expect((res.headers()['content-security-policy'] || '').includes("default-src 'none'"), 'no CSP on the page');
    await page.getByLabel('Project API token').waitFor();
    await shot('signin');
  });

  await step('a wrong token is refused beside the field', async () => {
    await page.getByLabel('Project API token').fill(`hrld_${'A'.repeat(43)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const err = page.locator('[data-field="token"] .field-error');
    await err.waitFor();
    expect((await err.textContent()).includes('does not know this token'), `got ${await err.textContent()}`);
  });

  await step('sign in keeps the token in sessionStorage only', async () => {
    await page.getByLabel('Project API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    const stored = await page.evaluate(() => ({ session: sessionStorage.getItem('herald.token'), local: localStorage.length, cookies: document.cookie }));
    expect(stored.session === token, 'the token is not in sessionStorage');
    expect(stored.local === 0 && stored.cookies === '', 'something was kept beyond the tab');
  });

  await step('an invalid URL is shown beside the URL field', async () => {
    await page.getByRole('link', { name: 'New webhook' }).first().click();
    await page.getByRole('heading', { name: 'New webhook' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Receiver');
    await page.getByLabel('URL', { exact: true }).fill('ftp//not a url');
    await page.getByLabel('created', { exact: true }).check();
    await page.getByRole('button', { name: 'Save webhook' }).click();
    const err = page.locator('[data-field="url"] .field-error');
    await err.waitFor();
    const text = await err.textContent();
    expect(/URL|space/i.test(text), `the URL error says ${text}`);
    expect(await page.getByLabel('URL', { exact: true }).getAttribute('aria-invalid') === 'true', 'the URL input is not marked invalid');
    await page.locator('.error-summary').waitFor();
    await shot('form-error');
  });

  await step('create a webhook with two triggers, a filter, a header and a custom payload', async () => {
    await page.getByLabel('URL', { exact: true }).fill(receiverURL);
    // Trigger 1: records created or updated, of model 1423 only.
    const t1 = page.locator('fieldset.trigger').nth(0);
    await t1.getByLabel('updated', { exact: true }).check();
    await t1.getByRole('button', { name: 'Add filter' }).click();
    await t1.getByLabel('Filter by').selectOption('item_type');
    await t1.getByLabel('Ids (comma-separated)').fill('1423, article');
    // Trigger 2: uploads deleted.
    await page.getByRole('button', { name: 'Add trigger' }).click();
    const t2 = page.locator('fieldset.trigger').nth(1);
    await t2.getByLabel('Entity type').selectOption('upload');
    await t2.getByLabel('deleted', { exact: true }).check();
    // A header.
    await page.getByRole('button', { name: 'Add header' }).click();
    await page.getByLabel('Header name').fill('X-Herald-Test');
    await page.getByLabel('Value', { exact: true }).fill('admin page');
    // A custom payload, previewed live by the server.
    await page.getByLabel('Send a custom payload').check();
    await page.getByLabel('Custom payload (Mustache template)').fill('{"record":"{{entity.id}}","event":"{{event_type}}","site":"{{site_id}}"}');
    await page.getByLabel('Sample event').selectOption('item/update');
    await page.locator('.preview-body').filter({ hasText: '"record": "293467"' }).waitFor();
    const previewURL = await page.locator('.preview-url').textContent();
    expect(previewURL === receiverURL, `the preview URL is ${previewURL}`);
    expect(await unlabelledControls().then((u) => u.length === 0), `unlabelled: ${await unlabelledControls()}`);
    await shot('webhook-form');
    await page.getByRole('button', { name: 'Save webhook' }).click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    const row = page.locator('#webhook-table tbody tr').filter({ hasText: 'Receiver' });
    await row.waitFor();
    const triggers = await row.locator('td[data-label="Triggers"]').textContent();
    expect(triggers.includes('Record created or updated, only model 1423 or article'), `triggers read ${triggers}`);
    expect(triggers.includes('Upload deleted'), `triggers read ${triggers}`);
    await row.locator('td[data-label="Last call"]').filter({ hasText: 'no calls yet' }).waitFor();
  });

  await step('an ingested event shows up as a call in the activity log', async () => {
    const res = await fetch(ingestURL, { method: 'POST', body: JSON.stringify(itemUpdate(`evt_browser_${Date.now()}`)) });
    const reply = await res.json();
    expect(res.ok && JSON.stringify(reply).includes('accepted'), `ingest answered ${res.status} ${JSON.stringify(reply)}`);
    await page.getByRole('link', { name: 'Activity log' }).click();
    await page.getByRole('heading', { name: 'Activity log' }).waitFor();
    // The receiver fails the first call: the call is rescheduled.
    const row = page.locator('#call-table tbody tr[data-status="rescheduled"]');
    await row.first().waitFor({ timeout: WAIT });
    callID = await row.first().getAttribute('data-id');
    expect(await row.first().locator('td[data-label="Response"]').textContent() === '500', 'the response column is not 500');
    await page.locator('svg.chart .bar-rescheduled').first().waitFor();
    await shot('activity');
  });

  await step('the activity log filters by status', async () => {
    await page.getByLabel('Status', { exact: true }).selectOption('success');
    await page.getByText('No calls match.').waitFor();
    expect(page.url().includes('status=success'), `the address is ${page.url()}`);
    await page.getByLabel('Status', { exact: true }).selectOption('rescheduled');
    await page.locator(`#call-table tbody tr[data-id="${callID}"]`).waitFor();
  });

  await step('a call opens to its request, response and attempts', async () => {
    await page.locator(`#call-table tbody tr[data-id="${callID}"] td[data-label="Created"] a`).click();
    await page.locator('h1').filter({ hasText: callID }).waitFor();
    const request = page.locator('section[aria-labelledby="request-h"]');
    await request.getByText(receiverURL, { exact: true }).waitFor();
    await request.locator('table.kv').getByText('X-Herald-Test').waitFor();
    const body = await request.locator('pre.body').textContent();
    expect(body.includes('"record": "293467"') && body.includes(`"site": "${project}"`), `the payload is ${body}`);
    const response = page.locator('section[aria-labelledby="response-h"]');
    await response.locator('.http-status').filter({ hasText: '500' }).waitFor();
    await page.locator('#attempts li[data-trigger="first"]').waitFor();
    await page.locator('#attempts li.next').filter({ hasText: 'Next retry' }).waitFor();
    await shot('call');
  });

  await step('resend makes a new attempt that shows on the timeline', async () => {
    await page.getByRole('button', { name: 'Resend' }).click();
    await page.locator('#attempts li[data-trigger="manual"].ok').waitFor({ timeout: WAIT });
    await page.locator('h1 + .badge, .title-line .badge').filter({ hasText: 'Success' }).waitFor();
    expect(await page.locator('#attempts li.next').count() === 0, 'a retry is still scheduled after a successful resend');
    await page.locator('section[aria-labelledby="response-h"] .http-status').filter({ hasText: '200' }).waitFor();
    await shot('call-resent');
  });

  await step('the signing secret is revealed on request and rotated', async () => {
    await page.goto(`${baseURL}/admin#/webhooks`);
    await page.locator('#webhook-table tbody tr').filter({ hasText: 'Receiver' }).getByRole('link', { name: 'Receiver' }).click();
    await page.getByRole('heading', { name: 'Edit webhook “Receiver”' }).waitFor();
    expect(await page.getByLabel('Current signing secret').count() === 0, 'the secret shows before it is asked for');
    await page.getByRole('button', { name: 'Reveal secret' }).click();
    const first = await page.getByLabel('Current signing secret').inputValue();
    expect(first.startsWith('whsec_'), `the secret is ${first}`);
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByText('The previous secret still signs beside it').waitFor();
    const second = await page.getByLabel('Current signing secret').inputValue();
    expect(second.startsWith('whsec_') && second !== first, 'the secret did not change');
    await shot('webhook-edit');
  });

  await step('readable at phone width', async () => {
    await page.setViewportSize(PHONE);
    await page.goto(`${baseURL}/admin#/webhooks`);
    await page.locator('#webhook-table').waitFor();
    expect(!(await overflowsX()), 'the webhooks list scrolls sideways at phone width');
    await shot('webhooks-phone');
    await page.goto(`${baseURL}/admin#/calls`);
    await page.locator('#call-table tbody tr').first().waitFor();
    expect(!(await overflowsX()), 'the activity log scrolls sideways at phone width');
    await shot('activity-phone');
    await page.goto(`${baseURL}/admin#/calls/${callID}`);
    await page.locator('#attempts').waitFor();
    expect(!(await overflowsX()), 'a call scrolls sideways at phone width');
    await shot('call-phone');
    await page.setViewportSize(DESKTOP);
  });

  await step('keyboard alone reaches the navigation and the resend button', async () => {
    await page.goto(`${baseURL}/admin#/calls/${callID}`);
    await page.locator('#attempts').waitFor();
    const reached = new Set();
    for (let i = 0; i < 12; i += 1) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => document.activeElement?.textContent?.trim() || document.activeElement?.id || ''));
    }
    for (const want of ['Webhooks', 'Activity log', 'Resend']) expect(reached.has(want), `Tab never reached ${want}: ${[...reached].join(' | ')}`);
  });

  await step('the webhooks list shows the last call and every view is labelled', async () => {
    await page.goto(`${baseURL}/admin#/webhooks`);
    const row = page.locator('#webhook-table tbody tr').filter({ hasText: 'Receiver' });
    await row.locator('td[data-label="Last call"] .badge').filter({ hasText: 'Success' }).waitFor();
    await shot('webhooks');
    await page.goto(`${baseURL}/admin#/calls`);
    await page.locator('#call-table').waitFor();
    const unlabelled = await unlabelledControls();
    expect(unlabelled.length === 0, `unlabelled controls: ${unlabelled.join(', ')}`);
  });

  let deadID;
  let missed = [];
  await step('the list shows each webhook\'s health: healthy, failing, disabled automatically', async () => {
    const hook = (name, url, eventType) => call('POST', 'webhooks', { data: { type: 'webhook', attributes: {
      name, url, custom_payload: null, headers: {}, http_basic_user: null, http_basic_password: null, auto_retry: false,
      events: [{ entity_type: 'item', event_types: [eventType], filters: null }] } } });
    deadID = (await hook('Dead end', `${deadURL}/dead`, 'update')).data.id;
    const slowID = (await hook('Slow site', `${deadURL}/slow`, 'publish')).data.id;
    missed = await ingest(otherRecord(`evt_dead_1_${Date.now()}`, 'update'));
    await ingest(otherRecord(`evt_slow_1_${Date.now()}`, 'publish'));
    const failures = async (id) => (await call('GET', `webhooks/${id}`)).data.attributes.health.failures_24h;
    await until('the first failures', async () => (await failures(deadID)) === 1 && (await failures(slowID)) === 1);
    // Past the stack's 3.6-second window, one more failure disables it.
    await new Promise((r) => { setTimeout(r, 4000); });
    missed = missed.concat(await ingest(otherRecord(`evt_dead_2_${Date.now()}`, 'update')));
    await until('the auto-disable', async () => (await call('GET', `webhooks/${deadID}`)).data.attributes.disabled_reason === 'auto_disabled');

    await page.goto(`${baseURL}/admin#/webhooks`);
    const health = (name) => page.locator('#webhook-table tbody tr').filter({ hasText: name }).locator('td[data-label="Health"] .badge');
    await health('Receiver').filter({ hasText: 'Healthy' }).waitFor();
    await health('Slow site').filter({ hasText: 'Failing since' }).waitFor();
    await health('Dead end').filter({ hasText: 'Disabled automatically' }).waitFor();
    for (const name of ['Dead end', 'Receiver', 'Slow site']) {
      await page.locator('#webhook-table tbody tr').filter({ hasText: name }).locator('td[data-label="Last call"] .badge').waitFor();
    }
    await shot('webhooks');
  });

  await step('a disabled webhook\'s page shows its last 24 hours, and a test send reaches it', async () => {
    await page.locator('#webhook-table tbody tr').filter({ hasText: 'Dead end' }).getByRole('link', { name: 'Dead end' }).click();
    const card = page.locator('#health');
    await card.getByRole('heading', { name: 'Health' }).waitFor();
    await card.locator('.badge').filter({ hasText: 'Disabled automatically' }).waitFor();
    await card.getByRole('button', { name: 'Enable again' }).waitFor();
    await card.locator('svg.chart .bar-failed').first().waitFor();
    const figures = await card.locator('dl.summary').textContent();
    expect(figures.includes('0 succeeded, 2 failed'), `the card says ${figures}`);
    await card.getByRole('button', { name: 'Send test' }).click();
    const result = card.locator('.test-result');
    await result.locator('.badge').filter({ hasText: 'Succeeded' }).waitFor();
    expect((await result.textContent()).includes('HTTP 200'), `the result says ${await result.textContent()}`);
    await result.locator('pre.response-body').filter({ hasText: 'pong' }).waitFor();
    await card.locator('.badge').filter({ hasText: 'Disabled automatically' }).waitFor(); // a test send changes nothing
    await shot('webhook-health', { fullPage: false });
  });

  await step('enabled again, what it missed is resent from the filtered activity log', async () => {
    await page.locator('#health').getByRole('button', { name: 'Enable again' }).click();
    await page.locator('#health .badge').filter({ hasText: 'Healthy' }).waitFor();
    expect(await page.locator('#health').getByRole('button', { name: 'Enable again' }).count() === 0, 'still offers to enable it');
    await new Promise((r) => { setTimeout(r, 5500); }); // delivery reads a webhook at most 5 s old
    await page.goto(`${baseURL}/admin#/calls?webhook=${deadID}&status=failed`);
    const bulk = page.locator('#bulk-resend');
    await bulk.filter({ hasText: 'Resend these 2 calls' }).waitFor();
    await bulk.click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: 'Resend these 2 calls?' }).waitFor();
    await shot('bulk-resend', { fullPage: false });
    await dialog.getByRole('button', { name: 'Resend 2 calls' }).click();
    await page.getByText('Queued 2 resends.').waitFor();
    await until('the resends to succeed', async () => {
      for (const id of missed) {
        if ((await call('GET', `webhook_calls/${id}`)).data.attributes.status !== 'success') return false;
      }
      return true;
    });
    await page.getByText('No calls match.').waitFor();
    await page.locator('#bulk-resend').filter({ hasText: 'Nothing to resend' }).waitFor();
    expect(await page.locator('#bulk-resend').isDisabled(), 'offers to resend with nothing left to resend');
    // The test steps' own webhooks go, so the list is the Receiver's alone again.
    for (const w of (await call('GET', 'webhooks')).data.filter((x) => x.attributes.name !== 'Receiver')) {
      await call('DELETE', `webhooks/${w.id}`);
    }
  });

  await step('delete asks first, then removes the webhook', async () => {
    await page.goto(`${baseURL}/admin#/webhooks`);
    await page.getByRole('link', { name: 'Receiver' }).click();
    await page.getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('heading', { name: 'Edit webhook “Receiver”' }).waitFor();
    await page.getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByText('No webhooks yet.').waitFor();
  });

  await step('sign out forgets the token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Project API token').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('herald.token')) === null, 'the token is still kept');
  });

  await step('no console errors, page errors or CSP violations', async () => {
    // The browser logs the answers the steps asked for: the wrong token's
    // 401 and the invalid URL's 422. Anything else is a fault.
    const expected = /Failed to load resource: the server responded with a status of (401|422)\b/;
    const unexpected = problems.filter((p) => !expected.test(p));
    expect(unexpected.length === 0, unexpected.join('\n'));
  });
}

main().then(
  () => {
    console.log(`${passed} passed, ${failed} failed`);
  },
  (err) => {
    if (failed === 0) console.log(`not ok - ${err?.stack || err}`);
    console.log(`${passed} passed, ${failed || 1} failed`);
    process.exitCode = 1;
  },
);
