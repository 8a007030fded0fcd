// The log's elements: one per message, in order, reused while the message and how it is
// shown stay the same (so a page of history or a reaction does not rebuild the whole log);
// where the person's reading place is; and keyboard moves between messages (the log is one
// tab stop, the message last focused or else the newest; arrows move, Escape leaves).
export class MessageList {
  // el: the role=log element; scroller: the element that scrolls it; onEscape(): leave it.
  constructor(el, scroller, onEscape) {
    this.el = el;
    this.scroller = scroller;
    this.rendered = new Map(); // key → {el, message, sig}, in the DOM's order
    this.focusKey = null;
    this.tabStop = null;
    el.addEventListener("focusin", (event) => this.onFocus(event));
    el.addEventListener("keydown", (event) => this.onKey(event, onEscape));
  }

  get(key) {
    return this.rendered.get(key)?.el ?? null;
  }

  // rows: [{key, message, sig, render(previousEl) → Element}], in order. A row is rendered
  // again when its message object or its sig (how it is shown) changed.
  sync(rows) {
    const keys = new Set(rows.map((row) => row.key));
    for (const [key, entry] of this.rendered) {
      if (!keys.has(key)) {
        entry.el.remove();
        this.rendered.delete(key);
      }
    }
    let cursor = this.el.firstChild;
    const order = new Map();
    for (const row of rows) {
      let entry = this.rendered.get(row.key);
      if (!entry || entry.message !== row.message || entry.sig !== row.sig) {
        const el = row.render(entry?.el ?? null);
        if (entry) {
          const focused = entry.el === document.activeElement;
          if (entry.el === cursor) cursor = el;
          entry.el.replaceWith(el);
          if (focused) el.focus({ preventScroll: true }); // a reaction arriving keeps focus
        }
        entry = { el, message: row.message, sig: row.sig };
      }
      order.set(row.key, entry);
      if (entry.el === cursor) cursor = cursor.nextSibling;
      else this.el.insertBefore(entry.el, cursor);
    }
    this.rendered = order;
    this.rovingTabStop();
  }

  // The first message in view and where it is: found by bisection (they are in order).
  anchor() {
    const top = this.scroller.getBoundingClientRect().top;
    const entries = [...this.rendered];
    let low = 0;
    let high = entries.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (entries[mid][1].el.getBoundingClientRect().bottom > top) high = mid;
      else low = mid + 1;
    }
    if (low >= entries.length) return null;
    return { key: entries[low][0], top: entries[low][1].el.getBoundingClientRect().top };
  }

  // Scrolls so that the anchor's message is where it was.
  restore(anchor) {
    const el = this.get(anchor.key);
    if (el?.isConnected) this.scroller.scrollTop += el.getBoundingClientRect().top - anchor.top;
  }

  rovingTabStop() {
    const target = (this.rendered.get(this.focusKey) ?? [...this.rendered.values()].at(-1))?.el ?? null;
    if (this.tabStop === target) return;
    if (this.tabStop) this.tabStop.tabIndex = -1;
    if (target) target.tabIndex = 0;
    this.tabStop = target;
  }

  onFocus(event) {
    const article = event.target.closest?.("article.message");
    if (!article) return;
    this.focusKey = article.dataset.messageId ?? `nonce:${article.dataset.nonce}`;
    this.rovingTabStop();
  }

  onKey(event, onEscape) {
    const article = event.target;
    if (!(article instanceof HTMLElement) || !article.matches("article.message")) return;
    const all = [...this.el.children];
    const at = all.indexOf(article);
    const next = { ArrowUp: all[at - 1], ArrowDown: all[at + 1], Home: all[0], End: all.at(-1) }[event.key];
    if (event.key === "Escape") {
      event.preventDefault();
      onEscape();
    } else if (next) {
      event.preventDefault();
      next.focus();
      next.scrollIntoView({ block: "nearest" });
    }
  }
}
