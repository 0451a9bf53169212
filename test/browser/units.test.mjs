// Unit tests of the admin page's pure functions, with node's test runner:
// the parts whose mistakes a browser run would show only by accident.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { parentPath } from '../../shared/httpapi/admin/fielderrors.js';
import { describeTrigger, orList } from '../../shared/httpapi/admin/words.js';
import { hourlyBuckets } from '../../shared/httpapi/admin/chart.js';

test('parentPath walks an error path up to the control that shows it', () => {
  const cases = {
    'events[0].event_types[1]': 'events[0].event_types',
    'events[0].event_types': 'events[0]',
    'events[0]': 'events',
    events: '',
    'events[2].filters[1].entity_ids[0]': 'events[2].filters[1].entity_ids',
    'events[2].filters[1].entity_ids': 'events[2].filters[1]',
    'headers.X-Foo': 'headers',
    'headers.X.Dotted.Name': 'headers',
    url: '',
  };
  for (const [path, want] of Object.entries(cases)) {
    assert.equal(parentPath(path), want, `parentPath(${path})`);
  }
});

test('orList joins words as people write them', () => {
  assert.equal(orList([]), '');
  assert.equal(orList(['a']), 'a');
  assert.equal(orList(['a', 'b']), 'a or b');
  assert.equal(orList(['a', 'b', 'c']), 'a, b or c');
});

test('describeTrigger says a trigger in words', () => {
  assert.equal(describeTrigger({ entity_type: 'item', event_types: ['create', 'update'], filters: null }), 'Record created or updated');
  assert.equal(
    describeTrigger({ entity_type: 'item', event_types: ['publish'], filters: [{ entity_type: 'item_type', entity_ids: ['1423', 'article'] }, { entity_type: 'environment_type', entity_ids: ['primary'] }] }),
    'Record published, only model 1423 or article, only environment type primary',
  );
  assert.equal(describeTrigger({ entity_type: 'build_trigger', event_types: ['deploy_failed'] }), 'Build trigger deploy failed');
  assert.equal(describeTrigger({ entity_type: 'future_thing', event_types: ['happen'] }), 'future_thing happen');
});

test('hourlyBuckets counts the last 24 hours by status, oldest first', () => {
  const now = Date.parse('2026-11-26T10:30:00Z');
  const call = (at, status) => ({ attributes: { created_at: at, status } });
  const buckets = hourlyBuckets([
    call('2026-11-26T10:05:00Z', 'success'),
    call('2026-11-26T10:59:59Z', 'failed'),
    call('2026-11-26T09:00:00Z', 'success'),
    call('2026-11-25T11:00:00Z', 'rescheduled'), // the first hour shown
    call('2026-11-25T10:59:59Z', 'pending'), // too old
    call('2026-11-26T11:00:00Z', 'pending'), // the future
  ], now);
  assert.equal(buckets.length, 24);
  assert.equal(buckets[0].start.toISOString(), '2026-11-25T11:00:00.000Z');
  assert.deepEqual(buckets[0].counts, { rescheduled: 1 });
  assert.deepEqual(buckets[22].counts, { success: 1 });
  assert.deepEqual(buckets[23].counts, { success: 1, failed: 1 });
  const total = buckets.reduce((n, b) => n + Object.values(b.counts).reduce((x, y) => x + y, 0), 0);
  assert.equal(total, 4);
});
