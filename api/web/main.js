// Boot, layout and routing. The page is one shell: the guild rail, a sidebar (channels, or
// DMs at home), the main view and the member list, with phone drawers under 700 px. Routes:
//   /app/login, /app/register              signed-out screens
//   /app/channels/@me[/{channelId}]        home: DMs and friends
//   /app/channels/{guildId}[/{channelId}]  a guild's channel
//   /app/invite/{code}                     join by invite (after signing in if needed)
//   anything else (ids that are not snowflakes, malformed escapes): "not found"
import { connectGateway, feature, gateway } from "./app.js";
import { authEvents, logout, refresh, signedIn } from "./auth.js";
import { renderChannels, defaultChannel, rememberChannel } from "./channels.js";
import { appLink, clear, h, replace } from "./dom.js";
import { renderLogin, renderRegister } from "./login.js";
import { renderRail } from "./rail.js";
import { icon } from "./icons.js";
import { renderStatus } from "./status.js";
import { findChannel, markRead, publish, resetState, state, subscribe, userName } from "./store.js";
import { showError, showInfo } from "./toast.js";
import { renderUserPanel } from "./user_panel.js";

export { gateway };

const PENDING_KEY = "trioxide.after-sign-in";
const MISSING_GUILD_MS = 5_000;
// Whether the guild channel on screen was in the store (a link may come before CHANNEL_CREATE).
let shownChannelKnown = false;

// Ids in a route end up in API paths: only what ids look like (snowflakes, `@me`, invite
// codes) is a route; anything else (`..%2F…`, a malformed escape) is "not found".
const SNOWFLAKE = /^\d{1,20}$/;
const INVITE_CODE = /^[A-Za-z0-9_-]{1,64}$/;
const NOT_FOUND = { name: "notfound", guildId: null, channelId: null };

export function currentRoute() {
  let parts;
  try {
    parts = location.pathname.replace(/\/+$/, "").split("/").slice(2).map(decodeURIComponent);
  } catch {
    return NOT_FOUND; // a malformed escape (%E0%A4%A)
  }
  if (parts[0] === "channels") {
    const guildId = parts[1] || "@me";
    const channelId = parts[2] || null;
    if (parts.length > 3 || !(guildId === "@me" || SNOWFLAKE.test(guildId))) return NOT_FOUND;
    if (channelId !== null && !SNOWFLAKE.test(channelId)) return NOT_FOUND;
    return { name: "channels", guildId, channelId };
  }
  if (parts[0] === "invite" && parts[1]) {
    if (parts.length > 2 || !INVITE_CODE.test(parts[1])) return NOT_FOUND;
    return { name: "invite", code: parts[1], guildId: null, channelId: null };
  }
  if ((parts[0] === "login" || parts[0] === "register") && parts.length === 1) return { name: parts[0], guildId: null, channelId: null };
  if (parts.length === 0) return { name: "home", guildId: null, channelId: null };
  return NOT_FOUND;
}

export function navigate(path, { replace: replaceEntry = false } = {}) {
  if (path !== location.pathname) history[replaceEntry ? "replaceState" : "pushState"](null, "", path);
  route();
}

// The layout's regions, built once.
const regions = {};

function buildLayout() {
  regions.title = h("h1", { class: "topbar-title" }, "Trioxide");
  regions.topbar = h("header", { class: "topbar" },
    h("button", { type: "button", class: "icon-button", attrs: { "aria-label": "Guilds and channels", "aria-expanded": "false" }, dataset: { testid: "open-nav" }, on: { click: () => openDrawer("nav") } }, icon("menu")),
    regions.title,
    h("button", { type: "button", class: "icon-button", attrs: { "aria-label": "Members", "aria-expanded": "false" }, dataset: { testid: "open-members" }, on: { click: () => openDrawer("members") } }, icon("members")));
  regions.rail = h("nav", { id: "rail", class: "rail", attrs: { "aria-label": "Guilds" } });
  regions.sidebarContent = h("div", { class: "sidebar-content" });
  regions.userPanel = h("div", { class: "user-panel", dataset: { testid: "user-panel" } });
  regions.sidebar = h("aside", { id: "sidebar", class: "sidebar" }, regions.sidebarContent, regions.userPanel);
  regions.main = h("main", { id: "main", class: "main", tabIndex: -1 });
  // First in Tab order: past the rail and channel list straight to the conversation.
  const skip = h("button", { type: "button", class: "skip-link", on: { click: () => {
    const target = regions.main.querySelector("textarea, input, [tabindex='0']") || regions.main;
    target.focus();
  } } }, "Skip to content");
  regions.members = h("aside", { id: "members", class: "members", attrs: { "aria-label": "Members" } });
  regions.scrim = h("div", { class: "scrim", on: { click: closeDrawers } });
  regions.app = h("div", { id: "app", class: "app", hidden: true },
    skip, regions.topbar, regions.rail, regions.sidebar, regions.main, regions.members, regions.scrim);
  regions.auth = h("div", { id: "auth", class: "auth", hidden: true });
  regions.status = h("div", { id: "status", class: "status", attrs: { role: "status", "aria-live": "polite" }, dataset: { testid: "connection-status" } });
  regions.toasts = h("div", { id: "toasts", class: "toasts", attrs: { role: "alert", "aria-live": "assertive" } });
  document.body.append(regions.app, regions.auth, regions.status, regions.toasts);
  renderStatus(regions.status, gateway);
}

