"""The gateway event catalogue: every event name, who it is for, and its payload, here and
only here. Services write these to the outbox in the transaction of the change they describe;
the relay (issue #7) publishes them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.domain.guilds import Channel, Guild, Overwrite, Role
    from core.domain.members import Member
    from core.domain.users import User


class EventName(enum.StrEnum):
    GUILD_CREATE = "GUILD_CREATE"
    GUILD_UPDATE = "GUILD_UPDATE"
    GUILD_DELETE = "GUILD_DELETE"
    GUILD_ROLE_CREATE = "GUILD_ROLE_CREATE"
    GUILD_ROLE_UPDATE = "GUILD_ROLE_UPDATE"
    GUILD_ROLE_DELETE = "GUILD_ROLE_DELETE"
    CHANNEL_CREATE = "CHANNEL_CREATE"
    CHANNEL_UPDATE = "CHANNEL_UPDATE"
    CHANNEL_DELETE = "CHANNEL_DELETE"
    GUILD_MEMBER_ADD = "GUILD_MEMBER_ADD"
    GUILD_MEMBER_UPDATE = "GUILD_MEMBER_UPDATE"
    GUILD_MEMBER_REMOVE = "GUILD_MEMBER_REMOVE"
    GUILD_BAN_ADD = "GUILD_BAN_ADD"
    GUILD_BAN_REMOVE = "GUILD_BAN_REMOVE"
    MESSAGE_CREATE = "MESSAGE_CREATE"
    MESSAGE_UPDATE = "MESSAGE_UPDATE"
    MESSAGE_DELETE = "MESSAGE_DELETE"
    MESSAGE_DELETE_BULK = "MESSAGE_DELETE_BULK"
    MESSAGE_REACTION_ADD = "MESSAGE_REACTION_ADD"
    MESSAGE_REACTION_REMOVE = "MESSAGE_REACTION_REMOVE"
    MESSAGE_REACTION_REMOVE_ALL = "MESSAGE_REACTION_REMOVE_ALL"
    MESSAGE_REACTION_REMOVE_EMOJI = "MESSAGE_REACTION_REMOVE_EMOJI"
    CHANNEL_PINS_UPDATE = "CHANNEL_PINS_UPDATE"
    TYPING_START = "TYPING_START"
    INVITE_CREATE = "INVITE_CREATE"
    INVITE_DELETE = "INVITE_DELETE"
    GUILD_AUDIT_LOG_ENTRY_CREATE = "GUILD_AUDIT_LOG_ENTRY_CREATE"
    # Interactions: to the application's bot sessions (the full interaction), and to the
    # invoker's sessions (its id and nonce, then whether the bot answered, a modal, choices).
    INTERACTION_CREATE = "INTERACTION_CREATE"
    INTERACTION_SUCCESS = "INTERACTION_SUCCESS"
    INTERACTION_FAILURE = "INTERACTION_FAILURE"
    INTERACTION_MODAL_CREATE = "INTERACTION_MODAL_CREATE"
    APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE = "APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE"
    WEBHOOKS_UPDATE = "WEBHOOKS_UPDATE"
    USER_UPDATE = "USER_UPDATE"
    # A person's friends, requests and blocks changed: to that person's sessions (no intent).
    RELATIONSHIP_ADD = "RELATIONSHIP_ADD"
    RELATIONSHIP_REMOVE = "RELATIONSHIP_REMOVE"
    # Ephemeral, never in the outbox: a gateway node publishes it on the bus itself, with the
    # guilds it is for; every node then tells its sessions there (gateway/presence.py).
    PRESENCE_UPDATE = "PRESENCE_UPDATE"
    # Ephemeral too (core/voice.py): a voice state, to the guild; a voice server, to the one
    # session that joined or was moved.
    VOICE_STATE_UPDATE = "VOICE_STATE_UPDATE"
    VOICE_SERVER_UPDATE = "VOICE_SERVER_UPDATE"
    # Ours, never dispatched: a voice channel was deleted; its voice connections close (4022).
    VOICE_CALL_ENDED = "VOICE_CALL_ENDED"
    # Ours, never dispatched: tells every gateway node to close the sessions it names (4004).
    SESSIONS_REVOKED = "SESSIONS_REVOKED"
    # Ours, never dispatched: a gateway node is taking the named session over (gateway/journal.py).
    SESSION_MOVED = "SESSION_MOVED"


@dataclass(frozen=True, slots=True)
class Published:
    """A committed event as the bus carries it. `payload` is the JSON of the dispatch's `d`,
    serialized once, to be spliced into every recipient's frame as it is."""

    id: int  # a snowflake: receivers drop an id they have seen (delivery is at-least-once)
    name: EventName
    guild_id: int | None
    channel_id: int | None
    user_ids: tuple[int, ...]
    payload: bytes
    # The guild's access_version as read after the event committed (by the relay), so that a
    # gateway checks who may see it without a read of its own; None outside a guild, for a
    # guild since deleted, and for events that never were in the outbox (presence).
    access_version: int | None = None


