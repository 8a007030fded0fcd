// What a person does to messages from the channel view: send (shown at once as pending, then
// replaced by the server's message with the same nonce; a failure stays with Retry and
// Discard), reply, edit, delete after confirming, react, pin.
import { describe, request, upload } from "./api.js";
import { openDialog } from "./dialog.js";
import { h } from "./dom.js";
import { authorName } from "./message.js";
import { emojiKey, openPicker } from "./reactions.js";
import { state } from "./store.js";
import { showError } from "./toast.js";

// view: the ChannelView (messages.js) these act on.
export function createActions(view) {
  // (Every id placed in a path is encoded: a route's id must never reach another endpoint.)
  const path = `/channels/${encodeURIComponent(view.channelId)}/messages`;
  const at = (message) => `${path}/${encodeURIComponent(message.id)}`;
  // The message as the window holds it now: a message's element is updated in place, so its
  // controls may have been made for an earlier version of it (message_list.js).
  const fresh = (m) => (m.pending ? m : (view.window.get(m.id) ?? m));

  async function send({ content, files, replyTo }) {
    if (view.window.hasNewer) await view.loadLatest();
    const p = {
      pending: true,
      nonce: makeNonce(),
      content,
      files,
      author: state.me || { id: view.me, username: "You" },
      timestamp: new Date().toISOString(),
      attachments: files.map((f) => ({ filename: f.name, size: f.size, progress: 0 })),
      message_reference: replyTo ? { message_id: replyTo.id } : undefined,
      referenced_message: replyTo || undefined,
    };
    view.pending.push(p);
    view.stuck = true; // your own message brings the view to the newest
    view.pinnedTop = 0;
    view.keepingPlace(() => {});
    transmit(p);
  }

  // Sends (or sends again) a pending message. Its nonce is enforced, so a retry of a send
  // that did reach the server answers the first message instead of making a second.
  async function transmit(p) {
    updatePending(p, { failed: false, error: null });
    const body = { content: p.content, nonce: p.nonce, enforce_nonce: true };
    if (p.message_reference) body.message_reference = { message_id: p.message_reference.message_id, fail_if_not_exists: false };
    try {
      let message;
      if (p.files.length) {
        const form = new FormData();
        form.append("payload_json", JSON.stringify({ ...body, attachments: p.files.map((f, i) => ({ id: i, filename: f.name })) }));
        p.files.forEach((f, i) => form.append(`files[${i}]`, f, f.name));
        message = await upload(path, form, (fraction) =>
          updatePending(p, { attachments: p.files.map((f) => ({ filename: f.name, size: f.size, progress: fraction })) }),
        );
      } else {
        message = await request("POST", path, { json: body });
      }
      if (!view.destroyed && message) view.onCreate(message);
    } catch (error) {
      updatePending(p, { failed: true, error: describe(error, { needs: p.files.length ? "Attach Files" : "Send Messages" }) });
    }
  }

  // Pending messages are replaced, not changed, on update (the view re-renders new objects).
  function updatePending(p, change) {
    const at = view.pending.findIndex((x) => x.nonce === p.nonce);
    if (at < 0) return;
    view.pending[at] = { ...view.pending[at], ...change };
    view.sync();
  }

  async function saveEdit(shown, text) {
    const message = fresh(shown);
    if (text === message.content) return view.startEdit(null);
    if (!text.trim()) return remove(message);
    try {
      const edited = await request("PATCH", at(message), { json: { content: text } });
      view.editingId = null;
      view.change(() => view.window.revise(edited));
      view.composer.focus();
    } catch (error) {
      showError(error);
    }
  }

  function remove(shown) {
    const message = fresh(shown);
    return openDialog({
      title: "Delete message",
      testid: "delete-dialog",
      body: h(
        "div",
        {},
        h("p", {}, "Are you sure you want to delete this message?"),
        h("blockquote", { class: "dialog-quote" }, (message.content || "").slice(0, 300)),
      ),
      actions: [
        {
          label: "Delete",
          primary: true,
          danger: true,
          testid: "confirm-delete",
          run: async () => {
            try {
              await request("DELETE", at(message));
            } catch (error) {
              const others = message.author?.id !== view.me;
              throw new Error(describe(error, others ? { needs: "Manage Messages" } : {}));
            }
            view.onDelete(message.id);
          },
        },
      ],
    });
  }

  // Shown at once; the gateway's echo of our own change is then a no-op (applyReaction).
  async function toggleReaction(message, emoji) {
    const current = view.window.get(message.id);
    if (!current) return;
    const mine = current.reactions?.find((r) => emojiKey(r.emoji) === emojiKey(emoji))?.me;
    const d = { user_id: view.me, emoji };
    const [t, undo] = mine
      ? ["MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_ADD"]
      : ["MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE"];
    view.onEvent({ kind: "reactions", message: current, t, data: d });
    try {
      await request(mine ? "DELETE" : "PUT", `${at(message)}/reactions/${encodeURIComponent(emojiKey(emoji))}/@me`);
    } catch (error) {
      view.onEvent({ kind: "reactions", message: current, t: undo, data: d });
      showError(describe(error, mine ? {} : { needs: "Add Reactions" }));
    }
  }

  async function pin(shown) {
    const message = fresh(shown);
    try {
      const pins = `/channels/${encodeURIComponent(view.channelId)}/pins/${encodeURIComponent(message.id)}`;
      await request(message.pinned ? "DELETE" : "PUT", pins);
      view.change(() => view.window.update(message.id, (old) => ({ ...old, pinned: !message.pinned })));
    } catch (error) {
      // The server takes Manage Messages or Pin Messages; it names the latter.
      showError(describe(error, { needs: "Pin Messages" }));
    }
  }

  return {
    send,
    reply: (m) => view.composer.setReply({ ...fresh(m), authorName: authorName(fresh(m)) }),
    edit: (m) => view.startEdit(m.id),
    cancelEdit: () => view.startEdit(null),
    saveEdit,
    remove,
    // (If the toolbar's button is gone when the picker closes, the message takes the focus.)
    react: (m, anchor) => openPicker(anchor, (name) => toggleReaction(m, { id: null, name }), () => view.messages.get(m.id)),
    toggleReaction,
    pin,
    jump: (id) => view.jumpTo(id),
    retry: (p) => transmit(p),
    discard: (p) => {
      view.pending = view.pending.filter((x) => x.nonce !== p.nonce);
      view.sync();
    },
  };
}

// A snowflake-shaped nonce: unique per send; a retry reuses it.
function makeNonce() {
  const ms = BigInt(Date.now() - 1420070400000);
  return String((ms << 22n) | BigInt(Math.floor(Math.random() * 4194304)));
}
