// The one gateway connection of this tab, shared by every view (slash commands read its
// sessionId), fed into the store.
import { request } from "./api.js";
import { refresh, stale, token } from "./auth.js";
import { Gateway } from "./gateway.js";
import { applyDispatch, setConnection, setDms, setRelationships } from "./store.js";
import { showError } from "./toast.js";

let gatewayBase = null;

export const gateway = new Gateway({
  gatewayUrl: async () => {
    if (!gatewayBase) gatewayBase = (await request("GET", "/gateway", { auth: false })).url;
    return gatewayBase;
  },
  // A fresh access token for IDENTIFY/RESUME: refreshed first when about to expire.
  token: async () => {
    if (stale()) await refresh();
    return token();
  },
});

gateway.addEventListener("dispatch", (event) => {
  const { t, d } = event.detail;
  applyDispatch(t, d);
  if (t === "READY") loadPrivate();
});

gateway.addEventListener("state", (event) => setConnection(event.detail));

// READY's private_channels and relationships are empty for people: fetch them.
async function loadPrivate() {
  try {
    const [dms, relationships] = await Promise.all([
      request("GET", "/users/@me/channels"),
      request("GET", "/users/@me/relationships"),
    ]);
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