class Intent(enum.IntFlag):
    """Discord's gateway intents: which events a session asked for."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15
    GUILD_SCHEDULED_EVENTS = 1 << 16
    AUTO_MODERATION_CONFIGURATION = 1 << 20
    AUTO_MODERATION_EXECUTION = 1 << 21
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25


ALL_INTENTS = int(sum(Intent))
PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT

# Discord's intent table: the intent an event needs, in a guild and in a DM. Events not listed
# (and those whose DM column is None) need none.
_INTENT_TABLE: dict[EventName, tuple[Intent, Intent | None]] = {
    **{
        name: (Intent.GUILDS, None)
        for name in (
            EventName.GUILD_CREATE,
            EventName.GUILD_UPDATE,
            EventName.GUILD_DELETE,
            EventName.GUILD_ROLE_CREATE,
            EventName.GUILD_ROLE_UPDATE,
            EventName.GUILD_ROLE_DELETE,
            EventName.CHANNEL_CREATE,
            EventName.CHANNEL_UPDATE,
            EventName.CHANNEL_DELETE,
        )
    },
    EventName.CHANNEL_PINS_UPDATE: (Intent.GUILDS, Intent.DIRECT_MESSAGES),
    **{
        name: (Intent.GUILD_MEMBERS, None)
        for name in (
            EventName.GUILD_MEMBER_ADD,
            EventName.GUILD_MEMBER_UPDATE,
            EventName.GUILD_MEMBER_REMOVE,
        )
    },
    **{
        name: (Intent.GUILD_MODERATION, None)
        for name in (
            EventName.GUILD_BAN_ADD,
            EventName.GUILD_BAN_REMOVE,
            EventName.GUILD_AUDIT_LOG_ENTRY_CREATE,
        )
    },
    EventName.INVITE_CREATE: (Intent.GUILD_INVITES, None),
    EventName.WEBHOOKS_UPDATE: (Intent.GUILD_WEBHOOKS, None),
    EventName.INVITE_DELETE: (Intent.GUILD_INVITES, None),
    **{
        name: (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES)
        for name in (
            EventName.MESSAGE_CREATE,
            EventName.MESSAGE_UPDATE,
            EventName.MESSAGE_DELETE,
            EventName.MESSAGE_DELETE_BULK,
        )
    },
    **{
        name: (Intent.GUILD_MESSAGE_REACTIONS, Intent.DIRECT_MESSAGE_REACTIONS)
        for name in (
            EventName.MESSAGE_REACTION_ADD,
            EventName.MESSAGE_REACTION_REMOVE,
            EventName.MESSAGE_REACTION_REMOVE_ALL,
            EventName.MESSAGE_REACTION_REMOVE_EMOJI,
        )
    },
    EventName.TYPING_START: (Intent.GUILD_MESSAGE_TYPING, Intent.DIRECT_MESSAGE_TYPING),
    EventName.PRESENCE_UPDATE: (Intent.GUILD_PRESENCES, None),
    EventName.VOICE_STATE_UPDATE: (Intent.GUILD_VOICE_STATES, None),
}


def needed_intent(name: EventName, *, in_guild: bool) -> int:
    """The intent bit a session needs to receive this event (0: none)."""
    found = _INTENT_TABLE.get(name)
    if found is None:
        return 0
    guild_intent, dm_intent = found
    return int(guild_intent if in_guild else (dm_intent or 0))


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatch. Its audience: the guild's members (`guild_id`), narrowed to those who can
    view `channel_id` when set, or exactly `user_ids` when given."""

    name: EventName
    payload: dict[str, object]
    guild_id: int | None = None
    channel_id: int | None = None
    user_ids: tuple[int, ...] = field(default=())


