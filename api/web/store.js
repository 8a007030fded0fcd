// The client's one in-memory picture of the server, folded from gateway dispatches, and the
// topics views subscribe to. Messages themselves live in the views that show them; the store
// only announces them (topic `channel:{id}`) and tracks what is unread.
import { userId } from "./auth.js";

export const state = {
  me: null,
  guilds: new Map(), // id → {id, name, icon, owner_id, roles, channels, members, presences, unavailable}
  channels: new Map(), // every channel by id (guild and DM), the objects also held by their guild
  dms: new Map(),
  relationships: new Map(),
  users: new Map(),
  ready: false,
};

const topics = new Map();

export function subscribe(topic, fn) {
  if (!topics.has(topic)) topics.set(topic, new Set());
  topics.get(topic).add(fn);
  return () => topics.get(topic)?.delete(fn);
}

export function publish(topic, detail) {
  for (const fn of [...(topics.get(topic) || [])]) {
    try {
      fn(detail);
    } catch (error) {
      console.error(`subscriber of ${topic} failed`, error);
    }
  }
}

// Permissions, as Discord computes them (Permissions: Permission Overwrites).
export const PERMS = Object.fromEntries(
  Object.entries({
    CREATE_INSTANT_INVITE: 0, KICK_MEMBERS: 1, BAN_MEMBERS: 2, ADMINISTRATOR: 3, MANAGE_CHANNELS: 4,
    MANAGE_GUILD: 5, ADD_REACTIONS: 6, VIEW_AUDIT_LOG: 7, VIEW_CHANNEL: 10, SEND_MESSAGES: 11,
    MANAGE_MESSAGES: 13, EMBED_LINKS: 14, ATTACH_FILES: 15, READ_MESSAGE_HISTORY: 16,
    MENTION_EVERYONE: 17, CHANGE_NICKNAME: 26, MANAGE_NICKNAMES: 27, MANAGE_ROLES: 28,
    MANAGE_WEBHOOKS: 29, USE_APPLICATION_COMMANDS: 31, MODERATE_MEMBERS: 40,
  }).map(([name, bit]) => [name, 1n << BigInt(bit)]),
);
const ALL = (1n << 53n) - 1n;

export function has(perms, name) {
  const bit = PERMS[name];
  return bit !== undefined && (perms & bit) === bit;
}

export function permissions(guildId, channelId = null, userId = state.me?.id) {
  const guild = state.guilds.get(guildId);
  if (!guild || !userId) return 0n;
  if (guild.owner_id === userId) return ALL;
  const member = guild.members.get(userId);
  const roleIds = member ? member.roles : [];
  let perms = BigInt(guild.roles.get(guildId)?.permissions || 0);
  for (const id of roleIds) perms |= BigInt(guild.roles.get(id)?.permissions || 0);
  if (perms & PERMS.ADMINISTRATOR) return ALL;
  const channel = channelId ? guild.channels.get(channelId) : null;
  if (!channel) return perms;
  const overwrites = new Map((channel.permission_overwrites || []).map((o) => [o.id, o]));
  const apply = (allow, deny) => {
    perms = (perms & ~BigInt(deny)) | BigInt(allow);
  };
  const everyone = overwrites.get(guildId);
  if (everyone) apply(everyone.allow, everyone.deny);
  let allow = 0n;
  let deny = 0n;
  for (const id of roleIds) {
    const o = overwrites.get(id);
    if (o && o.type === 0) {
      allow |= BigInt(o.allow);
      deny |= BigInt(o.deny);
    }
  }
  apply(allow, deny);
  const own = overwrites.get(userId);
  if (own && own.type === 1) apply(own.allow, own.deny);
  return perms & PERMS.VIEW_CHANNEL ? perms : 0n;
}

// Unread: the last message id each channel was read up to, kept across reloads, per person
// (two people taking turns in one browser each keep their own).
let readUpTo = null;
let readOwner = null;

function reads() {
  const owner = userId();
  if (readUpTo === null || owner !== readOwner) {
    readOwner = owner;
    readUpTo = loadRead(owner);
  }
  return readUpTo;
}

function loadRead(owner) {
  if (!owner) return {};
  try {
    return JSON.parse(localStorage.getItem(`trioxide.read.${owner}`) || "{}") || {};
  } catch {
    return {};
  }
}

const later = (a, b) => (a.length !== b.length ? a.length > b.length : a > b); // snowflakes

export function markRead(channelId, messageId) {
  const channel = state.channels.get(channelId);
  const upTo = messageId || channel?.last_message_id;
  const read = reads();
  if (!upTo || !readOwner) return;
  const before = read[channelId];
  if (before && !later(String(upTo), before)) return;
  read[channelId] = String(upTo);
  localStorage.setItem(`trioxide.read.${readOwner}`, JSON.stringify(read));
  publish("unread", channelId);
}

