"""What a member may do in a guild: loaded once per request, decided by the native engine.

Every guild route asks through here. Nobody outside a guild learns anything of it: a guild
the caller is not in is "unknown", exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.domain.guilds import ChannelType, highest_position
from core.domain.permissions import (
    ALL_PERMISSIONS,
    ChannelPermissions,
    GuildPermissions,
    Permission,
)
from core.errors import (
    MissingAccess,
    MissingPermissions,
    NotATextChannel,
    UnknownChannel,
    UnknownGuild,
)
from core.store import direct
from core.store import guilds as store

if TYPE_CHECKING:
    from core.domain.guilds import Channel, Guild, Overwrite, Role
    from core.store.database import Connection
    from core.store.guilds import MemberAccess


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    channel: Channel  # for permissions; its last_message_id is as of the snapshot
    overwrites: list[Overwrite]
    layout: ChannelPermissions


@dataclass(frozen=True, slots=True)
class GuildSnapshot:
    """A guild's roles, channels and overwrites as of one access_version, laid out for the
    native engine: built once per version, shared by every request (and gateway session)."""

    version: int
    guild: Guild
    roles: list[Role]
    engine: GuildPermissions
    channels: dict[int, ChannelSnapshot]


class AccessCache:
    """Guild snapshots, each used only while its guild's access_version stands. The database
    moves the version with every change to a guild, its roles, channels or overwrites, in the
    changing transaction, so the request after a commit sees the change, on every process.
    Bounded: the guild used least recently goes first. Database work runs on the Trio thread
    (core/store/database.py), so no lock: a query may suspend a load, never a dict update."""

    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._snapshots: OrderedDict[int, GuildSnapshot] = OrderedDict()

    def cached(self, guild_id: int, version: int) -> GuildSnapshot | None:
        """The guild at `version` or newer, if the cache has it."""
        found = self._snapshots.get(guild_id)
        if found is None or found.version < version:
            return None
        self._snapshots.move_to_end(guild_id)
        return found

    def snapshot(self, connection: Connection, guild_id: int, version: int) -> GuildSnapshot:
        """The guild at `version` (or newer), from the cache or loaded and kept now."""
        if (found := self.cached(guild_id, version)) is not None:
            return found
        loaded = _load_snapshot(connection, guild_id)
        self._snapshots[guild_id] = loaded
        self._snapshots.move_to_end(guild_id)
        while len(self._snapshots) > self._capacity:
            self._snapshots.popitem(last=False)
        return loaded


def _load_snapshot(connection: Connection, guild_id: int) -> GuildSnapshot:
    # The guild row (and its version) is read first, so everything read after it is at least
    # as new as the version it is filed under.
    found = store.guild_with_version(connection, guild_id)
    if found is None:
        raise UnknownGuild(str(guild_id))
    guild, version = found
    roles = store.roles_of(connection, guild_id)
    engine = GuildPermissions(
        guild.id, guild.owner_id, [(role.id, role.permissions) for role in roles]
    )
    channels = store.channels_of(connection, guild_id)
    overwrites = store.overwrites_of(connection, [channel.id for channel in channels])
    return GuildSnapshot(
        version,
        guild,
        roles,
        engine,
        {
            channel.id: ChannelSnapshot(
                channel,
                overwrites[channel.id],
                engine.channel(
                    [o.as_native() for o in overwrites[channel.id]], text=channel.is_text
                ),
            )
            for channel in channels
        },
    )


@dataclass(frozen=True, slots=True)
class Access:
    snapshot: GuildSnapshot
    user_id: int
    role_ids: list[int]
    timed_out: bool

    @property
    def guild(self) -> Guild:
        return self.snapshot.guild

    @property
    def roles(self) -> list[Role]:
        return self.snapshot.roles

    @property
    def is_owner(self) -> bool:
        return self.guild.owner_id == self.user_id

    def base(self) -> int:
        """Guild-wide permissions."""
        return self.snapshot.engine.resolve(self.user_id, self.role_ids, timed_out=self.timed_out)

    def in_channel(self, channel_id: int) -> int:
        """Permissions in one of the guild's channels (none in a channel it lacks)."""
        found = self.snapshot.channels.get(channel_id)
        if found is None:
            return 0
        return self.snapshot.engine.resolve(
            self.user_id, self.role_ids, timed_out=self.timed_out, channel=found.layout
        )

    def require(self, wanted: Permission, *, have: int | None = None) -> None:
        """MissingPermissions unless `have` (default: guild-wide) holds every bit of `wanted`."""
        held = self.base() if have is None else have
        if held & wanted != wanted:
            raise MissingPermissions(wanted.name or str(int(wanted)))

    def require_grantable(self, bits: int, *, have: int | None = None) -> None:
        """Nobody grants (or denies) a permission they do not hold themselves."""
        held = self.base() if have is None else have
        if held != ALL_PERMISSIONS and bits & ~held:
            raise MissingPermissions("granting a permission the caller lacks")

    def top_position(self) -> int:
        """The caller's highest role position; the owner is above every role."""
        if self.is_owner:
            return 1 << 31
        return highest_position(self.roles, self.role_ids)

    def require_above_member(self, target_id: int, target_role_ids: list[int]) -> None:
        """Members are managed only from above: nobody acts on the owner, and everyone else
        only on members whose highest role sits below the caller's highest."""
        if target_id == self.guild.owner_id or (
            not self.is_owner
            and highest_position(self.roles, target_role_ids) >= self.top_position()
        ):
            raise MissingPermissions("member hierarchy")

    def require_above(self, role: Role) -> None:
        """Roles are managed only from above: the role must sit below the caller's highest."""
        if role.position >= self.top_position():
            raise MissingPermissions("role hierarchy")