def guild_create_payload(
    guild: dict[str, object],
    *,
    channels: list[dict[str, object]],
    members: list[dict[str, object]],
    member_count: int,
    large: bool,
    joined_at: str,
) -> dict[str, object]:
    """GUILD_CREATE's `d`: the guild object and every extra field the Gateway docs give
    (Gateway Events, Guild Create). Strict clients (JDA, serenity, Discord.Net) fail to build
    a guild without them, so features that do not exist yet are empty lists, never absent."""
    return guild | {
        "joined_at": joined_at,
        "large": large,
        "unavailable": False,
        "member_count": member_count,
        "voice_states": [],
        "members": members,
        "channels": channels,
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def guild_create(payload: dict[str, object], guild_id: int, to_user: int) -> Event:
    """GUILD_CREATE to the one user who has just made or joined the guild; `payload` is the
    guild as their session would start with it (core/sessions.py guild_start)."""
    return Event(EventName.GUILD_CREATE, payload, guild_id=guild_id, user_ids=(to_user,))


def guild_update(guild: Guild, roles: list[Role]) -> Event:
    return Event(EventName.GUILD_UPDATE, guild.to_wire(roles), guild_id=guild.id)


def guild_delete(guild_id: int) -> Event:
    return Event(
        EventName.GUILD_DELETE, {"id": str(guild_id), "unavailable": False}, guild_id=guild_id
    )


def role_event(name: EventName, role: Role) -> Event:
    if name is EventName.GUILD_ROLE_DELETE:
        payload: dict[str, object] = {"guild_id": str(role.guild_id), "role_id": str(role.id)}
    else:
        payload = {"guild_id": str(role.guild_id), "role": role.to_wire()}
    return Event(name, payload, guild_id=role.guild_id)


def channel_event(name: EventName, channel: Channel, overwrites: list[Overwrite]) -> Event:
    # A channel's own create/update/delete goes to whoever could see it: the guild's members,
    # narrowed to the channel's viewers by the gateway.
    return Event(
        name, channel.to_wire(overwrites), guild_id=channel.guild_id, channel_id=channel.id
    )


def audit_log_entry_create(guild_id: int, entry: dict[str, object]) -> Event:
    # Only members with VIEW_AUDIT_LOG receive it; the gateway filters on the permission.
    return Event(
        EventName.GUILD_AUDIT_LOG_ENTRY_CREATE,
        entry | {"guild_id": str(guild_id)},
        guild_id=guild_id,
    )


def webhooks_update(guild_id: int, channel_id: int) -> Event:
    """A channel's webhooks changed (created, edited, moved or deleted): for those who can see
    the channel; clients fetch the list again."""
    return Event(
        EventName.WEBHOOKS_UPDATE,
        {"guild_id": str(guild_id), "channel_id": str(channel_id)},
        guild_id=guild_id,
        channel_id=channel_id,
    )


def member_remove(guild_id: int, user: User) -> Event:
    return Event(
        EventName.GUILD_MEMBER_REMOVE,
        {"guild_id": str(guild_id), "user": user.to_wire()},
        guild_id=guild_id,
    )


def member_add(member: Member) -> Event:
    return Event(EventName.GUILD_MEMBER_ADD, member.to_event(), guild_id=member.guild_id)


def member_update(member: Member) -> Event:
    return Event(EventName.GUILD_MEMBER_UPDATE, member.to_event(), guild_id=member.guild_id)


def ban_event(name: EventName, guild_id: int, user: User) -> Event:
    return Event(name, {"guild_id": str(guild_id), "user": user.to_wire()}, guild_id=guild_id)


def left_guild(guild_id: int, user_id: int) -> Event:
    """GUILD_DELETE to the one user who left or was removed: for them the guild is gone."""
    return Event(
        EventName.GUILD_DELETE, {"id": str(guild_id)}, guild_id=guild_id, user_ids=(user_id,)
    )


def invite_event(
    name: EventName, invite: dict[str, object], guild_id: int, channel_id: int
) -> Event:
    # Sent to those who can manage the channel; the gateway narrows by the channel's viewers.
    return Event(name, invite, guild_id=guild_id, channel_id=channel_id)


def in_channel(
    name: EventName, guild_id: int | None, channel_id: int, payload: dict[str, object]
) -> Event:
    """A message-level event: for those who can view the channel (the gateway narrows)."""
    ids: dict[str, object] = {"channel_id": str(channel_id)}
    if guild_id is not None:
        ids["guild_id"] = str(guild_id)
    return Event(name, ids | payload, guild_id=guild_id, channel_id=channel_id)


def dm_channel_create(channel: dict[str, object], viewer_id: int) -> Event:
    """A new DM or group DM, as `viewer_id` sees it (its recipients are the others)."""
    return Event(EventName.CHANNEL_CREATE, channel, user_ids=(viewer_id,))


def user_update(user: User) -> Event:
    """The user's own profile changed: to their own sessions only (no intent needed), as the
    private user object READY gave them."""
    return Event(EventName.USER_UPDATE, user.to_wire(private=True), user_ids=(user.id,))


def relationship_add(user_id: int, relationship: dict[str, object]) -> Event:
    """A relationship of `user_id`'s that began or changed type, as GET relationships shows it."""
    return Event(EventName.RELATIONSHIP_ADD, relationship, user_ids=(user_id,))


def relationship_remove(user_id: int, other_id: int, kind: int) -> Event:
    return Event(
        EventName.RELATIONSHIP_REMOVE, {"id": str(other_id), "type": kind}, user_ids=(user_id,)
    )


def sessions_revoked(session_ids: list[int]) -> Event:
    """Logins that ended (logout, password change, a reused refresh token): their gateway
    sessions close with 4004."""
    return Event(EventName.SESSIONS_REVOKED, {"session_ids": [str(i) for i in session_ids]})


def bot_token_reset(bot_id: int, kept: str) -> Event:
    """A bot's token was replaced: every gateway session of the bot closes with 4004 but those
    of the new token, whose fingerprint is `kept` (one may identify before this arrives)."""
    return Event(EventName.SESSIONS_REVOKED, {"user_id": str(bot_id), "kept": kept})


def to_user(
    name: EventName,
    user_id: int,
    payload: dict[str, object],
    *,
    guild_id: int | None = None,
    channel_id: int | None = None,
) -> Event:
    """An event for one user's sessions alone, whoever else can see the channel: an
    interaction's progress, or an ephemeral message (its invoker is its only viewer)."""
    return Event(name, payload, guild_id=guild_id, channel_id=channel_id, user_ids=(user_id,))