// Phone drawers: the page behind is inert while one is open (no Tab into it), Esc closes.
function openDrawer(which) {
  closeDrawers();
  document.body.classList.add(`${which}-open`);
  regions.topbar.querySelector(`[data-testid="open-${which}"]`).setAttribute("aria-expanded", "true");
  regions.main.inert = true;
  const panel = which === "nav" ? regions.sidebar : regions.members;
  const target = panel.querySelector('[aria-current="page"]') || panel.querySelector("a, button");
  target?.focus();
}

function closeDrawers() {
  if (!regions.main) return;
  const wasOpen = document.body.classList.contains("nav-open") || document.body.classList.contains("members-open");
  document.body.classList.remove("nav-open", "members-open");
  regions.main.inert = false;
  for (const button of regions.topbar.querySelectorAll("[aria-expanded]")) button.setAttribute("aria-expanded", "false");
  if (wasOpen && regions.app.contains(document.activeElement) && !regions.main.contains(document.activeElement)) {
    regions.main.querySelector("textarea, [tabindex]")?.focus({ preventScroll: true });
  }
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && (document.body.classList.contains("nav-open") || document.body.classList.contains("members-open"))) closeDrawers();
  // Alt+Up / Alt+Down: the previous / next channel in the list, as in Discord.
  if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown") && !regions.app.hidden) {
    const links = [...regions.sidebarContent.querySelectorAll("a[href^='/app/channels/']")];
    const at = links.findIndex((link) => link.getAttribute("aria-current") === "page");
    const next = links[at + (event.key === "ArrowUp" ? -1 : 1)];
    if (next) {
      event.preventDefault();
      navigate(next.getAttribute("href"));
    }
  }
});
matchMedia("(max-width: 699px)").addEventListener("change", () => closeDrawers());

// What is mounted now, so a route change tears down only what changed.
const mounted = { rail: null, sidebar: null, sidebarKey: null, main: null, mainKey: null, members: null, membersKey: null };

function unmount(slot) {
  generations[slot] = (generations[slot] || 0) + 1;
  if (typeof mounted[slot] === "function") mounted[slot]();
  mounted[slot] = null;
  mounted[`${slot}Key`] = null;
}

function unmountAll() {
  for (const slot of ["rail", "sidebar", "main", "members"]) unmount(slot);
}

function placeholder(el, text) {
  replace(el, h("div", { class: "placeholder", attrs: { role: "status" } }, text));
}

// Each mount of a slot gets a generation: an async render that finishes after its slot was
// unmounted (even if remounted under the same key meanwhile) cleans up after itself.
const generations = {};

// Mounts `render` into a slot unless the same key is there already. render may be async.
async function mount(slot, key, el, render) {
  if (mounted[`${slot}Key`] === key) return;
  unmount(slot);
  const generation = generations[slot];
  mounted[`${slot}Key`] = key;
  clear(el);
  let cleanup = null;
  try {
    cleanup = await render(() => generations[slot] === generation);
  } catch (error) {
    console.error(`${slot} view failed`, error);
    if (generations[slot] === generation) placeholder(el, "This view failed to load.");
  }
  if (generations[slot] === generation) mounted[slot] = cleanup;
  else if (typeof cleanup === "function") cleanup();
}

// A view from another module: (file, export name, ...args) → its cleanup.
// A feature's view, once its module is in: unless the slot moved on meanwhile (`current()`
// false), when rendering would write over the view that replaced it (a slow home.js landing
// after a click on a channel drew Friends over that channel).
async function view(current, el, file, name, ...args) {
  const module = await feature(file);
  if (!current()) return null;
  if (!module || typeof module[name] !== "function") {
    placeholder(el, "This part of the client is still being built.");
    return null;
  }
  return module[name](el, ...args);
}

