// The part of a channel's history a view holds: at most MAX_MESSAGES, oldest first, paged in
// from the server in either direction and trimmed at the far end, so the page stays small
// however far one scrolls. Fetches return a change to apply, so the view can apply it while
// keeping the person's place on screen.
import { request } from "./api.js";

export const FIRST_PAGE = 50;
export const PAGE = 100;
export const MAX_MESSAGES = 300;

export const newer = (a, b) => (a.length !== b.length ? a.length > b.length : a > b); // snowflakes

export class MessageWindow {
  constructor(channelId) {
    this.channelId = channelId;
    this.items = []; // oldest first
    this.hasOlder = true; // the server has messages before items[0]
    this.hasNewer = false; // …and after the last: false means the window reaches the present
    this.busy = { older: false, newer: false };
  }

  indexOf(id) {
    return this.items.findIndex((m) => m.id === id);
  }

  get(id) {
    return this.items[this.indexOf(id)] ?? null;
  }

  async page(query) {
    const found = await request("GET", `/channels/${this.channelId}/messages`, { query });
    return (found || []).reverse(); // the server answers newest first
  }

  // The newest page, replacing the window.
  async latest() {
    this.busy.newer = true;
    try {
      const page = await this.page({ limit: FIRST_PAGE });
      return () => {
        this.items = page;
        this.hasOlder = page.length === FIRST_PAGE;
        this.hasNewer = false;
      };
    } finally {
      this.busy.newer = false;
    }
  }

  // The page before the window, or null when there is none or one is on its way.
  async older() {
    if (this.busy.older || !this.hasOlder || !this.items.length) return null;
    this.busy.older = true;
    try {
      const page = await this.page({ before: this.items[0].id, limit: PAGE });
      return () => {
        this.hasOlder = page.length === PAGE;
        this.items = [...page.filter((m) => this.indexOf(m.id) < 0), ...this.items];
        if (this.items.length > MAX_MESSAGES) {
          this.items = this.items.slice(0, MAX_MESSAGES);
          this.hasNewer = true;
        }
      };
    } finally {
      this.busy.older = false;
    }
  }

  async newer() {
    if (this.busy.newer || !this.hasNewer || !this.items.length) return null;
    this.busy.newer = true;
    try {
      const page = await this.page({ after: this.items.at(-1).id, limit: PAGE });
      return () => {
        this.hasNewer = page.length === PAGE;
        this.items = [...this.items, ...page.filter((m) => this.indexOf(m.id) < 0)];
        if (this.items.length > MAX_MESSAGES) {
          this.items = this.items.slice(-MAX_MESSAGES);
          this.hasOlder = true;
        }
      };
    } finally {
      this.busy.newer = false;
    }
  }

  // A page centred on message `id` (a reply's original, a pin), replacing the window.
  async around(id) {
    const page = await this.page({ around: id, limit: PAGE });
    return () => {
      const older = page.filter((m) => !newer(m.id, id)).length;
      this.items = page;
      this.hasOlder = older >= Math.ceil(PAGE / 2);
      this.hasNewer = page.length - older >= Math.floor(PAGE / 2);
    };
  }

  // A live message. Returns false when it lies beyond the window (seen on jumping there).
  // stuck: the view follows the present, so the oldest make room; else the newest go.
  insert(message, stuck) {
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

  // A deleted message goes; replies to it now say their original is gone.
  remove(id) {
    this.items = this.items.filter((m) => m.id !== id);
    this.retell(id, null);
  }

  // Replies quote their original: an edit (or deletion, null) of it shows in them too.
  retell(id, original) {
    this.items = this.items.map((m) =>
      m.message_reference?.message_id === id && m.referenced_message !== undefined
        ? { ...m, referenced_message: original && { ...m.referenced_message, ...original } }
        : m,
    );
  }
}
