// Guilds as a person manages them: create, join by invite, and the guild menu (invites,
// channels, roles, settings, leaving), each item shown only with the permission it needs.
import { h } from "./dom.js";
import { request, ApiError, describe } from "./api.js";
import { state } from "./store.js";
import { openDialog } from "./dialog.js";
import { showError, showInfo } from "./toast.js";
import { openMenu, holds, navigate, confirm, displayName, BITS, seg } from "./members.js";

const TEXT = 0;
const VOICE = 2;
const CATEGORY = 4;

function field(label, control) {
  return h("label", { class: "form-field" }, h("span", { class: "form-label" }, label), control);
}

function textInput(name, props = {}) {
  return h("input", { type: "text", name, required: true, autocomplete: "off", maxLength: 100, ...props,
    dataset: { testid: props.testid ?? name } });
}

// The channel a path like /app/channels/{guild}/{channel} shows, if it is this guild's.
function currentChannel(guildId) {
  const [, , , g, c] = location.pathname.split("/");
  return g === guildId && state.guilds.get(guildId)?.channels.has(c) ? c : null;
}

// A request an action of the guild menu makes: a refusal names the permission it takes (the
// server only says "Missing Permissions"). Thrown on, so a dialog shows it and stays open.
async function needing(needs, pending) {
  try {
    return await pending;
  } catch (error) {
    throw error instanceof ApiError ? new Error(describe(error, { needs })) : error;
  }
}

function firstTextChannel(channels) {
  return [...channels].filter((c) => c.type === TEXT)
    .sort((a, b) => (a.position ?? 0) - (b.position ?? 0))[0] ?? null;
}

export async function openCreateGuild() {
  const name = textInput("guild-name", { placeholder: "My community", testid: "new-guild-name" });
  const created = await openDialog({
    title: "Create a guild",
    testid: "create-guild-dialog",
    body: h("div", { class: "form" }, field("Guild name", name)),
    actions: [{ label: "Create", primary: true, testid: "create-guild-submit", run: async () => {
      if (!name.value.trim()) throw new Error("Give the guild a name.");
      return request("POST", "/guilds", { json: { name: name.value.trim() } });
    } }],
  });
  if (!created) return null;
  try {
    const channels = await request("GET", `/guilds/${seg(created.id)}/channels`);
    const first = firstTextChannel(channels ?? []);
    navigate(first ? `/app/channels/${seg(created.id)}/${seg(first.id)}` : `/app/channels/${seg(created.id)}`);
  } catch (error) {
    showError(error);
  }
  return created.id;
}

