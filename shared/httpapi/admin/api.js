// The page's client for Herald's public API: the same endpoints, the same
// token, the same JSON:API documents as any other client.

const TOKEN_KEY = 'herald.token';

// The API lives beside the page: the page is served at / and /admin, so the
// directory of the document is the API's root (with or without an API
// Gateway stage prefix).
const apiRoot = new URL('.', document.baseURI);

// The token is kept for this browser tab only.
export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY) || ''; },
  signIn(token) { sessionStorage.setItem(TOKEN_KEY, token); },
  signOut() { sessionStorage.removeItem(TOKEN_KEY); },
};

// ApiError is a failed API call: status, and the DatoCMS error entries as
// {code, field, fieldCode, message}.
export class ApiError extends Error {
  constructor(status, problems) {
    super(problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; ') || `HTTP ${status}`);
    this.status = status;
    this.problems = problems;
  }
}

let onUnauthorized = () => {};
// whenUnauthorized sets what happens when the API refuses the token.
export function whenUnauthorized(fn) { onUnauthorized = fn; }

// api calls the API and returns the decoded JSON document (null for an
// empty answer). A refused token signs the tab out.
export async function api(path, { method = 'GET', body, query, token } = {}) {
  const url = new URL(path.replace(/^\//, ''), apiRoot);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token ?? session.token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/vnd.api+json';
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, [{ code: 'NETWORK', message: `Herald could not be reached (${err.message}).` }]);
  }
  const text = await res.text();
  let doc = null;
  if (text) {
    try {
      doc = JSON.parse(text);
    } catch {
      doc = null;
    }
  }
  if (res.ok) return doc;
  const problems = Array.isArray(doc?.data)
    ? doc.data.map((e) => ({
      code: e.attributes?.code,
      field: e.attributes?.details?.field,
      fieldCode: e.attributes?.details?.code,
      message: e.attributes?.details?.message || e.attributes?.code || `HTTP ${res.status}`,
    }))
    : [{ code: `HTTP_${res.status}`, message: doc?.message || `Herald answered ${res.status}.` }];
  const err = new ApiError(res.status, problems);
  if (res.status === 401 && token === undefined) onUnauthorized(err);
  throw err;
}

let typesPromise;
// domainTypes is Herald's table of entity, event and filter types, served
// beside the page by the API function.
export function domainTypes() {
  typesPromise ??= fetch(new URL('./types.json', import.meta.url)).then((r) => {
    if (!r.ok) throw new Error(`types.json: HTTP ${r.status}`);
    return r.json();
  });
  return typesPromise;
}

// everyCall pages through the calls a query selects, up to max of them,
// and returns them with the total the API counted.
export async function everyCall(query, max) {
  const calls = [];
  let total = 0;
  const limit = 500;
  for (let offset = 0; offset < max; offset += limit) {
    const doc = await api('webhook_calls', { query: { ...query, 'page[limit]': Math.min(limit, max - offset), 'page[offset]': offset } });
    total = doc.meta?.total_count ?? 0;
    calls.push(...doc.data);
    if (doc.data.length === 0 || calls.length >= total) break;
  }
  return { calls, total };
}
