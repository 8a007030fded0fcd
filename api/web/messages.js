// A channel's view: its header, the message log (a bounded window onto the history, paged in
// as you scroll either way), the typing line and the composer; live from the store's topics.
import { describe } from "./api.js";
import { createComposer } from "./composer.js";
import { h, replace } from "./dom.js";
import { createActions } from "./message_actions.js";
import { componentsReady, icon, renderMessage } from "./message.js";
import { MessageList } from "./message_list.js";
import { MessageWindow } from "./message_window.js";
import { closePins, openPins, refreshPins } from "./pins.js";
import { applyReaction, closePicker } from "./reactions.js";
import { findChannel, has, markRead, permissions, state, subscribe, userName } from "./store.js";
import { showError } from "./toast.js";
import { createTypingLine } from "./typing.js";

const GROUP_MS = 7 * 60 * 1000;
const NEAR_PX = 900; // how close to an end of the log the next page is fetched
const HIGHLIGHT_MS = 2_500;
// Pinning: Manage Messages, or Pin Messages alone (the server accepts either; store.js's
// PERMS has no name for bit 51).
const PIN_MESSAGES = 1n << 51n;

export function renderChannel(mainEl, channelId) {
  const view = new ChannelView(mainEl, channelId);
  return () => view.destroy();
}

class ChannelView {
  constructor(mainEl, channelId) {
    this.channelId = channelId;
    this.window = new MessageWindow(channelId); // the part of the history shown, oldest first
    this.pending = []; // sends not confirmed yet, in the order sent
    this.editingId = null;
    this.stuck = true; // scrolled to the newest: new messages keep it there
    this.stops = [];
    this.destroyed = false;
    this.loading = 0; // pages on their way (the log is aria-busy meanwhile)
    this.me = state.me?.id ?? null;
    this.resolveChannel();
    this.actions = createActions(this);
    this.build(mainEl);
    this.listen();
    this.loadLatest();
    componentsReady.then(() => this.rerender((m) => m.components?.length));
  }

  // Renders again the messages `which` picks (their look depends on something that changed).
  rerender(which) {
    if (this.destroyed) return;
    for (const entry of this.messages.rendered.values()) if (which(entry.message)) entry.sig = "";
    this.sync();
  }

  resolveChannel() {
    this.channel = findChannel(this.channelId);
    this.guildId = this.channel?.guild_id ?? null;
    const perms = this.guildId ? permissions(this.guildId, this.channelId) : null;
    this.canManage = perms !== null && has(perms, "MANAGE_MESSAGES");
    this.canPin = perms === null ? Boolean(this.channel) : this.canManage || (perms & PIN_MESSAGES) !== 0n;
    this.canSend = perms === null || has(perms, "SEND_MESSAGES");
  }

