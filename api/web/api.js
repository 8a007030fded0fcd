// Trioxide's HTTP API v10, as any client speaks it: JSON in and out, the person's bearer token,
// one refresh and retry on 401, and errors turned into sentences the person can act on.
import { refresh, signedIn, token } from "./auth.js";

export const API_BASE = "/api/v10";

export class ApiError extends Error {
  constructor({ status, code = 0, message = "", errors = null, retryAfter = null }) {
    super(message || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.errors = errors;
    this.retryAfter = retryAfter;
  }
}

// Discord's nested form errors ({field: {_errors: [{message}]}}) as "field: message" lines.
export function fieldErrors(errors, prefix = "") {
  const found = [];
  if (!errors || typeof errors !== "object") return found;
  for (const [key, value] of Object.entries(errors)) {
    if (key === "_errors" && Array.isArray(value)) {
      for (const e of value) found.push({ field: prefix, message: e.message || e.code });
    } else {
      found.push(...fieldErrors(value, prefix ? `${prefix}.${key}` : key));
    }
  }
  return found;
}

const PERMISSION_CODES = { 50013: "You don't have the permission this needs.", 50001: "You don't have access to that." };

// needs: the permission's name as the person sees it ("Kick Members"), when the call site knows
// which one the action takes (the server only ever says "Missing Permissions").
export function describe(error, { needs = null } = {}) {
  if (!(error instanceof ApiError)) return error && error.message ? error.message : "Something went wrong.";
  if (error.status === 0) return "Can't reach the server: check your connection and try again.";
  if (error.status === 429) {
    const wait = Math.max(1, Math.ceil(error.retryAfter || 1));
    return `You are going too fast: try again in ${wait} s.`;
  }
  const fields = fieldErrors(error.errors);
  if (fields.length) return fields.map((f) => (f.field ? `${f.field}: ${f.message}` : f.message)).join(" ");
  if (error.code === 50013) {
    if (needs) return `You need the ${needs} permission for that.`;
    return error.message && error.message !== "Missing Permissions"
      ? `${error.message}.`
      : PERMISSION_CODES[50013];
  }
  if (PERMISSION_CODES[error.code]) return PERMISSION_CODES[error.code];
  if (error.status === 401) return "Your session has ended: sign in again.";
  if (error.status >= 500) return "The server had a problem: try again in a moment.";
  return error.message || `Request failed (${error.status}).`;
}

// A path the URL parser would rewrite (a `..` segment, `?`, `#`, a backslash) or that the server
// would decode into more segments (an encoded slash or dot) is never sent: ids pasted into a
// path come from links, and a crafted one must not reach another endpoint.
const UNSAFE_ESCAPES = /%(2f|5c|2e|3f|23|00)/i;

function checkedPath(path) {
  const wanted = API_BASE + path;
  let url = null;
  try {
    url = new URL(wanted, location.origin);
  } catch {
    url = null;
  }
  if (typeof path !== "string" || !path.startsWith("/") || UNSAFE_ESCAPES.test(path) || !url
    || url.origin !== location.origin || url.pathname !== wanted || url.search || url.hash) {
    throw new ApiError({ status: 400, message: "That address is not valid." });
  }
  return wanted;
}

function buildUrl(path, query) {
  const url = new URL(checkedPath(path), location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
  }
  return url.pathname + url.search;
}

async function errorFrom(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  const header = Number(response.headers.get("Retry-After"));
  return new ApiError({
    status: response.status,
    code: body.code || 0,
    message: body.message || response.statusText,
    errors: body.errors || null,
    retryAfter: body.retry_after ?? (Number.isFinite(header) ? header : null),
  });
}

async function send(method, path, { json, query, form, auth }) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // FormData: the browser sets the multipart boundary
  }
  if (auth && token()) headers.Authorization = `Bearer ${token()}`;
  try {
    return await fetch(buildUrl(path, query), { method, headers, body });
  } catch {
    throw new ApiError({ status: 0, message: "network error" });
  }
}

export async function request(method, path, { json, query, form, auth = true } = {}) {
  checkedPath(path);
  let response = await send(method, path, { json, query, form, auth });
  if (response.status === 401 && auth) {
    // The access token expired (or was about to): one refresh, one retry.
    if (await refresh()) response = await send(method, path, { json, query, form, auth });
    // Still signed in but not refreshed: the refresh could not reach the server, which says
    // nothing about the session (a "sign in again" here would be wrong).
    else if (signedIn()) throw new ApiError({ status: 0, message: "network error" });
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// Uploads through XMLHttpRequest: fetch reports no upload progress.
export function upload(path, formData, onProgress = () => {}, method = "POST") {
  let url;
  try {
    url = checkedPath(path);
  } catch (error) {
    return Promise.reject(error);
  }
  const attempt = () =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      if (token()) xhr.setRequestHeader("Authorization", `Bearer ${token()}`);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
      xhr.addEventListener("load", () => resolve(xhr));
      xhr.addEventListener("error", () => reject(new ApiError({ status: 0, message: "network error" })));
      xhr.send(formData);
    });
  const parse = (xhr) => {
    let body = {};
    try {
      body = xhr.responseText ? JSON.parse(xhr.responseText) : {};
    } catch {
      body = {};
    }
    if (xhr.status >= 200 && xhr.status < 300) return body;
    throw new ApiError({
      status: xhr.status,
      code: body.code || 0,
      message: body.message || xhr.statusText,
      errors: body.errors || null,
      retryAfter: body.retry_after ?? null,
    });
  };
  return attempt().then(async (xhr) => {
    if (xhr.status === 401 && (await refresh())) return parse(await attempt());
    return parse(xhr);
  });
}
