// The console's only way in: the documented JSON API, called with the session cookie. Every change
// carries the session's CSRF token; creates that move money or goods carry an Idempotency-Key.

let csrfToken = null;
const unauthorized = new Set();

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function setCsrf(token) { csrfToken = token || null; }
export function onUnauthorized(fn) { unauthorized.add(fn); }

/** A fresh idempotency key (crypto.randomUUID needs a secure context; plain http on a LAN is not one). */
export function newKey() {
  if (window.crypto.randomUUID) return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function request(method, path, { body, query, idempotencyKey, ifMatch } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  if (ifMatch) headers['If-Match'] = ifMatch;
  const response = await fetch(withQuery(path, query), {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) {
    if (response.status === 401 && path.startsWith('/v1/')) for (const fn of unauthorized) fn();
    throw new ApiError(response.status, typeof data === 'object' && data ? data : { detail: String(data) });
  }
  return data;
}

export const get = (path, query) => request('GET', path, { query });
export const post = (path, body, options = {}) => request('POST', path, { ...options, body });
export const del = (path) => request('DELETE', path);

/**
 * A file as the request's body, its bytes as they are (imports): `contentType` says what they are, `key` is the
 * Idempotency-Key (a fresh one per file; the same one only to retry it); the answer is the JSON, as request() gives.
 */
export async function upload(path, file, contentType, key, { query, language } = {}) {
  const headers = { Accept: 'application/json', 'Content-Type': contentType, 'Idempotency-Key': key };
  if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (language) headers['Accept-Language'] = language;
  const response = await fetch(withQuery(path, query), {
    method: 'POST', headers, credentials: 'same-origin', body: file,
  });
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) {
    if (response.status === 401) for (const fn of unauthorized) fn();
    throw new ApiError(response.status, typeof data === 'object' && data ? data : { detail: String(data) });
  }
  return data;
}

/** Every page of a list (bounded: a screen shows at most maxPages × limit rows). */
export async function getAll(path, query = {}, maxPages = 10) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const result = await get(path, { limit: 200, ...query, cursor });
    items.push(...result.items);
    cursor = result.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/**
 * An Idempotency-Key that lives until the server gives a definite answer: a retry after a network failure,
 * a 5xx, or a 409 saying the first request with this key is still running sends the same key (so it can
 * never count twice); any other answer (a refusal such as 409 `insufficient` included) starts a fresh one.
 */
export function idempotent() {
  let key = newKey();
  return async (send) => {
    try {
      const result = await send(key);
      key = newKey();
      return result;
    } catch (error) {
      const running = error instanceof ApiError && error.status === 409
        && String(error.problem?.type || '').endsWith('idempotency-in-progress');
      if (error instanceof ApiError && error.status < 500 && !running) key = newKey();
      throw error;
    }
  };
}
