// Reactions: a pill per emoji with its count and whether the viewer is among them, a small
// picker of common emoji, and the folding of the gateway's reaction events into a message.
import { h } from "./dom.js";
import { subscribe } from "./store.js";

export const COMMON_EMOJI = [
  "👍", "👎", "😂", "❤️", "🎉", "😮", "😢", "😡",
  "🔥", "👀", "✅", "❌", "🙏", "💯", "🚀", "🤔",
];

// The route's form of an emoji: the character itself, or name:id for a custom one.
export function emojiKey(emoji) {
  return emoji.id ? `${emoji.name}:${emoji.id}` : emoji.name;
}

function label(emoji) {
  return emoji.id ? `:${emoji.name}:` : emoji.name;
}

// toggle(emoji) is called with the reaction's emoji object when its pill is clicked.
export function renderReactions(message, toggle) {
  return h(
    "div",
    { class: "reactions", attrs: { role: "group", "aria-label": "Reactions" } },
    message.reactions.map((reaction) =>
      h(
        "button",
        {
          type: "button",
          class: reaction.me ? "reaction me" : "reaction",
          dataset: { emoji: emojiKey(reaction.emoji) },
          attrs: {
            "aria-pressed": reaction.me ? "true" : "false",
            "aria-label": `${label(reaction.emoji)}, ${reaction.count} reaction${reaction.count === 1 ? "" : "s"}`,
          },
          on: { click: () => toggle(reaction.emoji) },
        },
        h("span", { class: "reaction-emoji" }, label(reaction.emoji)),
        h("span", { class: "reaction-count" }, String(reaction.count)),
      ),
    ),
  );
}

// Folds one reaction event into a message's reactions; returns whether anything changed.
// me: the viewer's user id (their own add/remove flips `me`).
export function applyReaction(message, t, d, me) {
  const list = message.reactions ? [...message.reactions] : [];
  const key = d.emoji ? emojiKey(d.emoji) : null;
  const index = key === null ? -1 : list.findIndex((r) => emojiKey(r.emoji) === key);
  if (t === "MESSAGE_REACTION_REMOVE_ALL") {
    message.reactions = [];
  } else if (t === "MESSAGE_REACTION_REMOVE_EMOJI") {
    if (index >= 0) list.splice(index, 1);
    message.reactions = list;
  } else if (t === "MESSAGE_REACTION_ADD") {
    const mine = d.user_id === me;
    if (index >= 0) {
      const found = list[index];
      if (mine && found.me) return false; // our own optimistic add, confirmed
      list[index] = { ...found, count: found.count + 1, me: found.me || mine };
    } else {
      list.push({ emoji: { id: d.emoji.id ?? null, name: d.emoji.name }, count: 1, me: mine });
    }
    message.reactions = list;
  } else if (t === "MESSAGE_REACTION_REMOVE") {
    if (index < 0) return false;
    const found = list[index];
    const mine = d.user_id === me;
    if (mine && !found.me) return false; // our own optimistic remove, confirmed
    const count = found.count - 1;
    if (count <= 0) list.splice(index, 1);
    else list[index] = { ...found, count, me: mine ? false : found.me };
    message.reactions = list;
  } else {
    return false;
  }
  return true;
}

let openClose = null; // the picker shown (one at a time): its close()

// The picker is on <body>, outside any view: the view that opened it closes it when it goes
// (ChannelView.destroy), and so does any route change.
export function closePicker() {
  openClose?.({ refocus: false });
}
subscribe("route", closePicker);

// A popover of common emoji beside `anchor`; pick(emojiChar) on choice. Returns close().
// fallback() → the element to focus on closing if `anchor` has left the page meanwhile.
export function openPicker(anchor, pick, fallback = () => null) {
  closePicker();
  // refocus: false when the focus is going elsewhere anyway (Tab, a click outside, a route).
  const close = ({ refocus = true } = {}) => {
    if (openClose !== close) return;
    openClose = null;
    popover.remove();
    document.removeEventListener("pointerdown", outside, true);
    // (Focused first: once the focus is back in the message, its toolbar stays shown.)
    if (refocus) {
      for (const target of [anchor, fallback()]) {
        target?.focus?.({ preventScroll: true });
        if (target && document.activeElement === target) break;
      }
    }
    owner?.classList.remove("popover-open");
  };
  // The anchor's message keeps its toolbar shown while the picker is open (else the anchor,
  // hidden, could not take the focus back).
  const owner = anchor.closest?.(".message");
  owner?.classList.add("popover-open");
  const outside = (event) => {
    if (!popover.contains(event.target)) close({ refocus: false });
  };
  const buttons = COMMON_EMOJI.map((emoji) =>
    h(
      "button",
      {
        type: "button",
        class: "picker-emoji",
        attrs: { role: "menuitem", "aria-label": `React with ${emoji}` },
        on: {
          click: () => {
            close();
            pick(emoji);
          },
        },
      },
      emoji,
    ),
  );
  const popover = h(
    "div",
    {
      class: "emoji-picker",
      attrs: { role: "menu", "aria-label": "Add reaction", "data-testid": "emoji-picker" },
      on: {
        keydown: (event) => keys(event, buttons, close),
        // Tab (or anything) taking the focus out of the picker closes it.
        focusout: (event) => {
          if (!popover.contains(event.relatedTarget)) close({ refocus: false });
        },
      },
    },
    buttons,
  );
  openClose = close;
  document.body.append(popover);
  place(popover, anchor);
  document.addEventListener("pointerdown", outside, true);
  buttons[0].focus();
  return close;
}

// Arrow keys move through the grid, Escape closes. Tab closes too, from the anchor: the
// focus goes back to it and the Tab then moves on from there, as out of any menu.
function keys(event, buttons, close) {
  const at = buttons.indexOf(document.activeElement);
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 }[event.key];
  if (event.key === "Escape") {
    event.preventDefault();
    close();
  } else if (event.key === "Tab") {
    close();
  } else if (step && at >= 0) {
    event.preventDefault();
    buttons[(at + step + buttons.length) % buttons.length].focus();
  }
}

function place(popover, anchor) {
  const box = anchor.getBoundingClientRect();
  const width = popover.offsetWidth;
  const height = popover.offsetHeight;
  const left = Math.max(8, Math.min(box.right - width, window.innerWidth - width - 8));
  const top = box.top - height - 6 > 8 ? box.top - height - 6 : Math.min(box.bottom + 6, window.innerHeight - height - 8);
  popover.style.setProperty("left", `${left}px`);
  popover.style.setProperty("top", `${top}px`);
}