function showAuth(kind, note = "") {
  unmountAll();
  gateway.close();
  regions.app.hidden = true;
  regions.auth.hidden = false;
  document.title = "Trioxide";
  const onDone = () => {
    const pending = sessionStorage.getItem(PENDING_KEY);
    sessionStorage.removeItem(PENDING_KEY);
    navigate(pending || "/app/channels/@me", { replace: true });
  };
  (kind === "register" ? renderRegister : renderLogin)(regions.auth, { onDone, note });
}

function showApp() {
  if (regions.app.hidden) {
    regions.auth.hidden = true;
    clear(regions.auth);
    regions.app.hidden = false;
  }
  if (gateway.state === "offline" && !gateway.wanted) connectGateway();
  if (!mounted.rail) {
    mounted.rail = renderRail(regions.rail, currentRoute);
    mounted.railKey = "rail";
  }
  if (!mounted.userPanel) mounted.userPanel = renderUserPanel(regions.userPanel);
}

let signOutNote = "";

async function route() {
  const r = currentRoute();
  closeDrawers();
  if (!signedIn()) {
    if (r.name === "invite" || r.name === "channels") sessionStorage.setItem(PENDING_KEY, location.pathname);
    const invited = (sessionStorage.getItem(PENDING_KEY) || "").startsWith("/app/invite/");
    const note = signOutNote || (invited ? "Sign in or register to accept the invite." : "");
    signOutNote = "";
    if (r.name !== "login" && r.name !== "register") {
      history.replaceState(null, "", r.name === "invite" ? "/app/register" : "/app/login");
    }
    showAuth(currentRoute().name === "register" ? "register" : "login", note);
    return;
  }
  if (r.name === "login" || r.name === "register" || r.name === "home") {
    navigate("/app/channels/@me", { replace: true });
    return;
  }
  showApp();
  if (r.name === "invite") {
    unmount("main");
    placeholder(regions.main, "Joining…");
    const module = await feature("guild_admin.js");
    try {
      const guildId = module ? await module.joinByInvite(r.code) : null;
      navigate(guildId ? `/app/channels/${guildId}` : "/app/channels/@me", { replace: true });
    } catch (error) {
      showError(error);
      navigate("/app/channels/@me", { replace: true });
    }
    return;
  }
  publish("route", r);
  if (r.name === "notfound") routeNotFound();
  else if (r.guildId === "@me") routeHome(r);
  else routeGuild(r);
}

function routeNotFound() {
  regions.title.textContent = "Not found";
  document.title = "Not found · Trioxide";
  regions.app.classList.add("no-members");
  unmount("members");
  unmount("main");
  mount("sidebar", "home", regions.sidebarContent, (current) => view(current, regions.sidebarContent, "home.js", "renderHome", h("div")));
  replace(regions.main, h("div", { class: "placeholder not-found", attrs: { role: "status" }, dataset: { testid: "not-found" } },
    h("p", {}, "There is nothing at this address: the link may be broken."),
    appLink("/app/channels/@me", { class: "button", dataset: { testid: "not-found-home" } }, "Go home")));
}

function routeHome(r) {
  regions.title.textContent = "Home";
  document.title = "Trioxide";
  unmount("members");
  regions.app.classList.add("no-members");
  if (r.channelId) {
    // A DM: the home sidebar stays; its own main view (friends) renders off-screen, unused.
    mount("sidebar", "home", regions.sidebarContent, (current) => view(current, regions.sidebarContent, "home.js", "renderHome", h("div")));
    mount("main", `channel:${r.channelId}`, regions.main, (current) => view(current, regions.main, "messages.js", "renderChannel", r.channelId));
    const channel = findChannel(r.channelId);
    // The top bar names the place (the channel view has its own header); the tab, the DM.
    regions.title.textContent = "Direct messages";
    if (channel) document.title = `${dmTitle(channel)} · Trioxide`;
    markRead(r.channelId);
  } else {
    // Home's sidebar and main belong together: remount both when coming back from a DM.
    unmount("main");
    unmount("sidebar");
    mounted.mainKey = "home";
    mount("sidebar", "home-friends", regions.sidebarContent, (current) => view(current, regions.sidebarContent, "home.js", "renderHome", regions.main));
  }
}

function dmTitle(channel) {
  const names = (channel.recipients || []).map((u) => userName(u.id));
  return channel.name || names.join(", ") || "Direct message";
}

