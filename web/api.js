// The REST API as the dashboard uses it (docs/api.md): JSON in and out, with the bearer token
// if one was given (auth.js), and failures as ApiError carrying the server's code, message and
// path (the JSON Pointer of what was wrong). A 401 asks for a token.
import { askForToken, token } from './auth.js';

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.path = e.path || '';
  }
}

export async function api(method, path, body) {
  const init = { method, headers: {} };
  const sentToken = token();
  if (sentToken) init.headers.Authorization = `Bearer ${sentToken}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, { error: { code: 'unreachable', message: 'the daemon cannot be reached' } });
  }
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    if (response.status === 401) askForToken(error.message, Boolean(sentToken));
    throw error;
  }
  return json;
}

const id = encodeURIComponent;
export const listBatches = (query) => api('GET', '/api/v1/batches?' + new URLSearchParams(query));
export const getBatch = (batch) => api('GET', `/api/v1/batches/${id(batch)}`);
export const listSessions = (batch, query) =>
  api('GET', `/api/v1/batches/${id(batch)}/sessions?` + new URLSearchParams(query));
// Where a batch's export is downloaded from (docs/api.md, "GET /api/v1/batches/{id}/results").
export const resultsUrl = (batch, format) =>
  `/api/v1/batches/${id(batch)}/results?format=${encodeURIComponent(format)}`;
export const getSession = (session) => api('GET', `/api/v1/sessions/${id(session)}`);
export const batchAction = (batch, action) => api('POST', `/api/v1/batches/${id(batch)}/${action}`);
export const submitBatch = (text) => api('POST', '/api/v1/batches', text);
export const listNodes = () => api('GET', '/api/v1/nodes');
export const readEvents = (query) => api('GET', '/api/v1/events?' + new URLSearchParams(query));

// A slice of a session's stdout or stderr (GET /api/v1/sessions/{id}/log): the bytes, and
// where the next slice starts and whether the log is complete (from the answer's headers).
// `signal` aborts a waiting follow when the panel moves on.
export async function readLog(session, query, signal) {
  const headers = {};
  const sentToken = token();
  if (sentToken) headers.Authorization = `Bearer ${sentToken}`;
  let response;
  try {
    response = await fetch(`/api/v1/sessions/${id(session)}/log?` + new URLSearchParams(query), { headers, signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, { error: { code: 'unreachable', message: 'the daemon cannot be reached' } });
  }
  if (!response.ok) {
    let json = null;
    try { json = await response.json(); } catch { json = null; }
    const error = new ApiError(response.status, json);
    if (response.status === 401) askForToken(error.message, Boolean(sentToken));
    throw error;
  }
  const h = (name) => response.headers.get(name);
  return {
    bytes: new Uint8Array(await response.arrayBuffer()),
    next: Number(h('Batchd-Log-Next-Offset')),
    complete: h('Batchd-Log-Complete') === 'true',
    restarted: h('Batchd-Log-Restarted') === 'true',
  };
}