export function isUnread(channel) {
  if (!channel || !channel.last_message_id) return false;
  const read = reads()[channel.id];
  return !read || later(String(channel.last_message_id), read);
}

export function findChannel(channelId) {
  return state.channels.get(channelId) || null;
}

export function userName(userId, guildId = null) {
  const member = guildId ? state.guilds.get(guildId)?.members.get(userId) : null;
  const user = state.users.get(userId) || member?.user;
  return member?.nick || user?.global_name || user?.username || "Unknown";
}

// Folding dispatches in.

function rememberUser(user) {
  if (user && user.id) state.users.set(user.id, { ...state.users.get(user.id), ...user });
}

function addChannel(channel, guildId = channel.guild_id) {
  const guild = guildId ? state.guilds.get(guildId) : null;
  const known = state.channels.get(channel.id);
  const merged = known ? Object.assign(known, channel) : channel;
  if (guild) {
    merged.guild_id = guildId;
    guild.channels.set(channel.id, merged);
  } else {
    state.dms.set(channel.id, merged);
    for (const user of channel.recipients || []) rememberUser(user);
  }
  state.channels.set(channel.id, merged);
  return merged;
}

function addMember(guild, member) {
  if (!member.user) return;
  rememberUser(member.user);
  const known = guild.members.get(member.user.id);
  guild.members.set(member.user.id, { ...known, ...member, roles: member.roles || known?.roles || [] });
}

function buildGuild(d) {
  const known = state.guilds.get(d.id);
  for (const channel of known?.channels.values() || []) state.channels.delete(channel.id);
  const guild = {
    id: d.id,
    name: d.name,
    icon: d.icon,
    owner_id: d.owner_id,
    unavailable: false,
    member_count: d.member_count,
    system_channel_id: d.system_channel_id,
    roles: new Map((d.roles || []).map((r) => [r.id, r])),
    channels: new Map(),
    members: new Map(),
    presences: new Map(),
  };
  state.guilds.set(d.id, guild);
  for (const channel of d.channels || []) addChannel(channel, d.id);
  for (const member of d.members || []) addMember(guild, member);
  for (const p of d.presences || []) guild.presences.set(p.user.id, p.status);
  return guild;
}

function guildChanged(guildId) {
  publish("guilds", guildId);
  publish(`guild:${guildId}`, guildId);
}

function membersChanged(guildId) {
  publish(`members:${guildId}`, guildId);
  publish(`guild:${guildId}`, guildId);
}

function messageEvent(channelId, detail) {
  publish(`channel:${channelId}`, detail);
}

