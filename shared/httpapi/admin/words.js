// Names people read for Herald's entity, event and filter types. The types
// themselves come from types.json; a type without a name here shows as is.

const ENTITY = {
  item: ['Record', 'record'],
  item_type: ['Model', 'model'],
  upload: ['Upload', 'upload'],
  build_trigger: ['Build trigger', 'build trigger'],
  environment: ['Environment', 'environment'],
  maintenance_mode: ['Maintenance mode', 'maintenance mode'],
  sso_user: ['SSO user', 'SSO user'],
  cda_cache_tags: ['CDA cache tags', 'CDA cache tags'],
  webhook: ['Webhook', 'webhook'],
};

const EVENT = {
  create: 'created',
  update: 'updated',
  delete: 'deleted',
  publish: 'published',
  unpublish: 'unpublished',
  promote: 'promoted',
  change: 'changed',
  invalidate: 'invalidated',
  deploy_started: 'deploy started',
  deploy_succeeded: 'deploy succeeded',
  deploy_failed: 'deploy failed',
  // Herald's operational events about a webhook.
  failing: 'failing',
  exhausted: 'out of retries',
  disabled: 'disabled',
  recovered: 'recovered',
  ping: 'test send',
};

const FILTER = {
  item: ['Records', 'record'],
  item_type: ['Models', 'model'],
  build_trigger: ['Build triggers', 'build trigger'],
  environment: ['Environments', 'environment'],
  environment_type: ['Environment type', 'environment type'],
};

export const entityName = (t) => ENTITY[t]?.[0] ?? t;
export const eventName = (t) => EVENT[t] ?? t;
export const filterName = (t) => FILTER[t]?.[0] ?? t;

// orList joins words as "a, b or c".
export function orList(words) {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

// describeTrigger says a trigger in words: "Record created or updated, only
// model article or 1423".
export function describeTrigger(t) {
  const events = orList((t.event_types || []).map(eventName));
  let text = `${entityName(t.entity_type)} ${events}`;
  for (const f of t.filters || []) {
    text += `, only ${FILTER[f.entity_type]?.[1] ?? f.entity_type} ${orList(f.entity_ids || [])}`;
  }
  return text;
}

// eventLabel names an event type of an entity: "Record updated".
export const eventLabel = (entity, event) => `${entityName(entity)} ${eventName(event)}`;