function routeGuild(r) {
  regions.app.classList.remove("no-members");
  const guild = state.guilds.get(r.guildId);
  regions.title.textContent = guild?.name || "Trioxide";
  mount("sidebar", `guild:${r.guildId}`, regions.sidebarContent, () => renderChannels(regions.sidebarContent, r.guildId, currentRoute));
  mount("members", `members:${r.guildId}`, regions.members, (current) => view(current, regions.members, "members.js", "renderMembers", r.guildId));
  if (!guild || guild.unavailable) {
    unmount("main");
    placeholder(regions.main, "Loading…");
    // Just joined, its GUILD_CREATE is on the way; or no such guild of theirs at all.
    if (state.ready && !guild) {
      setTimeout(() => {
        const now = currentRoute();
        if (now.guildId === r.guildId && !state.guilds.has(r.guildId)) placeholder(regions.main, "You are not in this guild, or it no longer exists.");
      }, MISSING_GUILD_MS);
    }
    return;
  }
  if (!r.channelId) {
    const first = defaultChannel(guild);
    if (first) navigate(`/app/channels/${guild.id}/${first.id}`, { replace: true });
    else {
      unmount("main");
      placeholder(regions.main, "This guild has no channel you can see.");
    }
    return;
  }
  const channel = guild.channels.get(r.channelId);
  shownChannelKnown = Boolean(channel);
  regions.title.textContent = guild.name;
  document.title = channel ? `#${channel.name} · ${guild.name}` : guild.name;
  rememberChannel(guild.id, r.channelId);
  markRead(r.channelId);
  mount("main", `channel:${r.channelId}`, regions.main, (current) => view(current, regions.main, "messages.js", "renderChannel", r.channelId));
}

// Messages arriving in the channel on screen are read as they come.
subscribe("unread", (channelId) => {
  const r = currentRoute();
  if (channelId && channelId === r.channelId && document.visibilityState === "visible") markRead(channelId);
});

// The guild on screen arrived (GUILD_CREATE after a reload) or went away (left, kicked).
subscribe("guilds", (guildId) => {
  const r = currentRoute();
  if (r.name !== "channels" || r.guildId === "@me" || !signedIn()) return;
  if (guildId === null || guildId === r.guildId) {
    if (state.ready && !state.guilds.has(r.guildId) && guildId === r.guildId) {
      showInfo("You are no longer in that guild.");
      navigate("/app/channels/@me", { replace: true });
      return;
    }
    const guild = state.guilds.get(r.guildId);
    // The channel on screen was deleted (or hidden from them): on to the guild's default.
    if (guild && r.channelId && shownChannelKnown && !guild.channels.has(r.channelId)) {
      navigate(`/app/channels/${r.guildId}`, { replace: true });
      return;
    }
    if (!mounted.mainKey || !mounted.mainKey.startsWith("channel:")) route();
    else if (guild && r.channelId) shownChannelKnown = guild.channels.has(r.channelId);
  }
});

// A fresh session (READY after IDENTIFY, not after RESUME): every view reloads.
subscribe("reset", () => {
  if (!signedIn()) return;
  unmount("main");
  unmount("sidebar");
  unmount("members");
  route();
});

authEvents.addEventListener("signed-out", (event) => {
  signOutNote = event.detail || "";
  unmountAll();
  if (typeof mounted.userPanel === "function") mounted.userPanel();
  mounted.userPanel = null;
  gateway.close();
  // Whoever signs in next in this tab starts from nothing of this person's.
  resetState();
  navigate("/app/login", { replace: true });
});

// Signed in from another tab: this one follows (its own sign-ins route through onDone).
authEvents.addEventListener("signed-in", (event) => {
  if (event.detail === "other-tab") navigate("/app/channels/@me", { replace: true });
});

document.addEventListener("app-navigate", (event) => navigate(event.detail));
window.addEventListener("popstate", () => route());

async function boot() {
  buildLayout();
  // A stored session may be stale, or spent (another copy used it): rotate it first, so a
  // reused refresh token signs out here before anything is shown.
  const stored = signedIn();
  if (stored) {
    // What the first screen needs starts now, alongside the token's rotation (the gateway's
    // IDENTIFY waits for that same refresh).
    gateway.connect();
    const first = currentRoute();
    if (first.name === "channels" && (first.channelId || first.guildId !== "@me")) feature("messages.js");
    if (first.name === "channels" && first.guildId !== "@me") feature("members.js");
    if (first.name === "channels" && first.guildId === "@me") feature("home.js");
    await refresh();
  }
  // A failed refresh has routed to sign-in already (with its message).
  if (!stored || signedIn()) route();
}

export { logout };

boot();
