// Home: the DM list in the sidebar, and Friends (all, pending, blocked, add) in the main area.
import { h, replace, appLink } from "./dom.js";
import { request, describe } from "./api.js";
import { state, subscribe, setDms, setRelationships, isUnread } from "./store.js";
import { showError } from "./toast.js";
import { openDm, seg } from "./members.js";

// Discord's relationship types.
const FRIEND = 1;
const BLOCKED = 2;
const INCOMING = 3;
const OUTGOING = 4;

function nameOf(user) {
  return user?.global_name || user?.username || "Someone";
}

export function renderHome(sidebarEl, mainEl) {
  const offSidebar = renderDmList(sidebarEl);
  const offFriends = renderFriends(mainEl);
  return () => { offSidebar(); offFriends(); };
}

// The sidebar: a link to Friends and every DM, newest activity first.
function renderDmList(el) {
  const draw = () => {
    const dms = [...(state.dms?.values?.() ?? [])].sort((a, b) =>
      BigInt(b.last_message_id ?? b.id) > BigInt(a.last_message_id ?? a.id) ? 1 : -1);
    // A re-draw (a message arrived somewhere) keeps the keyboard where it was.
    const focused = el.contains(document.activeElement) ? document.activeElement.dataset.channelId : null;
    replace(el,
      h("nav", { class: "dm-nav", attrs: { "aria-label": "Direct messages" } },
        appLink("/app/channels/@me", { class: "dm-friends-link", dataset: { testid: "friends-link" },
          attrs: { "aria-current": location.pathname === "/app/channels/@me" ? "page" : null } }, "Friends"),
        h("h2", { class: "sidebar-heading", id: "dm-heading" }, "Direct messages"),
        h("ul", { class: "dm-list", dataset: { testid: "dm-list" },
          attrs: { role: "list", "aria-labelledby": "dm-heading" } },
        dms.map(dmItem)),
        dms.length ? null : h("p", { class: "muted dm-empty" }, "No conversations yet."),
      ));
    if (focused) el.querySelector(`[data-channel-id="${CSS.escape(focused)}"]`)?.focus();
  };
  const offs = ["dms", "route", "unread"].map((topic) => subscribe(topic, draw));
  draw();
  // READY lists no DMs: read them once (new ones then arrive as CHANNEL_CREATE).
  request("GET", "/users/@me/channels").then((channels) => setDms(channels ?? []), showError);
  return () => offs.forEach((off) => off());
}

function dmItem(channel) {
  const people = channel.recipients ?? [];
  const title = channel.name || people.map(nameOf).join(", ") || "Empty conversation";
  const here = location.pathname === `/app/channels/@me/${channel.id}`;
  const unread = !here && isUnread(channel);
  return h("li", { attrs: { role: "listitem" } },
    appLink(`/app/channels/@me/${seg(channel.id)}`, {
      class: `dm-item${unread ? " unread" : ""}`,
      dataset: { testid: "dm-item", channelId: channel.id, unread: String(unread) },
      attrs: { "aria-current": here ? "page" : null, "aria-label": unread ? `${title} (unread)` : null },
    },
      h("span", { class: "avatar", attrs: { "aria-hidden": "true" } }, title.slice(0, 1).toUpperCase()),
      h("span", { class: "dm-name" }, title)));
}

// Friends: tabs over the relationship list.
const TABS = [
  { id: "all", label: "All" },
  { id: "pending", label: "Pending" },
  { id: "blocked", label: "Blocked" },
  { id: "add", label: "Add friend" },
];

