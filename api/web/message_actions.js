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
  const path = `/channels/${view.channelId}/messages`;

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
      updatePending(p, { failed: true, error: describe(error) });
    }
  }

  // Pending messages are replaced, not changed, on update (the view re-renders new objects).
  function updatePending(p, change) {
    const at = view.pending.findIndex((x) => x.nonce === p.nonce);
    if (at < 0) return;
    view.pending[at] = { ...view.pending[at], ...change };
    view.sync();
  }

  async function saveEdit(message, text) {
    if (text === message.content) return view.startEdit(null);
    if (!text.trim()) return remove(message);
    try {
      const edited = await request("PATCH", `${path}/${message.id}`, { json: { content: text } });
      view.editingId = null;
      view.change(() => view.window.update(message.id, (old) => ({ ...old, ...edited, reactions: old.reactions })));
      view.composer.focus();
    } catch (error) {
      showError(error);
    }
  }

  function remove(message) {
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
            await request("DELETE", `${path}/${message.id}`);
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
      await request(mine ? "DELETE" : "PUT", `${path}/${message.id}/reactions/${encodeURIComponent(emojiKey(emoji))}/@me`);
    } catch (error) {
      view.onEvent({ kind: "reactions", message: current, t: undo, data: d });
      showError(error);
    }
  }

  async function pin(message) {
    try {
      await request(message.pinned ? "DELETE" : "PUT", `/channels/${view.channelId}/pins/${message.id}`);
      view.change(() => view.window.update(message.id, (old) => ({ ...old, pinned: !message.pinned })));
    } catch (error) {
      showError(error);
    }
  }

  return {
    send,
    reply: (m) => view.composer.setReply({ ...m, authorName: authorName(m) }),
    edit: (m) => view.startEdit(m.id),
    cancelEdit: () => view.startEdit(null),
    saveEdit,
    remove,
    react: (m, anchor) => openPicker(anchor, (name) => toggleReaction(m, { id: null, name })),
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