  build(mainEl) {
    this.header = h("header", { class: "channel-header" });
    this.list = h("div", {
      class: "message-log",
      attrs: { role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": "Messages", "data-testid": "message-log" },
    });
    this.top = h("div", { class: "log-top" });
    this.scroller = h("div", { class: "messages-scroller", on: { scroll: () => this.onScroll() } }, this.top, this.list);
    this.messages = new MessageList(this.list, this.scroller, () => this.composer.focus());
    this.present = h(
      "button",
      { type: "button", class: "jump-present", hidden: true, attrs: { "data-testid": "jump-present" }, on: { click: () => this.jumpToPresent() } },
      "Jump to present ↓",
    );
    this.typing = createTypingLine(this.channelId, this.guildId, () => this.me);
    this.composer = createComposer({
      channelId: this.channelId,
      placeholder: `Message ${this.title()}`,
      canSend: this.canSend,
      members: () => this.members(),
      send: (draft) => this.actions.send(draft),
      editLast: () => this.editLast(),
      // A command's answer may be for our eyes only: it shows at the present, so go there.
      toPresent: () => (this.window.hasNewer ? this.loadLatest() : null),
    });
    this.root = h("section", { class: "channel-view", attrs: { "aria-label": this.title() } },
      this.header, h("div", { class: "log-area" }, this.scroller, this.present), this.typing.el, this.composer.el);
    replace(mainEl, this.root);
    this.renderHeader();
    // Content that changes size (an image loading, a window resized) must not move what the
    // person reads: the newest stays at the bottom, or the message in view stays in place.
    this.resizes = new ResizeObserver(() => {
      if (this.following()) this.toBottom();
      else if (this.lastAnchor) this.messages.restore(this.lastAnchor);
    });
    this.resizes.observe(this.list);
    this.resizes.observe(this.scroller);
  }

  title() {
    if (!this.channel) return "this channel";
    if (this.guildId) return `#${this.channel.name}`;
    const others = (this.channel.recipients || []).map((u) => u.global_name || u.username);
    return `@${others.join(", ") || "DM"}`;
  }

  renderHeader() {
    const topic = this.channel?.topic;
    replace(
      this.header,
      h("h2", { class: "channel-name", attrs: { "data-testid": "channel-name" } }, this.title()),
      topic ? h("span", { class: "channel-topic", title: topic }, topic) : null,
      h("button", {
        type: "button", class: "icon-button pins-button", title: "Pinned messages",
        attrs: { "aria-label": "Pinned messages", "data-testid": "pins-button" },
        on: { click: (event) => openPins(event.currentTarget, this.channelId, {
          jump: (id) => this.jumpTo(id),
          canPin: this.canPin,
          unpinned: (id) => this.change(() => this.window.update(id, (old) => ({ ...old, pinned: false }))),
        }) },
      }, icon("pin")),
    );
  }

  listen() {
    const on = (topic, fn) => this.stops.push(subscribe(topic, fn));
    on(`channel:${this.channelId}`, (event) => this.onEvent(event));
    on("me", (me) => {
      this.me = me?.id ?? null;
    });
    // A fresh session (not a resume) may have missed messages: read the newest again.
    on("reset", () => !this.window.hasNewer && this.loadLatest());
    const refresh = () => {
      const seen = () => `${this.canManage} ${this.canPin} ${this.canSend} ${this.title()} ${this.channel?.topic}`;
      const before = seen();
      this.resolveChannel();
      if (before !== seen()) {
        this.renderHeader();
        this.composer.setAllowed(this.canSend, `Message ${this.title()}`);
        this.sync();
      }
    };
    const visible = () => this.stuck && this.markRead();
    document.addEventListener("visibilitychange", visible);
    this.stops.push(() => document.removeEventListener("visibilitychange", visible));
    on("guilds", refresh);
    on("dms", refresh);
    if (this.guildId) on(`guild:${this.guildId}`, refresh);
  }

  destroy() {
    this.destroyed = true;
    for (const stop of this.stops) stop();
    // Popovers this view opened act on it: they go with it.
    closePins();
    closePicker();
    this.typing.destroy();
    this.resizes.disconnect();
  }

  // ---- history ----

  async loadLatest() {
    try {
      const apply = await this.window.latest();
      if (this.destroyed) return;
      if (apply()) {
        this.stuck = true;
        this.sync();
        this.toBottom();
        this.markRead();
      }
    } catch (error) {
      if (!this.destroyed) this.showLoadError(error);
    }
    this.check();
  }

  // Fetches a page (older or newer) and puts it in without moving what is on screen.
  // (aria-busy: screen readers announce a live log's additions; a page of history is none.)
  // (Counted: the log is busy until the last of the pages on their way has landed.)
  async load(which) {
    this.loading += 1;
    this.list.setAttribute("aria-busy", "true");
    try {
      const apply = await this.window[which]();
      if (!apply || this.destroyed) return;
      this.change(apply); // (a page that no longer fits the window changes nothing)
      if (!this.window.hasNewer) this.markRead();
    } catch (error) {
      showError(error);
    } finally {
      this.loading -= 1;
      if (!this.loading) this.list.removeAttribute("aria-busy");
    }
    this.check();
  }

  showLoadError(error) {
    replace(this.top, h("div", { class: "log-error", attrs: { role: "alert" } }, describe(error), " ",
      h("button", { type: "button", class: "link-button", on: { click: () => this.loadLatest() } }, "Try again")));
  }

  // Fetches the next page when the view is near either end of the window.
  check() {
    if (this.destroyed || this.checkQueued) return;
    this.checkQueued = true;
    requestAnimationFrame(() => {
      this.checkQueued = false;
      const s = this.scroller;
      if (s.scrollTop < NEAR_PX) this.load("older");
      if (s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_PX) this.load("newer");
    });
  }

  onScroll() {
    this.stuck = this.atBottom() && !this.window.hasNewer;
    if (this.stuck) this.pinnedTop = this.scroller.scrollTop;
    this.lastAnchor = this.stuck ? null : this.messages.anchor();
    this.present.hidden = !this.window.hasNewer && this.distanceFromBottom() < this.scroller.clientHeight * 2;
    if (this.stuck) this.markRead();
    this.check();
  }

  distanceFromBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight;
  }

