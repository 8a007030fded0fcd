// The part of a channel's history a view holds: at most MAX_MESSAGES, oldest first, paged in
// from the server in either direction and trimmed at the far end, so the page stays small
// however far one scrolls. Fetches return a change to apply (it answers whether it changed
// anything), so the view can apply it while keeping the person's place on screen.
//
// Two races are handled here. A page answers the window as it was when it was asked for: one
// that lands after the window was replaced (a jump), or after its end moved, is dropped. And
// live changes that arrive while a page is on its way are recorded and played onto the page
// when it lands: the server may have answered before they happened.
import { request } from "./api.js";

export const FIRST_PAGE = 50;
export const PAGE = 100;
export const MAX_MESSAGES = 300;
const MAX_EPHEMERAL = 50;
const EPHEMERAL = 64;

export const newer = (a, b) => (a.length !== b.length ? a.length > b.length : a > b); // snowflakes

export class MessageWindow {
  constructor(channelId) {
    this.channelId = channelId;
    this.items = []; // oldest first
    this.hasOlder = true; // the server has messages before items[0]
    this.hasNewer = false; // …and after the last: false means the window reaches the present
    this.busy = { older: false, newer: false };
    this.generation = 0; // bumped by each fetch that replaces the window (latest, around)
    this.watchers = new Set(); // one list per fetch in flight: the live changes seen meanwhile
    // "Only you can see this" answers: no page of history brings them back, so they are kept
    // here and put back whenever the window covers where they belong.
    this.ephemeral = new Map();
  }

  indexOf(id) {
    return this.items.findIndex((m) => m.id === id);
  }

  get(id) {
    return this.items[this.indexOf(id)] ?? null;
  }

  async page(query) {
    const found = await request("GET", `/channels/${encodeURIComponent(this.channelId)}/messages`, { query });
    return (found || []).reverse(); // the server answers newest first
  }

  // A page, with the live changes that arrived while it was on its way.
  async fetch(query) {
    const seen = [];
    this.watchers.add(seen);
    try {
      return { page: await this.page(query), seen };
    } finally {
      this.watchers.delete(seen);
    }
  }

  note(change) {
    for (const seen of this.watchers) seen.push(change);
  }

  // The newest page, replacing the window.
  async latest() {
    const generation = ++this.generation;
    const { page, seen } = await this.fetch({ limit: FIRST_PAGE });
    return () => {
      if (generation !== this.generation) return false; // a later jump has its own answer
      this.items = patch(page, seen);
      this.hasOlder = page.length === FIRST_PAGE;
      this.hasNewer = false;
      this.catchUp(seen, page.at(-1)?.id);
      return true;
    };
  }

  // The page before the window, or null when there is none or one is on its way.
  async older() {
    if (this.busy.older || !this.hasOlder || !this.items.length) return null;
    this.busy.older = true;
    const generation = this.generation;
    const first = this.items[0].id;
    try {
      const { page, seen } = await this.fetch({ before: first, limit: PAGE });
      return () => {
        if (generation !== this.generation || this.items[0]?.id !== first) return false;
        this.hasOlder = page.length === PAGE;
        this.items = [...patch(page, seen).filter((m) => this.indexOf(m.id) < 0), ...this.items];
        if (this.items.length > MAX_MESSAGES) {
          this.items = this.items.slice(0, MAX_MESSAGES);
          this.hasNewer = true;
        }
        this.restoreEphemeral();
        return true;
      };
    } finally {
      this.busy.older = false;
    }
  }

  async newer() {
    if (this.busy.newer || !this.hasNewer || !this.items.length) return null;
    this.busy.newer = true;
    const generation = this.generation;
    const last = this.items.at(-1).id;
    try {
      const { page, seen } = await this.fetch({ after: last, limit: PAGE });
      return () => {
        if (generation !== this.generation || this.items.at(-1)?.id !== last) return false;
        this.hasNewer = page.length === PAGE;
        this.items = [...this.items, ...patch(page, seen).filter((m) => this.indexOf(m.id) < 0)];
        if (this.items.length > MAX_MESSAGES) {
          this.items = this.items.slice(-MAX_MESSAGES);
          this.hasOlder = true;
        }
        this.catchUp(seen, page.at(-1)?.id ?? last);
        return true;
      };
    } finally {
      this.busy.newer = false;
    }
  }

