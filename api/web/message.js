// One message as an element: author and time (or none, when grouped with the one before),
// the reply it answers, its content as markdown, "(edited)", attachments, components,
// reactions, and a toolbar of what the viewer may do with it.
import { h, replace } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { renderEmbeds } from "./message_embeds.js";
import { renderReactions } from "./reactions.js";

const EPHEMERAL = 64;
const LOADING = 128; // an interaction's deferred answer, until the bot sends it
const TIME = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const DAY_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });
const FULL = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

// community's components.js is loaded apart: if it fails, messages still render (without
// buttons). Views re-render messages with components once it is there (componentsReady).
let renderComponents = null;
export const componentsReady = import("./components.js")
  .then((module) => {
    renderComponents = module.renderComponents || null;
  })
  .catch(() => {});

export function authorName(message) {
  const author = message.author || {};
  return message.member?.nick || author.global_name || author.username || "Unknown";
}

// view: {me, myRoles, grouped, editing, canManage, canPin, names: {mention, channel, role, onChannel},
// actions: {reply, edit, remove, react, toggleReaction, pin, jump, retry, discard, saveEdit,
// cancelEdit}}
export function renderMessage(message, view) {
  const classes = ["message"];
  if (view.grouped) classes.push("grouped");
  if (message.pending) classes.push("pending");
  if (message.failed) classes.push("failed");
  if (mentionsMe(message, view.me, view.myRoles)) classes.push("mentioned");
  const el = h("article", {
    class: classes.join(" "),
    tabIndex: -1,
    attrs: { "aria-label": `${authorName(message)}, ${FULL.format(when(message))}` },
  });
  if (view.newDay) {
    el.classList.add("new-day");
    el.dataset.day = view.newDay; // the divider's label (messages.css)
  }
  if (message.pending) el.dataset.nonce = message.nonce;
  else el.dataset.messageId = message.id;
  if ((message.message_reference || message.interaction_metadata?.name) && !view.grouped) el.classList.add("reply");
  replace(
    el,
    message.message_reference ? replyLine(message, view) : null,
    message.interaction_metadata?.name ? commandLine(message) : null,
    view.grouped ? gutterTime(message) : avatar(message),
    h(
      "div",
      { class: "message-body" },
      view.grouped ? null : header(message),
      view.editing ? editor(message, view) : content(message, view),
      message.flags & LOADING ? h("div", { class: "thinking" }, `${authorName(message)} is thinking…`) : null,
      renderEmbeds(message, mentionNames(message, view.names)),
      attachments(message),
      components(message),
      message.reactions?.length
        ? renderReactions(message, (emoji) => view.actions.toggleReaction(message, emoji))
        : null,
      message.failed ? failure(message, view) : null,
      message.flags & EPHEMERAL ? h("div", { class: "ephemeral-note" }, "Only you can see this") : null,
    ),
    message.pending || view.editing ? null : toolbar(message, view),
  );
  return el;
}

function when(message) {
  return new Date(message.timestamp || Date.now());
}

function mentionsMe(message, me, myRoles = []) {
  if (!me || message.pending) return false;
  return Boolean(
    message.mention_everyone ||
      message.mentions?.some((u) => u.id === me) ||
      message.mention_roles?.some((id) => myRoles.includes(id)),
  );
}

function header(message) {
  const date = when(message);
  const author = message.author || {};
  return h(
    "header",
    { class: "message-header" },
    h("span", { class: "message-author", dataset: { userId: author.id || "" } }, authorName(message)),
    author.bot ? h("span", { class: "bot-tag" }, "BOT") : null,
    timeEl(date, dayLabel(date), "message-time"),
  );
}

function gutterTime(message) {
  const date = when(message);
  return timeEl(date, TIME.format(date), "gutter-time");
}

function timeEl(date, label, cls) {
  return h("time", { class: cls, title: FULL.format(date), attrs: { datetime: date.toISOString() } }, label);
}

