// The channel's pinned messages, in a popover under the header's pin button: each can be
// jumped to, and unpinned by those who may.
import { describe, request } from "./api.js";
import { h, replace } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { authorName } from "./message.js";
import { subscribe } from "./store.js";

let open = null; // the one popover shown: {channelId, reload, close}

// The popover belongs to the view that opened it: a route change closes it (and the view's
// destroy() calls closePins too), so neither it nor its listener outlives the view.
export function closePins() {
  open?.close();
}
subscribe("route", closePins);

// options: {jump(id), canPin, unpinned(id)}
export function openPins(anchor, channelId, options) {
  if (open) {
    const same = open.anchor === anchor;
    open.close();
    if (same) return; // the button toggles
  }
  const body = h("div", { class: "pins-body" }, h("p", { class: "muted" }, "Loading…"));
  const popover = h(
    "div",
    {
      class: "pins-popover",
      attrs: { role: "dialog", "aria-label": "Pinned messages", "data-testid": "pins-popover" },
      on: { keydown: (event) => event.key === "Escape" && close() },
    },
    h("h3", { class: "pins-title" }, "Pinned messages"),
    body,
  );
  const outside = (event) => {
    if (!popover.contains(event.target) && !anchor.contains(event.target)) close();
  };
  function close() {
    popover.remove();
    document.removeEventListener("pointerdown", outside, true);
    if (open?.close === close) open = null;
    if (anchor.isConnected) anchor.focus();
  }
  open = { anchor, channelId, close, reload: () => load(body, channelId, options, close) };
  anchor.after(popover);
  document.addEventListener("pointerdown", outside, true);
  popover.tabIndex = -1;
  popover.focus();
  load(body, channelId, options, close);
}

// CHANNEL_PINS_UPDATE: the list shown, if it is this channel's, is read again.
export function refreshPins(channelId) {
  if (open?.channelId === channelId) open.reload();
}

async function load(body, channelId, options, close) {
  let pins;
  try {
    pins = await request("GET", `/channels/${encodeURIComponent(channelId)}/pins`);
  } catch (error) {
    replace(body, h("p", { class: "log-error", attrs: { role: "alert" } }, describe(error)));
    return;
  }
  if (!pins?.length) {
    replace(body, h("p", { class: "muted" }, "This channel doesn't have any pinned messages yet."));
    return;
  }
  replace(
    body,
    h(
      "ul",
      { class: "pins-list", attrs: { role: "list" } },
      pins.map((message) =>
        h(
          "li",
          { class: "pin", dataset: { pinId: message.id } },
          h("div", { class: "pin-author" }, authorName(message)),
          h("div", { class: "message-content" }, renderMarkdown(message.content || "")),
          h(
            "div",
            { class: "pin-actions" },
            h("button", {
              type: "button",
              class: "link-button",
              on: {
                click: () => {
                  close();
                  options.jump(message.id);
                },
              },
            }, "Jump"),
            options.canPin
              ? h("button", {
                  type: "button",
                  class: "link-button",
                  on: {
                    click: async () => {
                      try {
                        const path = `/channels/${encodeURIComponent(channelId)}/pins/${encodeURIComponent(message.id)}`;
                        await request("DELETE", path);
                        options.unpinned?.(message.id);
                        load(body, channelId, options, close);
                      } catch (error) {
                        const text = describe(error, { needs: "Pin Messages" });
                        replace(body, h("p", { class: "log-error", attrs: { role: "alert" } }, text));
                      }
                    },
                  },
                }, "Unpin")
              : null,
          ),
        ),
      ),
    ),
  );
}
