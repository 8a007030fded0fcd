// The channel's pinned messages, in a popover under the header's pin button: each can be
// jumped to, and unpinned by those who may.
import { describe, request } from "./api.js";
import { h, replace } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { authorName } from "./message.js";

let open = null; // the one popover shown: {channelId, reload, close}

// options: {jump(id), canPin, unpinned(id)}
export function openPins(anchor, channelId, options) {
  if (open) return open.close();
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
    open = null;
    anchor.focus();
  }
  open = { channelId, close, reload: () => load(body, channelId, options, close) };
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
    pins = await request("GET", `/channels/${channelId}/pins`);
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
                        await request("DELETE", `/channels/${channelId}/pins/${message.id}`);
                        options.unpinned?.(message.id);
                        load(body, channelId, options, close);
                      } catch (error) {
                        replace(body, h("p", { class: "log-error", attrs: { role: "alert" } }, describe(error)));
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
