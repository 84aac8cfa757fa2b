// JSON-RPC client of the console (docs/web-console.md, docs/admin-rpc.md §9).
// Credentials live only in this module's memory and travel as the API's
// X-VPNADMIN-* headers on every call: no cookies, no HTTP Basic (so the
// browser never caches them), and logout simply forgets them.

let creds = null; // { hub: string, password: string }
let seq = 0;

/** Set by every server-administrator answer (RustEther's header). */
export const state = { emptyAdminPassword: false };

/** Error of a call: `code` is SoftEther's error code, 401 for a refused login. */
export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export function setCredentials(hub, password) {
  creds = { hub: hub.trim(), password };
}

export function clearCredentials() {
  creds = null;
  state.emptyAdminPassword = false;
}

export function loggedInHub() {
  return creds ? creds.hub : null;
}

/**
 * Calls `method` with `params` (field names with their type suffixes) and
 * returns the `result` object; throws ApiError.
 */
export async function call(method, params = {}) {
  if (!creds) throw new ApiError(401, 'Not logged in.');
  const headers = {
    'Content-Type': 'application/json',
    'X-VPNADMIN-PASSWORD': creds.password,
  };
  if (creds.hub) headers['X-VPNADMIN-HUBNAME'] = creds.hub;
  seq += 1;
  let res;
  try {
    res = await fetch('/api/', {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: String(seq), method, params }),
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch (e) {
    throw new ApiError(0, 'The server cannot be reached: ' + e.message);
  }
  if (res.status === 401) {
    throw new ApiError(401, 'Login refused: wrong password, unknown hub, or too many attempts (wait and retry).');
  }
  if (!res.ok) throw new ApiError(res.status, 'HTTP ' + res.status + ' ' + res.statusText);
  state.emptyAdminPassword = res.headers.get('X-RustEther-Empty-Admin-Password') === '1';
  const body = await res.json();
  if (body.error) throw new ApiError(body.error.code, body.error.message);
  return body.result;
}

/** Base64 of a UTF-8 string (for `_bin` fields). */
export function toBase64(text) {
  const bytes = new TextEncoder().encode(text);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** UTF-8 text of a base64 `_bin` value. */
export function fromBase64(b64) {
  return new TextDecoder().decode(bytesFromBase64(b64));
}

/** The bytes of a base64 `_bin` value. */
export function bytesFromBase64(b64) {
  const s = atob(b64 || '');
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}
