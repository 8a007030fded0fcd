// The member list of a guild, grouped online/offline, and the small menu a click on a member
// opens (message, friend, block, and kick/ban where the viewer may).
import { h, replace } from "./dom.js";
import { request, describe } from "./api.js";
import { state, subscribe, permissions, setDms } from "./store.js";
import { showError, showInfo } from "./toast.js";
import { openDialog } from "./dialog.js";
import { gateway } from "./app.js";
import { openProfile } from "./profile.js";

// Discord's permission bits this module needs (store.js's PERMS may not name them all).
export const BITS = {
  CREATE_INSTANT_INVITE: 1n << 0n,
  KICK_MEMBERS: 1n << 1n,
  BAN_MEMBERS: 1n << 2n,
  ADMINISTRATOR: 1n << 3n,
  MANAGE_CHANNELS: 1n << 4n,
  MANAGE_GUILD: 1n << 5n,
  MANAGE_ROLES: 1n << 28n,
};

/** Whether the viewer holds `name` in the guild (or channel): owner and admins hold all. */
export function holds(guildId, name, channelId) {
  let perms;
  try {
    perms = BigInt(permissions(guildId, channelId) ?? 0n);
  } catch {
    return false;
  }
  if ((perms & BITS.ADMINISTRATOR) === BITS.ADMINISTRATOR) return true;
  return (perms & BITS[name]) === BITS[name];
}

/** An id as one segment of an API path (ids come from links and dispatches). */
export const seg = (id) => encodeURIComponent(String(id));

// The position of a member's highest role; @everyone's 0 when they hold none (as the server).
function topPosition(guild, member) {
  let top = 0;
  for (const id of member?.roles ?? []) top = Math.max(top, guild.roles?.get?.(id)?.position ?? 0);
  return top;
}

/** Whether the viewer may act on `member` at all: the server lets people manage only those
 * whose highest role sits below their own (the owner outranks everyone, and nobody them). */
export function outranks(guild, member) {
  if (!guild || !member?.user || guild.owner_id === member.user.id) return false;
  if (guild.owner_id === state.me?.id) return true;
  return topPosition(guild, guild.members.get(state.me?.id)) > topPosition(guild, member);
}

const ONLINE = new Set(["online", "idle", "dnd"]);
// Discord's relationship types (the store holds them by user id; the server sends no
// RELATIONSHIP_* dispatches, so what this module does it notes there itself).
const FRIEND = 1;
const BLOCKED = 2;
const INCOMING = 3;
const OUTGOING = 4;

export function displayName(member) {
  const user = member?.user ?? member ?? {};
  return member?.nick || user.global_name || user.username || "Someone";
}

/** The colour of the member's highest coloured role, as a CSS colour, or null. */
function roleColour(guild, member) {
  let best = null;
  for (const id of member.roles ?? []) {
    const role = guild.roles?.get?.(id);
    if (role && role.color && (best === null || role.position > best.position)) best = role;
  }
  return best ? `#${best.color.toString(16).padStart(6, "0")}` : null;
}

function statusOf(guild, userId) {
  const found = guild.presences?.get?.(userId);
  const status = typeof found === "string" ? found : found?.status;
  if (status) return status;
  return userId === state.me?.id ? "online" : "offline";
}

export function renderMembers(el, guildId) {
  // GUILD_CREATE carries no presences: the gateway is asked for the members with theirs once
  // the guild is there and the session identified (an op 8 before READY would end it).
  let asked = false;
  let pending = false;
  // Set by the cleanup: a REST answer or a queued draw landing after it must not paint the
  // next guild's list over with this one's.
  let stopped = false;
  const draw = () => {
    pending = false;
    if (stopped) return;
    const guild = state.guilds.get(guildId);
    if (!guild) return replace(el);
    if (!asked && !guild.unavailable && gateway.state === "connected") {
      asked = gateway.send(8, { guild_id: guildId, query: "", limit: 0, presences: true });
    }
    const members = [...guild.members.values()].filter((m) => m?.user);
    const sorted = members.sort((a, b) => displayName(a).localeCompare(displayName(b)));
    const online = sorted.filter((m) => ONLINE.has(statusOf(guild, m.user.id)));
    const offline = sorted.filter((m) => !ONLINE.has(statusOf(guild, m.user.id)));
    // A re-draw keeps the keyboard where it was.
    const focused = el.contains(document.activeElement) ? document.activeElement.dataset.userId : null;
    replace(el,
      h("div", { class: "member-groups" },
        group(guild, `Online — ${online.length}`, online, "members-online"),
        group(guild, `Offline — ${offline.length}`, offline, "members-offline")));
    if (focused) el.querySelector(`[data-user-id="${CSS.escape(focused)}"]`)?.focus();
  };
  // One draw for a burst of changes (a member change announces two topics, chunks many).
  const schedule = () => {
    if (pending || stopped) return;
    pending = true;
    queueMicrotask(draw);
  };
  const unsubscribe = [
    subscribe(`members:${guildId}`, schedule),
    subscribe(`guild:${guildId}`, schedule),
    subscribe("guilds", schedule),
    subscribe("connection", (now) => {
      if (now !== "connected") asked = false;
      schedule();
    }),
    // Someone who joins now is not among the presences asked for: ask for theirs.
    subscribe("dispatch", ({ t, d }) => {
      if (t === "GUILD_MEMBER_ADD" && d.guild_id === guildId && d.user) {
        gateway.send(8, { guild_id: guildId, user_ids: [d.user.id], presences: true });
      }
    }),
  ];
  draw();
  // The REST list too, in case the gateway's is partial (a large guild).
  // (What it brings belongs in the store whichever guild is shown by then.)
  request("GET", `/guilds/${seg(guildId)}/members`, { query: { limit: 1000 } })
    .then((list) => {
      const guild = state.guilds.get(guildId);
      if (!guild) return;
      for (const member of list ?? []) {
        if (member?.user && !guild.members.has(member.user.id)) guild.members.set(member.user.id, member);
      }
      if (!stopped) schedule();
    })
    .catch(() => {}); // the gateway's view is enough to show
  return () => {
    stopped = true;
    unsubscribe.forEach((off) => off());
  };
}

