// A message's embeds (bots and webhooks send them): a card with a coloured edge, author,
// title (a link when its url is http(s)), description and fields as markdown, and footer.
// Embed images are not fetched: they would be requests to other origins.
import { h, safeHref } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

const MAX_EMBEDS = 10;
const MAX_FIELDS = 25;

export function renderEmbeds(message, names) {
  const embeds = (Array.isArray(message.embeds) ? message.embeds : []).filter((e) => e && typeof e === "object");
  if (!embeds.length) return null;
  return h("div", { class: "embeds" }, embeds.slice(0, MAX_EMBEDS).map((embed) => renderEmbed(embed, names)));
}

function renderEmbed(embed, names) {
  const el = h(
    "article",
    { class: "embed", attrs: { "data-testid": "embed" } },
    embed.author?.name ? h("div", { class: "embed-author" }, text(embed.author.name)) : null,
    embed.title ? title(embed) : null,
    embed.description ? h("div", { class: "embed-description" }, renderMarkdown(text(embed.description), names)) : null,
    fields(embed.fields, names),
    embed.footer?.text ? h("div", { class: "embed-footer" }, text(embed.footer.text), timestamp(embed.timestamp)) : null,
  );
  if (Number.isInteger(embed.color) && embed.color >= 0 && embed.color <= 0xffffff) {
    el.style.setProperty("--embed-color", `#${embed.color.toString(16).padStart(6, "0")}`);
  }
  return el;
}

function title(embed) {
  const href = embed.url ? safeHref(embed.url) : null;
  if (!href || !/^https?:/.test(String(embed.url))) return h("div", { class: "embed-title" }, text(embed.title));
  return h(
    "a",
    { class: "embed-title", attrs: { href, rel: "noopener noreferrer nofollow", target: "_blank" } },
    text(embed.title),
  );
}

function fields(list, names) {
  if (!Array.isArray(list) || !list.length) return null;
  return h(
    "div",
    { class: "embed-fields" },
    list.slice(0, MAX_FIELDS).filter((f) => f && typeof f === "object").map((field) =>
      h(
        "div",
        { class: field.inline ? "embed-field inline" : "embed-field" },
        h("div", { class: "embed-field-name" }, renderMarkdown(text(field.name), names)),
        h("div", { class: "embed-field-value" }, renderMarkdown(text(field.value), names)),
      ),
    ),
  );
}

function timestamp(value) {
  const date = value ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) return null;
  const label = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(date);
  return [" • ", h("time", { attrs: { datetime: date.toISOString() } }, label)];
}

// Whatever a bot put there, as a string (objects and numbers included).
function text(value) {
  return typeof value === "string" ? value : value == null ? "" : JSON.stringify(value);
}
