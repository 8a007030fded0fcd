// A guild's channel list: its header (name and menu button), categories (type 4) holding text
// channels (type 0) in position order, the channels this person can see, unread markers.
import { callFeature } from "./app.js";
import { userId } from "./auth.js";
import { appLink, h, redraw, replace } from "./dom.js";
import { icon } from "./icons.js";
import { isUnread, permissions, PERMS, state, subscribe } from "./store.js";

const TEXT = 0;
const CATEGORY = 4;

const byPosition = (a, b) => (a.position ?? 0) - (b.position ?? 0) || (a.id.length - b.id.length) || (a.id < b.id ? -1 : 1);

function visible(guild, channel) {
  return (permissions(guild.id, channel.id) & PERMS.VIEW_CHANNEL) !== 0n;
}

// The channels a guild's list shows, grouped: [{category|null, channels: [...]}].
export function channelGroups(guild) {
  const all = [...guild.channels.values()];
  const text = all.filter((c) => c.type === TEXT && visible(guild, c)).sort(byPosition);
  const groups = [{ category: null, channels: text.filter((c) => !c.parent_id || !guild.channels.has(c.parent_id)) }];
  for (const category of all.filter((c) => c.type === CATEGORY).sort(byPosition)) {
    const inside = text.filter((c) => c.parent_id === category.id);
    if (inside.length) groups.push({ category, channels: inside });
  }
  return groups.filter((g) => g.category || g.channels.length);
}

// The channel a guild opens on: the last one visited there if still visible, else the first.
const lastKey = (guildId) => `trioxide.last.${userId()}.${guildId}`;

export function defaultChannel(guild) {
  const last = localStorage.getItem(lastKey(guild.id));
  const groups = channelGroups(guild);
  const all = groups.flatMap((g) => g.channels);
  return all.find((c) => c.id === last) || all[0] || null;
}

export function rememberChannel(guildId, channelId) {
  if (userId()) localStorage.setItem(lastKey(guildId), channelId);
}

function channelItem(guildId, channel, active) {
  const unread = !active && isUnread(channel);
  const link = appLink(`/app/channels/${guildId}/${channel.id}`, {
    class: `channel-link${active ? " active" : ""}${unread ? " unread" : ""}`,
    attrs: { "aria-current": active ? "page" : null },
    dataset: { testid: "channel-link", channelId: channel.id, unread: unread ? "true" : "false" },
  },
  h("span", { class: "channel-hash" }, icon("hash", 18)),
  h("span", { class: "channel-name" }, channel.name || "unnamed"),
  unread ? h("span", { class: "visually-hidden" }, " (unread)") : null,
  );
  return h("li", { class: "channel-item" }, link);
}

function header(guild) {
  const menu = h("button", {
    type: "button",
    class: "guild-menu-button",
    attrs: { "aria-label": `${guild.name}: guild menu`, "aria-haspopup": "menu", "aria-expanded": "false" },
    dataset: { testid: "guild-menu-button" },
  }, h("span", { class: "guild-name", dataset: { testid: "guild-name" } }, guild.name), h("span", { class: "chevron" }, icon("chevron", 18)));
  menu.addEventListener("click", async () => {
    await callFeature("guild_admin.js", "openGuildMenu", guild.id, menu);
    trackExpanded(menu, document.querySelector(".popover-menu"));
  });
  return h("header", { class: "sidebar-header", dataset: { testid: "guild-header" } }, menu);
}

// The menu button says whether its menu is open: until the menu leaves the page (the menu
// module closes it on a pick, Esc, Tab or a click elsewhere).
function trackExpanded(button, menu) {
  if (!menu || !menu.isConnected) return;
  button.setAttribute("aria-expanded", "true");
  const watch = new MutationObserver(() => {
    if (menu.isConnected) return;
    button.setAttribute("aria-expanded", "false");
    watch.disconnect();
  });
  watch.observe(document.body, { childList: true });
}

// route(): the current {guildId, channelId}.
export function renderChannels(el, guildId, route) {
  const draw = () => {
    const guild = state.guilds.get(guildId);
    if (!guild || guild.unavailable) {
      replace(el, h("div", { class: "sidebar-loading", attrs: { role: "status" } }, "Loading guild…"));
      return;
    }
    const current = route().channelId;
    const lists = channelGroups(guild).map(({ category, channels }) => {
      const list = h("ul", { class: "channel-list", attrs: { role: "list" } }, channels.map((c) => channelItem(guild.id, c, c.id === current)));
      if (!category) return list;
      const headingId = `category-${category.id}`;
      list.setAttribute("aria-labelledby", headingId);
      return h("section", { class: "channel-category", dataset: { categoryId: category.id } },
        h("h2", { class: "category-name", id: headingId }, category.name), list);
    });
    replace(el, header(guild),
      h("nav", { class: "channel-scroll", attrs: { "aria-label": `${guild.name} channels` }, dataset: { testid: "channel-list" } },
        lists.length ? lists : h("p", { class: "empty-note" }, "No channels you can see yet.")));
  };
  draw();
  const update = () => redraw(el, draw);
  const stops = [`guild:${guildId}`, "unread", "route"].map((topic) => subscribe(topic, update));
  return () => stops.forEach((stop) => stop());
}
