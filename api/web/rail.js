// The guild rail: home (DMs and friends), one button per guild (icon or initials, an unread
// dot), and the create / join buttons, which open the community views' dialogs.
import { callFeature } from "./app.js";
import { appLink, h, redraw, replace } from "./dom.js";
import { icon } from "./icons.js";
import { isUnread, state, subscribe } from "./store.js";

export function initials(name) {
  const words = String(name || "?").trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? words.slice(0, 3).map((w) => [...w][0]) : [...(words[0] || "?")].slice(0, 1);
  return letters.join("");
}

function guildUnread(guild) {
  for (const channel of guild.channels.values()) if (channel.type === 0 && isUnread(channel)) return true;
  return false;
}

function dmsUnread() {
  for (const channel of state.dms.values()) if (isUnread(channel)) return true;
  return false;
}

function railItem({ path, label, active, unread, content, testid, guildId }) {
  const link = appLink(path, {
    class: `rail-button${active ? " active" : ""}`,
    attrs: { "aria-label": label, title: label, "aria-current": active ? "page" : null },
    dataset: { testid, ...(guildId ? { guildId } : {}) },
  }, content);
  return h("li", { class: `rail-item${unread ? " unread" : ""}` },
    h("span", { class: "rail-pill", attrs: { "aria-hidden": "true" } }), link);
}

// Trioxide serves no guild icon images (yet), so every guild shows its initials.
function guildIcon(guild) {
  return h("span", { class: "rail-initials", attrs: { "aria-hidden": "true" } }, initials(guild.name));
}

// route(): the current {guildId} ('@me' for home).
export function renderRail(el, route) {
  const draw = () => {
    const current = route().guildId;
    const items = [
      railItem({ path: "/app/channels/@me", label: "Direct messages and friends", active: current === "@me", unread: dmsUnread(), content: h("span", { class: "rail-home", attrs: { "aria-hidden": "true" } }, "O₃"), testid: "rail-home" }),
      h("li", { class: "rail-separator", attrs: { role: "separator" } }),
    ];
    for (const guild of state.guilds.values()) {
      items.push(railItem({
        path: `/app/channels/${guild.id}`,
        label: guild.unavailable ? "Loading guild…" : guild.name,
        active: current === guild.id,
        unread: !guild.unavailable && guildUnread(guild),
        content: guild.unavailable ? h("span", { class: "rail-initials" }, "…") : guildIcon(guild),
        testid: "rail-guild",
        guildId: guild.id,
      }));
    }
    const action = (label, symbol, testid, run) =>
      h("li", { class: "rail-item" },
        h("button", { type: "button", class: "rail-button rail-action", attrs: { "aria-label": label, title: label }, dataset: { testid }, on: { click: run } }, symbol));
    items.push(action("Create a guild", icon("plus", 22), "create-guild", () => callFeature("guild_admin.js", "openCreateGuild")));
    items.push(action("Join a guild", icon("explore", 22), "join-guild", () => callFeature("guild_admin.js", "openJoinGuild")));
    replace(el, h("ul", { class: "rail-list", attrs: { role: "list", "aria-label": "Guilds" } }, items));
  };
  draw();
  const update = () => redraw(el, draw);
  const stops = ["guilds", "unread", "dms", "route"].map((topic) => subscribe(topic, update));
  return () => stops.forEach((stop) => stop());
}
