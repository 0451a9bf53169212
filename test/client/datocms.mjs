// Drives Herald with the official DatoCMS client, unchanged, pointed at
// Herald's API. Run by test/e2e; exits non-zero with a message on the first
// assertion that fails, and prints a JSON summary on success.
//
//   HERALD_API_URL=... HERALD_TOKEN=... node datocms.mjs webhooks
//   HERALD_API_URL=... HERALD_TOKEN=... HERALD_WEBHOOK_ID=... HERALD_CALLS=n node datocms.mjs calls
import assert from 'node:assert/strict';
import { buildClient, ApiError } from '@datocms/cma-client-node';

const client = buildClient({
  apiToken: process.env.HERALD_TOKEN,
  baseUrl: process.env.HERALD_API_URL,
  // Herald answers at once; a hung request should fail the test, not stall it.
  requestTimeout: 15000,
});

const scenarios = {
  async webhooks() {
    const name = `client-${Date.now()}`;
    const created = await client.webhooks.create({
      name,
      url: 'https://example.com/hooks/{{entity.id}}',
      custom_payload: null,
      headers: { 'X-Team': 'web' },
      events: [
        { entity_type: 'item', event_types: ['publish', 'unpublish'], filters: [{ entity_type: 'item_type', entity_ids: ['author'] }] },
        { entity_type: 'upload', event_types: ['create'] },
      ],
      http_basic_user: 'deploy',
      http_basic_password: 's3cret-basic',
    });
    assert.equal(created.type, 'webhook');
    assert.equal(created.name, name);
    assert.equal(created.enabled, true, 'enabled defaults to true');
    assert.equal(created.auto_retry, true, 'auto_retry defaults to true');
    assert.equal(created.payload_api_version, '3');
    assert.equal(created.nested_items_in_payload, false);
    assert.deepEqual(created.events[1].filters, null, 'a trigger without filters shows filters: null');
    // Herald's own read-only attributes come through the client as they are.
    assert.deepEqual(created.health, {
      last_success_at: null, failing_since: null, consecutive_failures: 0, successes_24h: 0, failures_24h: 0,
    }, 'a new webhook is healthy');
    assert.equal(created.disabled_reason, null);
    assert.equal(created.disabled_at, null);

    const listed = await client.webhooks.list();
    assert.ok(listed.some((w) => w.id === created.id), 'list includes the new webhook');

    const found = await client.webhooks.find(created.id);
    assert.equal(found.url, created.url);
    assert.deepEqual(found.headers, { 'X-Team': 'web' });

    const updated = await client.webhooks.update(created.id, { enabled: false, headers: { 'X-Team': 'platform' } });
    assert.equal(updated.enabled, false);
    assert.equal(updated.disabled_reason, 'manual', 'disabling by hand says so');
    assert.ok(updated.disabled_at, 'and when');
    assert.equal(typeof updated.health.consecutive_failures, 'number');
    assert.deepEqual(updated.headers, { 'X-Team': 'platform' });
    assert.equal(updated.name, name, 'a partial update keeps what it does not name');
    assert.equal(updated.http_basic_user, 'deploy');

    let invalid;
    try {
      await client.webhooks.update(created.id, { url: 'not a url' });
    } catch (e) {
      invalid = e;
    }
    assert.ok(invalid instanceof ApiError, `a bad url is an ApiError, got ${invalid}`);
    assert.equal(invalid.response.status, 422);
    const fieldError = invalid.findError('INVALID_FIELD', { field: 'url' });
    assert.ok(fieldError, `the error names the url field: ${JSON.stringify(invalid.errors)}`);

    let duplicate;
    try {
      await client.webhooks.create({ ...created, id: undefined, type: undefined, name, events: created.events });
    } catch (e) {
      duplicate = e;
    }
    assert.ok(duplicate instanceof ApiError && duplicate.findError('INVALID_FIELD', { field: 'name' }), 'a duplicate name is refused on the name field');

    const destroyed = await client.webhooks.destroy(created.id);
    assert.equal(destroyed.id, created.id);
    let gone;
    try {
      await client.webhooks.find(created.id);
    } catch (e) {
      gone = e;
    }
    assert.ok(gone instanceof ApiError && gone.response.status === 404, 'a deleted webhook is 404');
    return { created: created.id, listed: listed.length, deleted: destroyed.id };
  },

  async calls() {
    const webhookId = process.env.HERALD_WEBHOOK_ID;
    const expected = Number(process.env.HERALD_CALLS);
    const page = await client.webhookCalls.list({ filter: { fields: { webhook_id: { eq: webhookId } } }, page: { limit: 2 } });
    assert.equal(page.length, Math.min(2, expected));
    const all = [];
    for await (const call of client.webhookCalls.listPagedIterator(
      { filter: { fields: { webhook_id: { eq: webhookId } } } },
      { perPage: 3, concurrency: 2 },
    )) {
      all.push(call);
    }
    assert.equal(all.length, expected, 'the paged iterator sees every call once');
    assert.equal(new Set(all.map((c) => c.id)).size, expected, 'no call twice');
    for (let i = 1; i < all.length; i++) {
      assert.ok(Date.parse(all[i - 1].created_at) >= Date.parse(all[i].created_at), 'newest first');
    }
    const found = await client.webhookCalls.find(all[0].id);
    assert.equal(found.id, all[0].id);
    assert.equal(found.webhook.id, webhookId);
    if (process.env.HERALD_RESEND === '1') {
      await client.webhookCalls.resendWebhook(all[0].id);
    }
    return { listed: all.length, first: all[0].id, statuses: all.map((c) => c.status) };
  },
};

const name = process.argv[2];
if (!scenarios[name]) {
  console.error(`usage: node datocms.mjs ${Object.keys(scenarios).join('|')}`);
  process.exit(2);
}
try {
  const summary = await scenarios[name]();
  console.log(JSON.stringify(summary));
} catch (e) {
  console.error(e instanceof ApiError ? `${e.message}\n${JSON.stringify(e.errors)}` : e.stack || String(e));
  process.exit(1);
}
