// "Ada is typing…": who is typing in a channel, from TYPING_START (the store's typing:{id}
// topic). Each lasts 10 s unless renewed (clients renew every 8 s), or until their message.
import { h, replace } from "./dom.js";
import { subscribe, userName } from "./store.js";

const TYPING_MS = 10_000;

// me(): the viewer's id (their own typing is not shown). Returns {el, stop(userId), destroy()}.
export function createTypingLine(channelId, guildId, me) {
  const typers = new Map(); // userId → timer
  const el = h("div", { class: "typing-line", attrs: { "aria-live": "polite", "data-testid": "typing" } });

  function render() {
    const names = [...typers.keys()].map((id) => userName(id, guildId));
    const text =
      names.length === 0 ? "" :
      names.length === 1 ? `${names[0]} is typing…` :
      names.length <= 3 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…` :
      "Several people are typing…";
    replace(el, text ? h("span", { class: "typing-dots", attrs: { "aria-hidden": "true" } }) : null, text);
  }

  function stop(userId) {
    if (!typers.has(userId)) return;
    clearTimeout(typers.get(userId));
    typers.delete(userId);
    render();
  }

  const unsubscribe = subscribe(`typing:${channelId}`, (d) => {
    if (!d?.user_id || d.user_id === me()) return;
    clearTimeout(typers.get(d.user_id));
    typers.set(d.user_id, setTimeout(() => stop(d.user_id), TYPING_MS));
    render();
  });

  return {
    el,
    stop,
    destroy() {
      unsubscribe();
      for (const timer of typers.values()) clearTimeout(timer);
    },
  };
}