function group(guild, title, members, testid) {
  const headingId = `${testid}-${guild.id}`;
  return h("section", { class: "members-group", dataset: { testid } },
    h("h3", { class: "members-heading", id: headingId }, title),
    h("ul", { class: "members-list", attrs: { role: "list", "aria-labelledby": headingId } },
      members.map((member) => memberRow(guild, member)),
    ),
  );
}

function memberRow(guild, member) {
  const status = statusOf(guild, member.user.id);
  const name = h("span", { class: "member-name" }, displayName(member));
  const colour = roleColour(guild, member);
  if (colour) name.style.setProperty("color", colour);
  const button = h("button", {
    type: "button",
    class: "member",
    dataset: { testid: "member", userId: member.user.id, status },
    attrs: { "aria-haspopup": "menu", "aria-expanded": "false", "aria-label": `${displayName(member)}, ${status}` },
    on: { click: () => openMemberMenu(guild.id, member, button) },
  },
    h("span", { class: `avatar status-${status}`, attrs: { "aria-hidden": "true" } },
      displayName(member).slice(0, 1).toUpperCase()),
    name,
    member.user.bot ? h("span", { class: "bot-tag" }, "BOT") : null,
  );
  return h("li", { class: "member-item", attrs: { role: "listitem" } }, button);
}

// A menu of actions under an anchor: arrow keys move, Enter picks; Esc, Tab, a click away or
// a route change closes it (it lives in <body>, outside the view that opened it).
// opener(): the element that stands for the anchor now (a re-draw may have replaced it), to
// give the keyboard back to once a chosen item (and any dialog it opened) is done.
export function openMenu(anchorEl, items, label, { opener = () => anchorEl } = {}) {
  document.querySelector(".popover-menu")?.dispatchEvent(new Event("close"));
  const buttons = items.filter(Boolean).map((item) =>
    h("button", {
      type: "button",
      class: `menu-item${item.danger ? " danger" : ""}`,
      dataset: { testid: item.testid ?? "" },
      attrs: { role: "menuitem", tabindex: "-1" },
      on: { click: () => choose(item) },
    }, item.label));
  const menu = h("div", {
    class: "popover-menu",
    attrs: { role: "menu", "aria-label": label },
    on: { keydown: onKey, close: () => close() },
  }, buttons);
  const rect = anchorEl.getBoundingClientRect();
  const top = Math.min(rect.bottom + 4, window.innerHeight - 40 * buttons.length - 8);
  menu.style.setProperty("top", `${Math.max(8, top)}px`);
  menu.style.setProperty("left", `${Math.max(8, Math.min(rect.left, window.innerWidth - 228))}px`);
  document.body.append(menu);
  anchorEl.setAttribute("aria-expanded", "true");
  buttons[0]?.focus();
  // (Added while the opening click runs: its pointerdown has passed already.)
  const away = (event) => { if (!menu.contains(event.target)) close(); };
  document.addEventListener("pointerdown", away);
  const offRoute = subscribe("route", () => close());
  let closed = false;
  function onKey(event) {
    const at = buttons.indexOf(document.activeElement);
    if (event.key === "ArrowDown") buttons[(at + 1) % buttons.length].focus();
    else if (event.key === "ArrowUp") buttons[(at - 1 + buttons.length) % buttons.length].focus();
    else if (event.key === "Escape") { close(); refocus(); }
    else if (event.key === "Tab") close();
    else return;
    event.preventDefault();
  }
  function close() {
    if (closed) return;
    closed = true;
    document.removeEventListener("pointerdown", away);
    offRoute();
    anchorEl.setAttribute("aria-expanded", "false");
    menu.remove();
  }
  // The keyboard goes back to the opener, unless something else took it meanwhile (a view
  // navigated to, a field): only a focus dropped onto <body> is picked up.
  function refocus() {
    const lost = !document.activeElement || document.activeElement === document.body;
    const target = opener();
    if (lost && target?.isConnected) target.focus();
  }
  async function choose(item) {
    close();
    // Before run(): a dialog it opens then returns focus here rather than to a removed item.
    refocus();
    try {
      await item.run();
    } catch (error) {
      showError(error);
    } finally {
      refocus();
    }
  }
  return close;
}

