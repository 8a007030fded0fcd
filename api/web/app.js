// The one gateway connection of this tab, shared by every view (slash commands read its
// sessionId), fed into the store.
import { request } from "./api.js";
import { authEvents, expired, refresh, signedIn, stale, token, userId } from "./auth.js";
import { Gateway } from "./gateway.js";
import { applyDispatch, setConnection, setDms, setRelationships } from "./store.js";
import { showError } from "./toast.js";

let gatewayBase = null;

export const gateway = new Gateway({
  gatewayUrl: async () => {
    if (!gatewayBase) gatewayBase = (await request("GET", "/gateway", { auth: false })).url;
    return gatewayBase;
  },
  // A fresh access token for IDENTIFY/RESUME: refreshed first when about to expire. null:
  // signed out. Throws when the token has expired and could not be refreshed (the server was
  // unreachable): the gateway tries again later instead of presenting it and getting 4004.
  token: async () => {
    if (stale()) await refresh();
    if (!signedIn()) return null;
    if (expired()) throw new Error("the access token expired and could not be refreshed");
    return token();
  },
});

gateway.addEventListener("dispatch", (event) => {
  const { t, d } = event.detail;
  applyDispatch(t, d);
  if (t === "READY") loadPrivate();
});

gateway.addEventListener("state", (event) => setConnection(event.detail));

// The server refused this client for good (4010–4014): no reconnecting on every navigation.
let refused = false;
// 4004s in a row without a READY between them: each waits longer before the next try.
let tokenRetries = 0;

gateway.addEventListener("dispatch", (event) => {
  if (event.detail.t === "READY") tokenRetries = 0;
});

authEvents.addEventListener("signed-out", () => {
  refused = false;
  tokenRetries = 0;
});

// Connects unless the server refused this client for good (then only a reload tries again).
export function connectGateway() {
  if (!refused) gateway.connect();
}

// 4004: the gateway refused the access token. Usually it expired while the network was away:
// refresh and connect again. Only the refresh's answer can end the session (auth.js signs out
// when the server rejects the refresh token); a refresh that failed on the network, or a
// token refused again, only waits longer before the next try.
gateway.addEventListener("fatal", async (event) => {
  if (event.detail !== 4004) {
    refused = true;
    showError("The connection was refused: reload the page to try again.");
    return;
  }
  const wait = tokenRetries ? Math.min(60_000, 1000 * 2 ** (tokenRetries - 1)) : 0;
  tokenRetries += 1;
  const refreshed = await refresh();
  if (!signedIn()) return;
  setTimeout(() => {
    if (signedIn() && !gateway.wanted) gateway.connect();
  }, refreshed ? wait : Math.max(wait, 1000));
});

// READY's private_channels and relationships are empty for people: fetch them.
async function loadPrivate() {
  const owner = userId();
  try {
    const [dms, relationships] = await Promise.all([
      request("GET", "/users/@me/channels"),
      request("GET", "/users/@me/relationships"),
    ]);
    // Signed out (or in as someone else) meanwhile: these are not the next person's.
    if (userId() !== owner) return;
    setDms(dms || []);
    setRelationships(relationships || []);
  } catch (error) {
    showError(error);
  }
}

// The other views' modules, loaded when first needed; a module that is missing or broken
// shows an error instead of taking the whole client down with it.
const loaded = new Map();

export function feature(file) {
  if (!loaded.has(file)) {
    loaded.set(
      file,
      import(`./${file}`).catch((error) => {
        loaded.delete(file);
        console.error(`could not load ${file}`, error);
        return null;
      }),
    );
  }
  return loaded.get(file);
}

// Calls `name` of module `file` with `args`; a missing module or a failure becomes a toast.
export async function callFeature(file, name, ...args) {
  const module = await feature(file);
  if (!module || typeof module[name] !== "function") {
    showError("That part of the client is not available yet.");
    return undefined;
  }
  try {
    return await module[name](...args);
  } catch (error) {
    showError(error);
    return undefined;
  }
}