/** The code in an invite link (…/invite/CODE, discord.gg/CODE) or a bare code. */
export function inviteCode(text) {
  const trimmed = text.trim().replace(/\/+$/, "");
  const code = trimmed.split("/").pop().split(/[?#]/)[0];
  return /^[A-Za-z0-9]{1,32}$/.test(code) ? code : null;
}

export async function openJoinGuild() {
  const link = textInput("invite", { placeholder: `${location.origin}/app/invite/…`, testid: "invite-input" });
  const code = await openDialog({
    title: "Join a guild",
    testid: "join-guild-dialog",
    body: h("div", { class: "form" }, field("Invite link or code", link)),
    actions: [{ label: "Continue", primary: true, testid: "join-guild-continue", run: () => {
      const found = inviteCode(link.value);
      if (!found) throw new Error("That doesn't look like an invite link.");
      return found;
    } }],
  });
  const guildId = code ? await joinByInvite(code) : null;
  if (guildId) navigate(`/app/channels/${seg(guildId)}`);
  return guildId;
}

// One question per code at a time: the invite route may run again while it is being asked
// (a READY re-routes every view).
const asking = new Map();

/** Shows where the invite leads and joins when the person accepts; the guild's id (or null). */
export function joinByInvite(code) {
  if (!asking.has(code)) asking.set(code, askToJoin(code).finally(() => asking.delete(code)));
  return asking.get(code);
}

async function askToJoin(code) {
  let invite;
  try {
    invite = await request("GET", `/invites/${encodeURIComponent(code)}`, { query: { with_counts: true } });
  } catch (error) {
    showError(error instanceof ApiError && error.status === 404
      ? "This invite is invalid or has expired." : error);
    return null;
  }
  const guildName = invite.guild?.name ?? "a guild";
  const inviter = invite.inviter ? `${invite.inviter.global_name || invite.inviter.username} invited you to join` : "You are invited to join";
  const accepted = await openDialog({
    title: `Join ${guildName}?`,
    testid: "invite-dialog",
    body: h("div", { class: "invite-card" },
      h("p", { class: "muted" }, inviter),
      h("p", { class: "invite-guild", dataset: { testid: "invite-guild-name" } }, guildName),
      invite.channel ? h("p", { class: "muted" }, `#${invite.channel.name}`) : null,
      invite.approximate_member_count ? h("p", { class: "muted" }, `${invite.approximate_member_count} members`) : null),
    actions: [{ label: "Accept invite", primary: true, testid: "invite-accept",
      run: () => request("POST", `/invites/${encodeURIComponent(code)}`) }],
  });
  // (The caller shows the guild: main.js's invite route, or openJoinGuild.)
  return accepted ? invite.guild?.id ?? invite.guild_id : null;
}

export function openGuildMenu(guildId, anchorEl) {
  const guild = state.guilds.get(guildId);
  if (!guild) return;
  const isOwner = guild.owner_id === state.me?.id;
  openMenu(anchorEl, [
    holds(guildId, "CREATE_INSTANT_INVITE") && { label: "Invite people", testid: "guild-invite", run: () => invite(guildId) },
    holds(guildId, "MANAGE_CHANNELS") && { label: "Create channel", testid: "guild-create-channel", run: () => createChannel(guildId) },
    holds(guildId, "MANAGE_CHANNELS") && { label: "Edit channels", testid: "guild-edit-channel", run: () => editChannel(guildId) },
    holds(guildId, "MANAGE_ROLES") && { label: "Roles", testid: "guild-roles", run: () => roles(guildId) },
    holds(guildId, "MANAGE_GUILD") && { label: "Guild settings", testid: "guild-settings", run: () => settings(guildId) },
    !isOwner && { label: "Leave guild", testid: "guild-leave", danger: true, run: () => leave(guildId) },
  ], guild.name, {
    // The channel list re-draws its header (a new channel, a route): this guild's button now.
    opener: () => (anchorEl.isConnected ? anchorEl
      : location.pathname.split("/")[3] === guildId ? document.querySelector('[data-testid="guild-menu-button"]') : null),
  });
}

async function invite(guildId) {
  const guild = state.guilds.get(guildId);
  const channelId = currentChannel(guildId) ?? firstTextChannel(guild.channels.values())?.id;
  if (!channelId) return showError("This guild has no channel to invite people to.");
  let made;
  try {
    made = await needing("Create Invite",
      request("POST", `/channels/${seg(channelId)}/invites`, { json: { max_age: 604800 } }));
  } catch (error) {
    return showError(error);
  }
  const url = `${location.origin}/app/invite/${made.code}`;
  const link = h("input", { type: "text", readOnly: true, value: url, dataset: { testid: "invite-link" },
    attrs: { "aria-label": "Invite link" } });
  const copy = h("button", { type: "button", class: "button", dataset: { testid: "invite-copy" }, on: { click: async () => {
    link.select();
    try {
      await navigator.clipboard.writeText(url);
      showInfo("Invite link copied");
    } catch {
      showInfo("Select the link and copy it");
    }
  } } }, "Copy");
  await openDialog({
    title: `Invite people to ${guild.name}`,
    testid: "invite-made-dialog",
    body: h("div", { class: "form" },
      h("p", { class: "muted" }, "Send this link to the people you want here. It expires in 7 days."),
      h("div", { class: "copy-row" }, link, copy)),
    actions: [{ label: "Done", primary: true, run: () => true }],
  });
}

function channelOptions(guild, types, selected) {
  return [...guild.channels.values()].filter((c) => types.includes(c.type))
    .sort((a, b) => (a.position ?? 0) - (b.position ?? 0))
    .map((c) => h("option", { value: c.id, selected: c.id === selected }, c.type === CATEGORY ? c.name.toUpperCase() : `#${c.name}`));
}

async function createChannel(guildId) {
  const guild = state.guilds.get(guildId);
  const name = textInput("channel-name", { placeholder: "new-channel", testid: "new-channel-name" });
  const type = h("select", { name: "type", dataset: { testid: "channel-type" } },
    h("option", { value: String(TEXT) }, "Text channel"),
    h("option", { value: String(VOICE) }, "Voice channel"),
    h("option", { value: String(CATEGORY) }, "Category"));
  const parent = h("select", { name: "parent", dataset: { testid: "channel-parent" } },
    h("option", { value: "" }, "No category"), channelOptions(guild, [CATEGORY]));
  const made = await openDialog({
    title: "Create channel",
    testid: "create-channel-dialog",
    body: h("div", { class: "form" }, field("Type", type), field("Name", name), field("Category", parent)),
    actions: [{ label: "Create", primary: true, testid: "create-channel-submit", run: () => {
      const kind = Number(type.value);
      const json = { name: name.value.trim(), type: kind };
      if (parent.value && kind !== CATEGORY) json.parent_id = parent.value;
      return needing("Manage Channels", request("POST", `/guilds/${seg(guildId)}/channels`, { json }));
    } }],
  });
  if (made && made.type === TEXT) navigate(`/app/channels/${seg(guildId)}/${seg(made.id)}`);
}

async function editChannel(guildId) {
  const guild = state.guilds.get(guildId);
  const which = h("select", { name: "channel", dataset: { testid: "edit-channel-which" } },
    channelOptions(guild, [TEXT, VOICE, CATEGORY], currentChannel(guildId)));
  const name = textInput("channel-rename", { testid: "channel-rename" });
  const fill = () => { name.value = guild.channels.get(which.value)?.name ?? ""; };
  which.addEventListener("change", fill);
  fill();
  const remove = h("button", { type: "button", class: "button button-danger", dataset: { testid: "channel-delete" } }, "Delete channel");
  let dialogDone = null;
  remove.addEventListener("click", async () => {
    const target = guild.channels.get(which.value);
    if (!target || !(await confirm(`Delete #${target.name}?`, h("p", null, "Its messages go with it."), "Delete"))) return;
    try {
      await needing("Manage Channels", request("DELETE", `/channels/${seg(target.id)}`));
      showInfo(`#${target.name} deleted`);
      dialogDone?.();
    } catch (error) {
      showError(error);
    }
  });
  const body = h("div", { class: "form" }, field("Channel", which), field("Name", name), remove);
  const opened = openDialog({
    title: "Edit channels",
    testid: "edit-channel-dialog",
    body,
    actions: [{ label: "Save", primary: true, testid: "channel-save", run: () =>
      needing("Manage Channels",
        request("PATCH", `/channels/${seg(which.value)}`, { json: { name: name.value.trim() } })) }],
  });
  // Deleting closes the dialog the way Esc does.
  dialogDone = () => body.closest("dialog")?.dispatchEvent(new Event("cancel"));
  await opened;
}

const ROLE_PERMISSIONS = [
  ["MANAGE_CHANNELS", "Manage channels"],
  ["MANAGE_ROLES", "Manage roles"],
  ["KICK_MEMBERS", "Kick members"],
  ["BAN_MEMBERS", "Ban members"],
  ["MANAGE_GUILD", "Manage guild"],
  ["CREATE_INSTANT_INVITE", "Create invites"],
];

async function roles(guildId) {
  const guild = state.guilds.get(guildId);
  const name = textInput("role-name", { placeholder: "Moderators", testid: "role-name", required: false });
  const colour = h("input", { type: "color", name: "color", value: "#5865f2", dataset: { testid: "role-color" } });
  const boxes = ROLE_PERMISSIONS.map(([bit, label]) => {
    const box = h("input", { type: "checkbox", name: bit, dataset: { testid: `role-perm-${bit}` } });
    return { bit, box, node: h("label", { class: "check" }, box, ` ${label}`) };
  });
  const member = h("select", { name: "member", dataset: { testid: "role-member" } },
    h("option", { value: "" }, "Give a role to…"),
    [...guild.members.values()].filter((m) => m.user && !m.user.bot)
      .map((m) => h("option", { value: m.user.id }, displayName(m))));
  const role = h("select", { name: "role", dataset: { testid: "role-pick" } },
    h("option", { value: "" }, "The new role"),
    [...guild.roles.values()].filter((r) => r.id !== guildId && !r.managed)
      .sort((a, b) => b.position - a.position).map((r) => h("option", { value: r.id }, r.name)));
  await openDialog({
    title: "Roles",
    testid: "roles-dialog",
    body: h("div", { class: "form" },
      h("h3", null, "New role"),
      field("Name", name), field("Colour", colour),
      h("fieldset", { class: "checks" }, h("legend", null, "Permissions"), boxes.map((b) => b.node)),
      h("h3", null, "Give a role"),
      field("Member", member), field("Role", role)),
    actions: [{ label: "Save", primary: true, testid: "roles-save", run: async () => {
      if (!name.value.trim() && !(member.value && role.value)) {
        throw new Error("Name a new role, or choose a member and a role to give them.");
      }
      let roleId = role.value;
      if (name.value.trim()) {
        const permissions = boxes.filter((b) => b.box.checked).reduce((all, b) => all | BITS[b.bit], 0n);
        const made = await needing("Manage Roles", request("POST", `/guilds/${seg(guildId)}/roles`, { json: {
          name: name.value.trim(), permissions: String(permissions), color: parseInt(colour.value.slice(1), 16),
        } }));
        roleId ||= made.id;
      }
      if (member.value && roleId) {
        await needing("Manage Roles",
          request("PUT", `/guilds/${seg(guildId)}/members/${seg(member.value)}/roles/${seg(roleId)}`));
      }
      return true;
    } }],
  });
}

async function settings(guildId) {
  const guild = state.guilds.get(guildId);
  const name = textInput("guild-rename", { value: guild.name, testid: "guild-rename" });
  await openDialog({
    title: "Guild settings",
    testid: "guild-settings-dialog",
    body: h("div", { class: "form" }, field("Guild name", name)),
    actions: [{ label: "Save", primary: true, testid: "guild-settings-save", run: () =>
      needing("Manage Guild", request("PATCH", `/guilds/${seg(guildId)}`, { json: { name: name.value.trim() } })) }],
  });
}

async function leave(guildId) {
  const guild = state.guilds.get(guildId);
  if (!(await confirm(`Leave ${guild.name}?`, h("p", null, "You can come back with an invite."), "Leave"))) return;
  try {
    await request("DELETE", `/users/@me/guilds/${seg(guildId)}`);
    navigate("/app/channels/@me");
  } catch (error) {
    showError(error);
  }
}