  atBottom() {
    return this.distanceFromBottom() < 24;
  }

  toBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.pinnedTop = this.scroller.scrollTop;
  }

  // Whether the view follows the newest. `stuck` is updated by scroll events, which come a
  // frame late: a scroll up since we were last at the bottom (scrollTop fell; growing content
  // never lowers it) already counts.
  following() {
    return this.stuck && this.scroller.scrollTop >= (this.pinnedTop ?? 0) - 2;
  }

  // Runs a change to the window and keeps what the person is looking at where it was: the
  // newest at the bottom when stuck there, else the first message in view at its offset.
  keepingPlace(change) {
    const stick = this.following();
    const anchor = stick ? null : this.messages.anchor();
    change();
    this.sync();
    if (stick && !this.window.hasNewer) this.toBottom();
    else if (anchor) this.messages.restore(anchor);
    this.onScroll();
  }

  // Applies a change to the window; re-renders (keeping the place) if it changed anything.
  change(fn) {
    let changed = false;
    this.keepingPlace(() => {
      changed = fn() !== false;
    });
    return changed;
  }

  // ---- rendering: the DOM follows the window + pending sends, reusing unchanged elements ----

  sync() {
    if (this.destroyed) return;
    let previous = null;
    const rows = [...this.window.items, ...this.pending].map((message) => {
      const row = this.row(message, previous);
      previous = message;
      return row;
    });
    this.messages.sync(rows);
    this.renderTop();
  }

  // How a message shows here: grouped under the one before, after a day's divider, being
  // edited, with the actions the viewer may take.
  row(message, previous) {
    const newDay = previous && dayOf(previous) !== dayOf(message) ? DAY.format(new Date(message.timestamp)) : null;
    const grouped = !newDay && groups(previous, message);
    const editing = this.editingId === message.id && !message.pending;
    return {
      key: keyOf(message),
      message,
      sig: `${grouped}${newDay}${editing}${this.canManage}${this.canPin}${this.me}`,
      // (Re-rendered while being edited, it keeps what the person has typed.)
      render: (old) => renderMessage(message, {
        me: this.me, myRoles: this.myRoles(), grouped, newDay, editing,
        editDraft: editing ? old?.querySelector(".edit-input")?.value : undefined,
        canManage: this.canManage, canPin: this.canPin, names: this.names(), actions: this.actions,
      }),
    };
  }

  renderTop() {
    const { hasOlder, hasNewer } = this.window;
    if (hasOlder) {
      replace(this.top, h("div", { class: "log-loading" }, "Loading older messages…"));
    } else {
      replace(this.top, h("div", { class: "log-beginning", attrs: { "data-testid": "log-beginning" } },
        h("h3", {}, `Welcome to ${this.title()}`), h("p", {}, "This is the beginning of the conversation.")));
    }
    this.list.dataset.hasOlder = String(hasOlder);
    this.list.dataset.hasNewer = String(hasNewer);
  }

  names() {
    return {
      mention: (id) => (state.users.has(id) || state.guilds.get(this.guildId)?.members.has(id) ? userName(id, this.guildId) : null),
      channel: (id) => findChannel(id)?.name ?? null,
      role: (id) => state.guilds.get(this.guildId)?.roles.get(id)?.name ?? null,
      onChannel: (id) => this.root.dispatchEvent(new CustomEvent("app-navigate", { bubbles: true, detail: `/app/channels/${findChannel(id)?.guild_id ?? "@me"}/${id}` })),
    };
  }

  myRoles() {
    return state.guilds.get(this.guildId)?.members.get(this.me)?.roles ?? [];
  }

  members() {
    const guild = state.guilds.get(this.guildId);
    const people = guild ? [...guild.members.values()].map((m) => ({ ...m.user, nick: m.nick })) : [...(this.channel?.recipients || []), state.me];
    return people.filter((u) => u && u.id).map((u) => ({ id: u.id, username: u.username || "", name: u.nick || u.global_name || u.username || "" }));
  }

  // ---- live events ----

  onEvent({ kind, message, t, data }) {
    const win = this.window;
    if (kind === "create") this.onCreate(message);
    else if (kind === "delete") this.onDelete(message.id);
    else if (kind === "update") this.change(() => win.revise(message));
    else if (kind === "pins") refreshPins(this.channelId);
    else if (kind === "reactions") {
      this.change(() => win.update(message.id, (old) => {
        const copy = { ...old };
        return applyReaction(copy, t, data, this.me) ? copy : old;
      }));
    }
  }

  onCreate(message) {
    const sent = this.pending.findIndex((p) => p.nonce === message.nonce && message.author?.id === this.me);
    if (message.nonce && sent >= 0) this.pending.splice(sent, 1);
    this.typing.stop(message.author?.id);
    if (!this.change(() => this.window.insert(message, this.following()))) {
      this.present.hidden = false; // beyond the window: there when they jump to the present
      this.sync();
    }
    if (this.stuck) this.markRead();
  }

  onDelete(id) {
    if (this.editingId === id) this.editingId = null;
    this.change(() => this.window.remove(id));
  }

  markRead() {
    const last = this.window.items.at(-1);
    if (last && !this.window.hasNewer && document.visibilityState !== "hidden") markRead(this.channelId, last.id);
  }

  startEdit(id) {
    this.editingId = id;
    this.keepingPlace(() => {});
    if (id === null) this.composer.focus();
    else this.messages.get(id)?.scrollIntoView({ block: "nearest" });
  }

  // Up arrow in an empty composer: edit your newest message in view.
  editLast() {
    const mine = [...this.window.items].reverse().find((m) => m.author?.id === this.me && !(m.flags & 64));
    if (!mine) return false;
    this.startEdit(mine.id);
    return true;
  }

  // ---- jumping ----

  async jumpTo(id) {
    if (!this.window.get(id)) {
      try {
        const apply = await this.window.around(id);
        if (this.destroyed || !apply()) return; // (a later jump has taken over)
        this.stuck = false;
        this.sync();
      } catch (error) {
        showError(error);
        return;
      }
    }
    const el = this.messages.get(id);
    if (!el) return showError("That message is no longer there.");
    el.scrollIntoView({ block: "center" });
    el.classList.add("highlight");
    el.focus({ preventScroll: true });
    setTimeout(() => el.classList.remove("highlight"), HIGHLIGHT_MS);
    this.onScroll();
  }

  jumpToPresent() {
    if (this.window.hasNewer) this.loadLatest();
    else {
      this.stuck = true;
      this.toBottom();
    }
    this.composer.focus();
  }
}

const DAY = new Intl.DateTimeFormat(undefined, { dateStyle: "long" });

function dayOf(message) {
  return new Date(message.timestamp).toDateString();
}

function keyOf(message) {
  return message.pending ? `nonce:${message.nonce}` : message.id;
}

// Consecutive messages by one author within 7 minutes share a header; a reply never does.
function groups(previous, message) {
  if (!previous || message.message_reference || previous.failed) return false;
  if (previous.author?.id !== message.author?.id) return false;
  if (message.type && message.type !== 19) return false;
  return Math.abs(Date.parse(message.timestamp) - Date.parse(previous.timestamp)) < GROUP_MS;
}