function dayLabel(date) {
  const day = new Date();
  if (date.toDateString() === day.toDateString()) return `Today at ${TIME.format(date)}`;
  day.setDate(day.getDate() - 1);
  if (date.toDateString() === day.toDateString()) return `Yesterday at ${TIME.format(date)}`;
  return DAY_TIME.format(date);
}

// Avatars are the person's initial on a colour picked from their id: no image requests.
function avatar(message) {
  const author = message.author || {};
  // (Hashed: ids made moments apart differ only in their low bits.)
  const hue = [...String(author.id || "")].reduce((sum, c) => (Math.imul(sum, 31) + c.charCodeAt(0)) >>> 0, 7) % 360;
  const el = h("div", { class: "avatar", attrs: { "aria-hidden": "true" } }, authorName(message).slice(0, 1).toUpperCase());
  el.style.setProperty("--avatar-hue", String(hue));
  return el;
}

function replyLine(message, view) {
  const original = message.referenced_message;
  const target = message.message_reference.message_id;
  if (!original) {
    return h("div", { class: "message-replied missing" }, "Original message was deleted");
  }
  const snippet = (original.content || (original.attachments?.length ? "Click to see attachment" : "")).slice(0, 120);
  return h(
    "button",
    {
      type: "button",
      class: "message-replied",
      dataset: { jumpTo: target },
      attrs: { "aria-label": `Replying to ${authorName(original)}: jump to the original message` },
      on: { click: () => view.actions.jump(target) },
    },
    h("span", { class: "replied-author" }, `@${authorName(original)}`),
    " ",
    h("span", { class: "replied-text" }, snippet),
  );
}

// "ada used /tea" above a command's answer.
function commandLine(message) {
  const meta = message.interaction_metadata;
  const user = meta.user || {};
  return h(
    "div",
    { class: "message-replied command-used" },
    h("span", { class: "replied-author" }, user.global_name || user.username || "Someone"),
    " used ",
    h("span", { class: "command-name" }, `/${meta.name}`),
  );
}

function content(message, view) {
  const el = h("div", { class: "message-content" });
  if (message.content) el.append(renderMarkdown(message.content, mentionNames(message, view.names)));
  if (message.edited_timestamp) {
    const edited = new Date(message.edited_timestamp);
    el.append(" ", h("span", { class: "edited", title: FULL.format(edited) }, "(edited)"));
  }
  return el;
}

// A mention's name: from the message's own mentions first (the server resolved them), then the
// viewer's store.
function mentionNames(message, names) {
  return {
    ...names,
    mention: (id) => {
      const user = message.mentions?.find((u) => u.id === id);
      return names.mention?.(id) ?? (user ? user.global_name || user.username : null);
    },
  };
}

function editor(message, view) {
  const input = h("textarea", {
    class: "edit-input",
    value: view.editDraft ?? message.content ?? "",
    rows: 1,
    attrs: { "aria-label": "Edit message", "data-testid": "edit-input" },
  });
  const save = () => view.actions.saveEdit(message, input.value);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      save();
    } else if (event.key === "Escape") {
      event.preventDefault();
      view.actions.cancelEdit();
    }
  });
  input.addEventListener("input", () => fit(input));
  queueMicrotask(() => {
    fit(input);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  });
  return h(
    "div",
    { class: "message-editor" },
    input,
    h(
      "div",
      { class: "edit-hint" },
      "Escape to ",
      h("button", { type: "button", class: "link-button", on: { click: () => view.actions.cancelEdit() } }, "cancel"),
      " · Enter to ",
      h("button", { type: "button", class: "link-button", on: { click: save } }, "save"),
    ),
  );
}

export function fit(textarea) {
  textarea.style.setProperty("height", "auto");
  textarea.style.setProperty("height", `${Math.min(textarea.scrollHeight, 320)}px`);
}

function attachments(message) {
  if (!message.attachments?.length) return null;
  return h("div", { class: "attachments" }, message.attachments.map(attachment));
}

