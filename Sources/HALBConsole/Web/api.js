// The console's REST API as the page uses it: JSON in and out, the session cookie, the CSRF header on changes,
// and one error type carrying the API's reason and issues.

const BASE = '/api/v1';

let csrfToken = null;
let unauthorizedHandler = () => {};

/** An API failure: `status` (0 when the console could not be reached), `message`, and `issues` (422). */
export class ApiError extends Error {
  constructor(status, message, issues = []) {
    super(message);
    this.status = status;
    this.issues = issues;
  }
}

export function setCsrfToken(token) {
  csrfToken = token;
}

/** `handler` runs on any 401 but those of the session itself (the sign-in form handles its own). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/**
 * Sends one request. `path` is relative to /api/v1. Options: `body` (sent as JSON), `ifMatch` (a site version,
 * sent as the If-Match the API requires on changes to a site), `signal` (an AbortSignal).
 * Resolves to `{status, data, version}`: the parsed body (null when empty) and the ETag's site version (or null).
 */
export async function request(method, path, { body, ifMatch, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (ifMatch != null) headers['If-Match'] = `"${ifMatch}"`;
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'Cannot reach the console.');
  }
  const text = await response.text().catch(() => '');
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (response.status === 401 && !path.startsWith('/session')) unauthorizedHandler();
    const message = (data && typeof data.error === 'string' && data.error) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, (data && Array.isArray(data.issues) && data.issues) || []);
  }
  const etag = response.headers.get('ETag');
  const version = etag ? Number.parseInt(etag.replace(/\D/g, ''), 10) : null;
  return { status: response.status, data, version: Number.isFinite(version) ? version : null };
}

/** GET `path` and resolve to its body. */
export async function get(path, options) {
  return (await request('GET', path, options)).data;
}

/** `/sites/<site>` with every part URL-encoded. */
export function sitePath(site, ...parts) {
  return ['/sites', site, ...parts].map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join('/');
}