function renderFriends(el) {
  let tab = "all";
  let relationships = [...(state.relationships?.values?.() ?? [])];
  let stopped = false;
  const body = h("div", { class: "friends-body", attrs: { role: "tabpanel", id: "friends-panel" } });
  const tabs = TABS.map((t) => h("button", {
    type: "button",
    class: "friends-tab",
    id: `friends-tab-${t.id}`,
    dataset: { testid: `friends-tab-${t.id}` },
    attrs: { role: "tab", "aria-controls": "friends-panel" },
    on: { click: () => { tab = t.id; draw(); }, keydown: arrows },
  }, t.label));
  function arrows(event) {
    const at = tabs.indexOf(event.currentTarget);
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    const next = tabs[(at + step + tabs.length) % tabs.length];
    next.focus();
    next.click();
  }
  replace(el, h("section", { class: "friends", dataset: { testid: "friends" } },
    h("header", { class: "main-header" }, h("h1", null, "Friends"),
      h("div", { class: "friends-tabs", attrs: { role: "tablist", "aria-label": "Friends" } }, tabs)),
    body));

  function draw() {
    for (const [i, t] of TABS.entries()) {
      tabs[i].setAttribute("aria-selected", String(t.id === tab));
      tabs[i].tabIndex = t.id === tab ? 0 : -1;
      if (t.id === tab) body.setAttribute("aria-labelledby", tabs[i].id);
    }
    const pendingCount = relationships.filter((r) => r.type === INCOMING).length;
    tabs[1].dataset.count = String(pendingCount);
    replace(tabs[1], "Pending", pendingCount ? h("span", { class: "badge" }, String(pendingCount)) : null);
    if (tab === "add") return replace(body, addForm(reload));
    const shown = relationships.filter((r) =>
      tab === "all" ? r.type === FRIEND : tab === "blocked" ? r.type === BLOCKED : r.type === INCOMING || r.type === OUTGOING);
    const empty = { all: "No friends yet: add one by username.", pending: "No pending requests.", blocked: "You have blocked no one." }[tab];
    replace(body,
      shown.length === 0 ? h("p", { class: "muted" }, empty) :
        h("ul", { class: "friend-list", dataset: { testid: "friend-list" }, attrs: { role: "list" } },
          shown.map((r) => friendRow(r, reload))));
  }

  async function reload() {
    try {
      const found = await request("GET", "/users/@me/relationships");
      if (stopped) return;
      // (The store announces it: the subscription below re-draws.)
      setRelationships(found ?? []);
    } catch {
      // (The store still holds what READY's fetch and RELATIONSHIP_* dispatches made of it.)
    }
  }

  draw();
  // Once on showing (what was fetched at start-up may be stale after a long drop); after that
  // RELATIONSHIP_ADD / RELATIONSHIP_REMOVE keep the store current.
  reload();
  let drawn = "";
  const off = subscribe("relationships", () => {
    relationships = [...state.relationships.values()];
    // Only a change re-draws: the list keeps its focus otherwise.
    const now = relationships.map((r) => `${r.user?.id}:${r.type}`).sort().join();
    if (now === drawn) return;
    drawn = now;
    // (Re-drawing the add form would wipe what is being typed.)
    if (tab !== "add") draw();
  });
  return () => {
    stopped = true;
    off();
  };
}

function friendRow(relationship, reload) {
  const user = relationship.user ?? {};
  const act = (label, testid, run, danger) => h("button", {
    type: "button",
    class: `small-button${danger ? " danger" : ""}`,
    dataset: { testid },
    attrs: { "aria-label": `${label} ${nameOf(user)}` },
    on: { click: async () => {
      try { await run(); } catch (error) { showError(error); }
      reload();
    } },
  }, label);
  const put = (json) => request("PUT", `/users/@me/relationships/${seg(user.id)}`, { json });
  const drop = () => request("DELETE", `/users/@me/relationships/${seg(user.id)}`);
  const note = {
    [FRIEND]: "Friend",
    [BLOCKED]: "Blocked",
    [INCOMING]: "Incoming friend request",
    [OUTGOING]: "Outgoing friend request",
  }[relationship.type];
  const actions = {
    [FRIEND]: [act("Message", "friend-message", () => openDm(user.id)), act("Remove", "friend-remove", drop, true)],
    [BLOCKED]: [act("Unblock", "friend-unblock", drop)],
    [INCOMING]: [act("Accept", "friend-accept", () => put({})), act("Ignore", "friend-ignore", drop, true)],
    [OUTGOING]: [act("Cancel", "friend-cancel", drop, true)],
  }[relationship.type] ?? [];
  return h("li", { class: "friend", dataset: { testid: "friend", userId: user.id, type: String(relationship.type) },
    attrs: { role: "listitem" } },
  h("span", { class: "avatar", attrs: { "aria-hidden": "true" } }, nameOf(user).slice(0, 1).toUpperCase()),
  h("span", { class: "friend-names" },
    h("span", { class: "friend-name" }, nameOf(user)),
    h("span", { class: "muted friend-note" }, `${user.username ?? ""} · ${note}`)),
  h("span", { class: "friend-actions" }, actions));
}

function addForm(reload) {
  const input = h("input", {
    type: "text", name: "username", required: true, autocomplete: "off", maxLength: 32,
    dataset: { testid: "add-friend-username" },
    attrs: { "aria-describedby": "add-friend-result", placeholder: "Their username" },
  });
  const result = h("p", { id: "add-friend-result", class: "form-result", attrs: { role: "status" } });
  const submit = async (event) => {
    event.preventDefault();
    const username = input.value;
    if (!username.trim()) return;
    result.className = "form-result";
    replace(result, "Sending…");
    try {
      const wanted = username.trim().replace(/^@/, "");
      if (wanted.toLowerCase() === state.me?.username?.toLowerCase()) throw new Error("That's you.");
      await request("POST", "/users/@me/relationships", { json: { username: wanted } });
      replace(result, `Friend request sent to ${wanted}.`);
      result.classList.add("ok");
      input.value = "";
      reload();
    } catch (error) {
      replace(result, error.status !== undefined ? describe(error) : error.message);
      result.classList.add("error");
    }
  };
  return h("form", { class: "add-friend form", dataset: { testid: "add-friend-form" }, on: { submit } },
    h("label", null, "Add a friend by their username", input),
    h("button", { type: "submit", class: "primary", dataset: { testid: "add-friend-send" } }, "Send friend request"),
    result);
}