function attachment(file) {
  const isImage = /^image\/(png|jpeg|gif|webp|avif)$/.test(file.content_type || "");
  if (isImage && file.url) {
    const img = h("img", {
      class: "attachment-image",
      alt: file.description || file.filename || "image",
      loading: "lazy",
      decoding: "async",
    });
    if (file.width && file.height) {
      img.width = file.width;
      img.height = file.height;
    }
    img.src = file.url; // a signed link from the server; CSP allows only our own origin
    return h("a", { class: "attachment", attrs: { href: file.url, target: "_blank", rel: "noopener noreferrer" } }, img);
  }
  if (file.progress !== undefined) {
    return h(
      "div",
      { class: "attachment file uploading" },
      h("span", { class: "file-name" }, file.filename),
      h("progress", { max: 1, value: file.progress, attrs: { "aria-label": `Uploading ${file.filename}` } }),
    );
  }
  return h(
    "div",
    { class: "attachment file" },
    h("span", { class: "file-icon", attrs: { "aria-hidden": "true" } }, "📄"),
    h(
      "a",
      { class: "file-name", attrs: { href: file.url, download: file.filename, rel: "noopener noreferrer" } },
      file.filename,
    ),
    h("span", { class: "file-size" }, size(file.size)),
  );
}

export function size(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function components(message) {
  if (!message.components?.length || !renderComponents) return null;
  try {
    return renderComponents(message);
  } catch {
    return null;
  }
}

function failure(message, view) {
  return h(
    "div",
    { class: "message-error", attrs: { role: "alert" } },
    h("span", {}, message.error || "Not sent."),
    " ",
    h("button", { type: "button", class: "link-button", on: { click: () => view.actions.retry(message) } }, "Retry"),
    " ",
    h("button", { type: "button", class: "link-button", on: { click: () => view.actions.discard(message) } }, "Discard"),
  );
}

function toolbar(message, view) {
  const mine = message.author?.id === view.me;
  const button = (label, name, run, testid) =>
    h(
      "button",
      {
        type: "button",
        class: "icon-button",
        title: label,
        attrs: { "aria-label": label, "data-testid": testid },
        on: { click: (event) => run(event.currentTarget) },
      },
      icon(name),
    );
  return h(
    "div",
    { class: "message-actions", attrs: { role: "toolbar", "aria-label": "Message actions" } },
    button("Add reaction", "smile", (anchor) => view.actions.react(message, anchor), "react-button"),
    button("Reply", "reply", () => view.actions.reply(message), "reply-button"),
    mine ? button("Edit", "edit", () => view.actions.edit(message), "edit-button") : null,
    view.canPin
      ? button(message.pinned ? "Unpin" : "Pin", "pin", () => view.actions.pin(message), "pin-button")
      : null,
    mine || view.canManage ? button("Delete", "trash", () => view.actions.remove(message), "delete-button") : null,
  );
}

// Small line icons drawn as SVG (no icon font, no image requests), in the text's colour.
const ICONS = {
  smile: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M8 14c1 1.5 2.3 2.2 4 2.2s3-.7 4-2.2", "M9 9.5h.01M15 9.5h.01"],
  reply: ["M10 8 5 12.5 10 17", "M5.5 12.5H14a5 5 0 0 1 5 5V19"],
  edit: ["M4 20h4L19 9l-4-4L4 16v4z", "M13.5 6.5l4 4"],
  pin: ["M9 4h6l-1 6 3 3H7l3-3-1-6z", "M12 13v7"],
  trash: ["M4 7h16", "M9 7V4h6v3", "M6 7l1 13h10l1-13", "M10 11v6M14 11v6"],
  send: ["M4 12 20 4l-6 16-2.5-6.5L4 12z", "M11.5 13.5 20 4"],
};

export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  for (const [key, value] of Object.entries({ viewBox: "0 0 24 24", width: "20", height: "20", "aria-hidden": "true", class: "icon" })) {
    svg.setAttribute(key, value);
  }
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}