function openMemberMenu(guildId, member, anchorEl) {
  const user = member.user;
  const guild = state.guilds.get(guildId);
  const self = user.id === state.me?.id;
  // (The server refuses anyone at or above the viewer's highest role: not offered either.)
  const mayModerate = !self && outranks(guild, member);
  const relation = state.relationships.get(user.id)?.type;
  openMenu(anchorEl, [
    !self && { label: "Message", testid: "member-message", run: () => openDm(user.id) },
    !self && !user.bot && !relation && { label: "Add friend", testid: "member-add-friend", run: () => addFriend(user) },
    !self && relation === INCOMING &&
      { label: "Accept friend request", testid: "member-add-friend", run: () => addFriend(user) },
    !self && relation !== BLOCKED && { label: "Block", testid: "member-block", danger: true, run: () => block(user) },
    !self && relation === BLOCKED && { label: "Unblock", testid: "member-unblock", run: () => unblock(user) },
    mayModerate && holds(guildId, "KICK_MEMBERS") &&
      { label: "Kick", testid: "member-kick", danger: true, run: () => kick(guildId, member) },
    mayModerate && holds(guildId, "BAN_MEMBERS") &&
      { label: "Ban", testid: "member-ban", danger: true, run: () => ban(guildId, member) },
    self && { label: "Edit profile", testid: "member-profile", run: () => openProfile().catch(showError) },
  ], displayName(member), {
    // The list re-draws often (presences): the same person's row is the one to go back to.
    opener: () => (anchorEl.isConnected ? anchorEl
      : document.querySelector(`#members [data-testid="member"][data-user-id="${CSS.escape(user.id)}"]`)),
  });
}

/** Shows an app path: main.js's router listens for dom.js's app-navigate event. */
export function navigate(path) {
  document.body.dispatchEvent(new CustomEvent("app-navigate", { bubbles: true, detail: path }));
}

/** Opens (or finds) the DM with `userId` and shows it. */
export async function openDm(userId) {
  try {
    const channel = await request("POST", "/users/@me/channels", { json: { recipient_id: userId } });
    if (!state.dms.has(channel.id)) setDms([channel]);
    navigate(`/app/channels/@me/${seg(channel.id)}`);
  } catch (error) {
    showError(error);
  }
}

export async function addFriend(user) {
  try {
    await request("PUT", `/users/@me/relationships/${seg(user.id)}`, { json: {} });
    const accepted = state.relationships.get(user.id)?.type === INCOMING;
    state.relationships.set(user.id, { type: accepted ? FRIEND : OUTGOING, user });
    showInfo(`Friend request sent to ${user.global_name || user.username}`);
  } catch (error) {
    showError(error);
  }
}

async function block(user) {
  try {
    await request("PUT", `/users/@me/relationships/${seg(user.id)}`, { json: { type: 2 } });
    state.relationships.set(user.id, { type: BLOCKED, user });
    showInfo(`${user.global_name || user.username} is blocked`);
  } catch (error) {
    showError(error);
  }
}

async function unblock(user) {
  try {
    await request("DELETE", `/users/@me/relationships/${seg(user.id)}`);
    state.relationships.delete(user.id);
    showInfo(`${user.global_name || user.username} is unblocked`);
  } catch (error) {
    showError(error);
  }
}

async function kick(guildId, member) {
  const ok = await confirm(`Kick ${displayName(member)}?`,
    h("p", null, "They can join again with an invite."), "Kick");
  if (!ok) return;
  try {
    await request("DELETE", `/guilds/${seg(guildId)}/members/${seg(member.user.id)}`);
  } catch (error) {
    showError(describe(error, { needs: "Kick Members" }));
  }
}

async function ban(guildId, member) {
  const history = h("select", { name: "delete_message_seconds", dataset: { testid: "ban-history" } },
    h("option", { value: "0" }, "Don't delete any"),
    h("option", { value: "3600" }, "The last hour"),
    h("option", { value: "86400" }, "The last 24 hours"),
    h("option", { value: "604800" }, "The last 7 days"),
  );
  const body = h("div", { class: "form" },
    h("label", null, "Delete their messages from", history));
  const ok = await confirm(`Ban ${displayName(member)}?`, body, "Ban");
  if (!ok) return;
  try {
    await request("PUT", `/guilds/${seg(guildId)}/bans/${seg(member.user.id)}`, {
      json: { delete_message_seconds: Number(history.value) },
    });
  } catch (error) {
    showError(describe(error, { needs: "Ban Members" }));
  }
}

/** A dialog with a dangerous action (and dialog.js's Cancel); true when it was chosen. */
export async function confirm(title, body, label) {
  const chosen = await openDialog({
    title,
    body,
    testid: "confirm-dialog",
    actions: [{ label, primary: true, danger: true, testid: "confirm", run: () => true }],
  });
  return chosen === true;
}