def _access(cache: AccessCache, connection: Connection, found: MemberAccess) -> Access:
    member = found.member
    assert member is not None
    timed_out = (
        member.communication_disabled_until is not None
        and member.communication_disabled_until > dt.datetime.now(dt.UTC)
    )
    snapshot = cache.snapshot(connection, found.guild_id, found.version)
    return Access(snapshot, found.user_id, member.role_ids, timed_out)


def load_access(
    cache: AccessCache,
    connection: Connection,
    guild_id: int,
    user_id: int,
    *,
    lock: bool = False,
) -> Access:
    """The caller's access to the guild; UnknownGuild when it does not exist or they are not
    in it. `lock` serialises changes to the guild for the rest of the transaction."""
    found = store.member_access(connection, guild_id, user_id, lock=lock)
    if found is None or found.member is None:
        raise UnknownGuild(str(guild_id))
    return _access(cache, connection, found)


@dataclass(frozen=True, slots=True)
class ChannelAccess:
    access: Access
    channel: Channel  # for permissions; read the channel afresh to show it
    overwrites: list[Overwrite]
    permissions: int  # the caller's, in this channel


def load_channel_access(
    cache: AccessCache,
    connection: Connection,
    channel_id: int,
    user_id: int,
    *,
    lock: bool = False,
) -> ChannelAccess:
    """The caller's access to a guild channel they can see. UnknownChannel when it does not
    exist or is in a guild they are not in; MissingAccess when they cannot view it."""
    if lock:
        guild_id = store.guild_of_channel(connection, channel_id)
        found = (
            None
            if guild_id is None
            else store.member_access(connection, guild_id, user_id, lock=True)
        )
    else:  # the hot path: channel, guild version and member in one round trip
        found = store.channel_member_access(connection, channel_id, user_id)
    if found is None or found.member is None:
        raise UnknownChannel(str(channel_id))
    return _in_channel(_access(cache, connection, found), channel_id)


def _in_channel(access: Access, channel_id: int) -> ChannelAccess:
    channel = access.snapshot.channels.get(channel_id)
    if channel is None:  # gone since the version was read
        raise UnknownChannel(str(channel_id))
    permissions = access.in_channel(channel_id)
    if not permissions & Permission.VIEW_CHANNEL:
        raise MissingAccess(f"channel {channel_id}")
    return ChannelAccess(access, channel.channel, channel.overwrites, permissions)


# What anyone in a DM may do: Discord's implicit permissions there. A block takes sending and
# reacting away (and sending answers "cannot send messages to this user").
DM_PERMISSIONS = int(
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.SEND_TTS_MESSAGES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.ATTACH_FILES
    | Permission.EMBED_LINKS
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.PIN_MESSAGES
)


@dataclass(frozen=True, slots=True)
class MessageAccess:
    """What the caller may do with the messages of one channel, a guild's or a DM."""

    channel: Channel
    permissions: int
    guild_id: int | None
    roles: list[Role]  # the guild's, for role mentions; none in a DM
    blocked: bool  # a DM where one of the two has blocked the other
    sender: tuple[object, ...] | None = None  # the caller's PEOPLE_SELECT row, when asked

    def require(self, wanted: Permission) -> None:
        if self.permissions & wanted != wanted:
            raise MissingPermissions(wanted.name or str(int(wanted)))


# Channels whose chat takes messages (voice channels have a text chat too).
MESSAGE_CHANNELS = frozenset(
    {
        ChannelType.GUILD_TEXT,
        ChannelType.GUILD_ANNOUNCEMENT,
        ChannelType.GUILD_VOICE,
        ChannelType.GUILD_STAGE_VOICE,
        ChannelType.DM,
        ChannelType.GROUP_DM,
    }
)


def _with_chat(found: MessageAccess) -> MessageAccess:
    if found.channel.type not in MESSAGE_CHANNELS:
        raise NotATextChannel(str(found.channel.id))
    return found


def load_message_access(
    cache: AccessCache,
    connection: Connection,
    channel_id: int,
    user_id: int,
    *,
    lock: bool = False,
    sender: bool = False,
) -> MessageAccess:
    """Access to a channel's messages. A DM's recipients have Discord's implicit DM
    permissions; anyone else finds it unknown, like a guild channel of a guild they are not in;
    a channel without a chat (a category, say) is NotATextChannel.
    `sender`: with the caller as a message's author would show them, in the same round trip."""
    guild_id = store.guild_of_channel(connection, channel_id) if lock else None
    found = (
        store.member_access(connection, guild_id, user_id, lock=True)
        if guild_id is not None
        else store.channel_member_access(connection, channel_id, user_id, person=sender)
    )
    if found is None:
        raise UnknownChannel(str(channel_id))
    if found.guild_id:
        if found.member is None:
            raise UnknownChannel(str(channel_id))
        access = _access(cache, connection, found)
        in_channel = _in_channel(access, channel_id)
        return _with_chat(
            MessageAccess(
                in_channel.channel,
                in_channel.permissions,
                access.guild.id,
                access.roles,
                blocked=False,
                sender=found.person,
            )
        )
    channel = store.channel_by_id(connection, channel_id)
    recipients = direct.recipients(connection, channel_id)
    if channel is None or user_id not in recipients:
        raise UnknownChannel(str(channel_id))
    others = [r for r in recipients if r != user_id]
    blocked = (
        len(recipients) == 2
        and bool(others)
        and direct.blocked_between(connection, user_id, others[0])
    )
    permissions = (
        DM_PERMISSIONS & ~int(Permission.SEND_MESSAGES | Permission.ADD_REACTIONS)
        if blocked
        else DM_PERMISSIONS
    )
    return _with_chat(MessageAccess(channel, permissions, None, [], blocked, sender=found.person))
