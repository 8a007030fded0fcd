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
        const fresh = row.render(entry?.el ?? null);
        // A message shown already is updated in place: the log is a live region, and a node
        // put in again would be announced again (an edit, a reaction: the whole message).
        const el = entry ? update(entry.el, fresh) : fresh;
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

// Brings a message's element in line with a fresh rendering of it, keeping the parts that
// are the same (only what changed is added to the live region) and the element itself (its
// roving tabindex, its place). Parts kept keep their listeners: those act by the message's
// id (message_actions.js looks the message up again), so a kept part is as good as new.
function update(el, fresh) {
  const focused = el.contains(document.activeElement) ? document.activeElement : null;
  for (const { name } of [...el.attributes]) {
    if (name !== "tabindex" && !fresh.hasAttribute(name)) el.removeAttribute(name);
  }
  for (const { name, value } of [...fresh.attributes]) {
    if (name !== "tabindex" && el.getAttribute(name) !== value) el.setAttribute(name, value);
  }
  updateChildren(el, fresh);
  if (focused && !focused.isConnected) refocus(el, focused); // a reaction arriving keeps focus
  return el;
}

// Children in order: an equal one is kept, the message's body (no listeners of its own) is
// updated the same way, anything else that differs is replaced.
function updateChildren(el, fresh) {
  const old = [...el.childNodes];
  let at = 0;
  for (const child of [...fresh.childNodes]) {
    const same = old.findIndex((node, i) => i >= at && node.isEqualNode(child));
    if (same >= 0) {
      for (const gone of old.slice(at, same)) gone.remove();
      at = same + 1;
    } else if (isBody(old[at]) && isBody(child)) {
      updateChildren(old[at], child);
      at += 1;
    } else {
      el.insertBefore(child, old[at] ?? null);
    }
  }
  for (const gone of old.slice(at)) gone.remove();
}

function isBody(node) {
  return node instanceof Element && node.classList.contains("message-body");
}

// The focus was on a part replaced: onto the same control in the new part, else the message.
function refocus(el, lost) {
  for (const name of ["data-testid", "data-emoji", "data-custom-id", "aria-label"]) {
    const value = lost.getAttribute(name);
    if (value === null) continue;
    const match = el.querySelector(`${lost.tagName}[${name}="${CSS.escape(value)}"]`);
    if (match) return match.focus({ preventScroll: true });
  }
  el.focus({ preventScroll: true });
}