  // A page centred on message `id` (a reply's original, a pin), replacing the window.
  async around(id) {
    const generation = ++this.generation;
    const { page, seen } = await this.fetch({ around: id, limit: PAGE });
    return () => {
      if (generation !== this.generation) return false;
      const older = page.filter((m) => !newer(m.id, id)).length;
      this.items = patch(page, seen);
      this.hasOlder = older >= Math.ceil(PAGE / 2);
      this.hasNewer = page.length - older >= Math.floor(PAGE / 2);
      this.catchUp(seen, page.at(-1)?.id);
      return true;
    };
  }

  // After a page landed: the messages created while it was on its way, newer than its last
  // (`after`), go in if the window now reaches the present; the kept ephemeral ones too.
  catchUp(seen, after) {
    for (const change of seen) {
      if (change.create && (after === undefined || newer(change.create.id, after))) this.place(change.create, true);
    }
    this.restoreEphemeral();
  }

  restoreEphemeral() {
    for (const message of this.ephemeral.values()) {
      if (this.indexOf(message.id) >= 0 || !this.covers(message.id)) continue;
      this.place(message, true);
    }
  }

  // Whether `id` lies within the window's span (or past its end while that is the present).
  covers(id) {
    const first = this.items[0]?.id;
    const last = this.items.at(-1)?.id;
    if (first === undefined) return !this.hasNewer && !this.hasOlder;
    if (newer(first, id) && this.hasOlder) return false;
    return !this.hasNewer || !newer(id, last);
  }

  // A live message. Returns false when it lies beyond the window (seen on jumping there).
  // stuck: the view follows the present, so the oldest make room; else the newest go.
  insert(message, stuck) {
    this.note({ create: message });
    if (message.flags & EPHEMERAL) {
      this.ephemeral.set(message.id, message);
      if (this.ephemeral.size > MAX_EPHEMERAL) this.ephemeral.delete(this.ephemeral.keys().next().value);
    }
    return this.place(message, stuck);
  }

  place(message, stuck) {
    if (this.indexOf(message.id) >= 0) return true;
    if (this.hasNewer) return false;
    let at = this.items.length;
    while (at > 0 && newer(this.items[at - 1].id, message.id)) at -= 1;
    this.items.splice(at, 0, message);
    if (this.items.length > MAX_MESSAGES) {
      if (stuck) {
        this.items.shift();
        this.hasOlder = true;
      } else {
        this.items.pop();
        this.hasNewer = true;
      }
    }
    return true;
  }

  // Replaces message `id` with change(old) (a new object: the view re-renders changed ones).
  update(id, change) {
    const at = this.indexOf(id);
    if (at < 0) return false;
    const next = change(this.items[at]);
    if (next === this.items[at]) return false;
    this.items[at] = next;
    return true;
  }

  // An edit (MESSAGE_UPDATE, or our own PATCH's answer): the message and the replies quoting it.
  revise(message) {
    this.note({ revise: message });
    const kept = this.ephemeral.get(message.id);
    if (kept) this.ephemeral.set(message.id, revised(kept, message));
    this.update(message.id, (old) => revised(old, message));
    this.items = retold(this.items, message.id, message);
  }

  // A deleted message goes; replies to it now say their original is gone.
  remove(id) {
    this.note({ remove: id });
    this.ephemeral.delete(id);
    this.items = retold(this.items.filter((m) => m.id !== id), id, null);
  }
}

// An update keeps the reactions we hold: its `me` flags are the editor's, not ours.
function revised(old, message) {
  return { ...old, ...message, reactions: old.reactions };
}

// Replies quote their original: an edit (or deletion, null) of it shows in them too.
function retold(items, id, original) {
  return items.map((m) =>
    m.message_reference?.message_id === id && m.referenced_message !== undefined
      ? { ...m, referenced_message: original && { ...m.referenced_message, ...original } }
      : m,
  );
}

// A page as it is now: the edits and deletions seen while it was on its way played onto it.
function patch(page, seen) {
  let items = page;
  for (const change of seen) {
    if (change.remove) items = retold(items.filter((m) => m.id !== change.remove), change.remove, null);
    else if (change.revise) {
      const { id } = change.revise;
      items = retold(items.map((m) => (m.id === id ? revised(m, change.revise) : m)), id, change.revise);
    }
  }
  return items;
}