const handlers = {
  READY(d) {
    state.me = d.user;
    rememberUser(d.user);
    state.guilds.clear();
    state.channels.clear();
    state.dms.clear();
    for (const stub of d.guilds || []) {
      state.guilds.set(stub.id, { id: stub.id, name: "", unavailable: true, roles: new Map(), channels: new Map(), members: new Map(), presences: new Map() });
    }
    for (const channel of d.private_channels || []) addChannel(channel, null);
    state.ready = true;
    publish("me", state.me);
    publish("guilds", null);
    publish("dms", null);
    // Views reload from this fresh picture (a RESUME never gets here: its events replay).
    publish("reset", null);
  },
  GUILD_CREATE(d) {
    buildGuild(d);
    guildChanged(d.id);
    membersChanged(d.id);
    publish("unread", null);
  },
  GUILD_UPDATE(d) {
    const guild = state.guilds.get(d.id);
    if (!guild) return;
    Object.assign(guild, { name: d.name, icon: d.icon, owner_id: d.owner_id, system_channel_id: d.system_channel_id });
    if (d.roles) guild.roles = new Map(d.roles.map((r) => [r.id, r]));
    guildChanged(d.id);
  },
  GUILD_DELETE(d) {
    const guild = state.guilds.get(d.id);
    if (!guild) return;
    if (d.unavailable) guild.unavailable = true;
    else {
      for (const channel of guild.channels.values()) state.channels.delete(channel.id);
      state.guilds.delete(d.id);
    }
    guildChanged(d.id);
  },
  GUILD_ROLE_CREATE(d) {
    state.guilds.get(d.guild_id)?.roles.set(d.role.id, d.role);
    guildChanged(d.guild_id);
  },
  GUILD_ROLE_UPDATE(d) {
    handlers.GUILD_ROLE_CREATE(d);
  },
  GUILD_ROLE_DELETE(d) {
    state.guilds.get(d.guild_id)?.roles.delete(d.role_id);
    guildChanged(d.guild_id);
  },
  CHANNEL_CREATE(d) {
    addChannel(d, d.guild_id || null);
    if (d.guild_id) guildChanged(d.guild_id);
    else publish("dms", d.id);
  },
  CHANNEL_UPDATE(d) {
    handlers.CHANNEL_CREATE(d);
  },
  CHANNEL_DELETE(d) {
    state.channels.delete(d.id);
    if (d.guild_id) {
      state.guilds.get(d.guild_id)?.channels.delete(d.id);
      guildChanged(d.guild_id);
    } else {
      state.dms.delete(d.id);
      publish("dms", d.id);
    }
  },
  GUILD_MEMBER_ADD(d) {
    const guild = state.guilds.get(d.guild_id);
    if (!guild) return;
    addMember(guild, d);
    membersChanged(d.guild_id);
  },
  GUILD_MEMBER_UPDATE(d) {
    handlers.GUILD_MEMBER_ADD(d);
  },
  GUILD_MEMBER_REMOVE(d) {
    const guild = state.guilds.get(d.guild_id);
    if (!guild) return;
    guild.members.delete(d.user.id);
    guild.presences.delete(d.user.id);
    membersChanged(d.guild_id);
  },
  GUILD_MEMBERS_CHUNK(d) {
    const guild = state.guilds.get(d.guild_id);
    if (!guild) return;
    for (const member of d.members || []) addMember(guild, member);
    for (const p of d.presences || []) guild.presences.set(p.user.id, p.status);
    membersChanged(d.guild_id);
  },
  PRESENCE_UPDATE(d) {
    const guild = state.guilds.get(d.guild_id);
    if (d.user?.username) rememberUser(d.user);
    if (guild) {
      guild.presences.set(d.user.id, d.status);
      publish(`members:${d.guild_id}`, d.guild_id);
    }
    publish("presence", d);
  },
  RELATIONSHIP_ADD(d) {
    rememberUser(d.user);
    state.relationships.set(d.id, { type: d.type, user: d.user });
    publish("relationships", null);
  },
  RELATIONSHIP_REMOVE(d) {
    state.relationships.delete(d.id);
    publish("relationships", null);
  },
  USER_UPDATE(d) {
    rememberUser(d);
    if (state.me && d.id === state.me.id) {
      state.me = { ...state.me, ...d };
      publish("me", state.me);
    }
  },
  MESSAGE_CREATE(d) {
    const channel = state.channels.get(d.channel_id);
    if (d.author) rememberUser(d.author);
    if (channel && !(d.flags & 64)) channel.last_message_id = d.id;
    if (d.author && state.me && d.author.id === state.me.id) markRead(d.channel_id, d.id);
    messageEvent(d.channel_id, { kind: "create", message: d });
    publish("unread", d.channel_id);
  },
  MESSAGE_UPDATE(d) {
    messageEvent(d.channel_id, { kind: "update", message: d });
  },
  MESSAGE_DELETE(d) {
    messageEvent(d.channel_id, { kind: "delete", message: d });
  },
  MESSAGE_DELETE_BULK(d) {
    for (const id of d.ids || []) messageEvent(d.channel_id, { kind: "delete", message: { id, channel_id: d.channel_id } });
  },
  CHANNEL_PINS_UPDATE(d) {
    messageEvent(d.channel_id, { kind: "pins", message: null, data: d });
  },
  TYPING_START(d) {
    if (d.member?.user) rememberUser(d.member.user);
    publish(`typing:${d.channel_id}`, d);
  },
};

for (const t of ["MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_REMOVE_ALL", "MESSAGE_REACTION_REMOVE_EMOJI"]) {
  handlers[t] = (d) =>
    messageEvent(d.channel_id, { kind: "reactions", message: { id: d.message_id, channel_id: d.channel_id }, t, data: d });
}

export function applyDispatch(t, d) {
  const handler = handlers[t];
  if (handler) handler(d);
  // Every dispatch, for views that want one the store does not fold (interactions, …).
  publish("dispatch", { t, d });
}

// What READY leaves empty for people: their DMs and relationships, over HTTP.
export function setDms(channels) {
  for (const channel of channels) addChannel(channel, null);
  publish("dms", null);
  publish("unread", null);
}

export function setRelationships(list) {
  state.relationships.clear();
  for (const r of list) {
    rememberUser(r.user);
    state.relationships.set(r.id || r.user.id, { type: r.type, user: r.user });
  }
  publish("relationships", null);
}

// Signed out: nothing of this person may show to whoever signs in next in this tab.
export function resetState() {
  state.me = null;
  for (const map of [state.guilds, state.channels, state.dms, state.relationships, state.users]) map.clear();
  state.ready = false;
  readUpTo = null;
  readOwner = null;
  publish("me", null);
  publish("guilds", null);
  publish("dms", null);
  publish("relationships", null);
  publish("unread", null);
}

export function setConnection(connectionState) {
  publish("connection", connectionState);
}
