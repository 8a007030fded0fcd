// The person's session: tokens in localStorage (so a reload stays signed in), refreshed ahead
// of the access token's expiry and on 401. Refresh tokens rotate; presenting a spent one makes
// the server revoke the whole family, and then the only way on is signing in again.
import { request } from "./api.js";

const KEY = "trioxide.auth";
const EARLY_MS = 60_000; // refresh this long before the access token expires

export const authEvents = new EventTarget();

let session = load();
let refreshing = null;
let timer = null;

function load() {
  try {
    const found = JSON.parse(localStorage.getItem(KEY) || "null");
    return found && found.token && found.refresh_token ? found : null;
  } catch {
    return null;
  }
}

function save(pair, userId) {
  session = {
    token: pair.token,
    refresh_token: pair.refresh_token,
    user_id: String(userId ?? pair.user_id ?? session?.user_id ?? ""),
    expires_at: Date.now() + Number(pair.expires_in || 900) * 1000,
  };
  localStorage.setItem(KEY, JSON.stringify(session));
  schedule();
}

function schedule() {
  clearTimeout(timer);
  if (!session) return;
  const wait = Math.max(0, (session.expires_at || 0) - Date.now() - EARLY_MS);
  timer = setTimeout(() => refresh(), wait);
}

export function signedIn() {
  return session !== null;
}

export function token() {
  return session ? session.token : null;
}

export function userId() {
  return session ? session.user_id : null;
}

// Whether the access token is (about to be) expired: then refresh before using it.
export function stale() {
  return !session || !session.expires_at || session.expires_at - Date.now() < EARLY_MS;
}

export async function register(form) {
  const body = await request("POST", "/auth/register", { json: form, auth: false });
  save(body, body.user.id);
  authEvents.dispatchEvent(new CustomEvent("signed-in", { detail: body.user }));
  return body.user;
}

export async function login(loginName, password) {
  const body = await request("POST", "/auth/login", { json: { login: loginName, password }, auth: false });
  save(body, body.user_id);
  authEvents.dispatchEvent(new CustomEvent("signed-in", { detail: null }));
  return body.user_id;
}

function signOut(reason) {
  clearTimeout(timer);
  session = null;
  localStorage.removeItem(KEY);
  authEvents.dispatchEvent(new CustomEvent("signed-out", { detail: reason }));
}

export async function logout() {
  const spent = session?.refresh_token;
  signOut("");
  if (spent) {
    try {
      await request("POST", "/auth/logout", { json: { refresh_token: spent }, auth: false });
    } catch {
      // Signed out here already; the server's session expires on its own.
    }
  }
}

// Single-flight: concurrent 401s share one refresh. Resolves true when a new pair was stored.
export function refresh() {
  if (!session) return Promise.resolve(false);
  if (!refreshing) {
    refreshing = exclusive(rotate).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

// Whether the access token is past its expiry: no use presenting it anywhere.
export function expired() {
  return !session || !session.expires_at || session.expires_at <= Date.now();
}

// Tabs of one browser share one session: one rotation at a time across all of them (a Web
// Lock where the browser has them), so no tab presents a refresh token another just spent.
function exclusive(fn) {
  if (navigator.locks?.request) return navigator.locks.request("trioxide-refresh", fn);
  return fn();
}

// The stored pair, when another tab rotated since this one last looked (a frozen or
// throttled tab may have missed the storage event): adopted instead of presenting a spent one.
function adoptStored(presented) {
  const other = load();
  if (!other || other.refresh_token === presented || (session && other.user_id !== session.user_id)) return false;
  session = other;
  schedule();
  return true;
}

async function rotate() {
  if (!session) return false;
  const before = session.refresh_token;
  // Rotated elsewhere meanwhile and still fresh: nothing to present.
  if (adoptStored(before) && !stale()) return true;
  const presented = session.refresh_token;
  try {
    const body = await request("POST", "/auth/refresh", { json: { refresh_token: presented }, auth: false });
    // Signed out (or in as someone else) while the request was out: not ours to store.
    if (!session || session.refresh_token !== presented) return false;
    save(body, body.user_id);
    return true;
  } catch (error) {
    if (error.status === 0 || error.status >= 500 || error.status === 429) {
      // Not an answer about the token: keep it, try again soon.
      clearTimeout(timer);
      timer = setTimeout(() => refresh(), 5_000);
      return false;
    }
    // Another tab may have rotated it meanwhile and stored the new pair: adopt that.
    if (adoptStored(presented)) return true;
    signOut("Your session ended or was used elsewhere: sign in again.");
    return false;
  }
}

// Another tab signed in, out or rotated: follow it.
window.addEventListener("storage", (event) => {
  if (event.key !== KEY) return;
  const other = load();
  if (!other && session) signOut("");
  else if (other) {
    const was = session;
    // Another person signed in there: this tab's person is gone first (their data with them).
    if (was && other.user_id !== was.user_id) signOut("");
    session = other;
    schedule();
    if (!was || other.user_id !== was.user_id) authEvents.dispatchEvent(new CustomEvent("signed-in", { detail: "other-tab" }));
  }
});

// A signed-out end from outside (the gateway's 4004): same as a failed refresh.
export function expire(reason) {
  if (session) signOut(reason);
}

schedule();
