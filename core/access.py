"""What a member may do in a guild: loaded once per request, decided by the native engine.

Every guild route asks through here. Nobody outside a guild learns anything of it: a guild
the caller is not in is "unknown", exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.domain.guilds import highest_position
from core.domain.permissions import ALL_PERMISSIONS, GuildPermissions, Permission
from core.errors import MissingAccess, MissingPermissions, UnknownChannel, UnknownGuild
from core.store import direct
from core.store import guilds as store

if TYPE_CHECKING:
    from core.domain.guilds import Channel, Guild, Overwrite, Role
    from core.store.database import Connection


@dataclass(frozen=True, slots=True)
class Access:
    guild: Guild
    roles: list[Role]
    user_id: int
    role_ids: list[int]
    timed_out: bool
    engine: GuildPermissions

    @property
    def is_owner(self) -> bool:
        return self.guild.owner_id == self.user_id

    def base(self) -> int:
        """Guild-wide permissions."""
        return self.engine.resolve(self.user_id, self.role_ids, timed_out=self.timed_out)

    def in_channel(self, channel: Channel, overwrites: list[Overwrite]) -> int:
        layout = self.engine.channel([o.as_native() for o in overwrites], text=channel.is_text)
        return self.engine.resolve(
            self.user_id, self.role_ids, timed_out=self.timed_out, channel=layout
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


def load_access(
    connection: Connection, guild_id: int, user_id: int, *, lock: bool = False
) -> Access:
    """The caller's access to the guild; UnknownGuild when it does not exist or they are not
    in it. `lock` serialises changes to the guild for the rest of the transaction."""
    guild = store.guild_by_id(connection, guild_id, lock=lock)
    member = store.member_of(connection, guild_id, user_id) if guild else None
    if guild is None or member is None:
        raise UnknownGuild(str(guild_id))
    roles = store.roles_of(connection, guild_id)
    now = dt.datetime.now(dt.UTC)
    timed_out = (
        member.communication_disabled_until is not None
        and member.communication_disabled_until > now
    )
    engine = GuildPermissions(
        guild.id, guild.owner_id, [(role.id, role.permissions) for role in roles]
    )
    return Access(guild, roles, user_id, member.role_ids, timed_out, engine)


@dataclass(frozen=True, slots=True)
class ChannelAccess:
    access: Access
    channel: Channel
    overwrites: list[Overwrite]
    permissions: int  # the caller's, in this channel


def load_channel_access(
    connection: Connection, channel_id: int, user_id: int, *, lock: bool = False
) -> ChannelAccess:
    """The caller's access to a guild channel they can see. UnknownChannel when it does not
    exist or is in a guild they are not in; MissingAccess when they cannot view it."""
    channel = store.channel_by_id(connection, channel_id)
    if channel is None or channel.guild_id is None:
        raise UnknownChannel(str(channel_id))
    return _guild_channel_access(connection, channel, user_id, lock=lock)


def _guild_channel_access(
    connection: Connection, channel: Channel, user_id: int, *, lock: bool
) -> ChannelAccess:
    """load_channel_access for a guild channel already read (one read less on hot paths)."""
    channel_id = channel.id
    assert channel.guild_id is not None
    try:
        access = load_access(connection, channel.guild_id, user_id, lock=lock)
    except UnknownGuild:
        raise UnknownChannel(str(channel_id)) from None
    if lock:  # re-read under the guild's lock, which serialises channel changes
        current = store.channel_by_id(connection, channel_id)
        if current is None:
            raise UnknownChannel(str(channel_id))
        channel = current
    overwrites = store.overwrites_of(connection, [channel.id])[channel.id]
    permissions = access.in_channel(channel, overwrites)
    if not permissions & Permission.VIEW_CHANNEL:
        raise MissingAccess(f"channel {channel_id}")
    return ChannelAccess(access, channel, overwrites, permissions)


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

    def require(self, wanted: Permission) -> None:
        if self.permissions & wanted != wanted:
            raise MissingPermissions(wanted.name or str(int(wanted)))


def load_message_access(
    connection: Connection, channel_id: int, user_id: int, *, lock: bool = False
) -> MessageAccess:
    """Access to a channel's messages. A DM's recipients have Discord's implicit DM
    permissions; anyone else finds it unknown, like a guild channel of a guild they are not in."""
    channel = store.channel_by_id(connection, channel_id)
    if channel is None:
        raise UnknownChannel(str(channel_id))
    if channel.guild_id is not None:
        found = _guild_channel_access(connection, channel, user_id, lock=lock)
        return MessageAccess(
            found.channel, found.permissions, channel.guild_id, found.access.roles, blocked=False
        )
    recipients = direct.recipients(connection, channel_id)
    if user_id not in recipients:
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
    return MessageAccess(channel, permissions, None, [], blocked)
