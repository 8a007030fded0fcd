"""Invites: create, list, look up (public), revoke, and accept (join the guild)."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg

from core import events
from core.access import load_access, load_channel_access
from core.domain.audit import AuditAction, changes
from core.domain.guilds import ChannelType
from core.domain.members import INVITE_MAX_AGE_S, INVITE_MAX_USES
from core.domain.permissions import Permission
from core.domain.timestamps import iso, iso_or_none
from core.errors import (
    BannedFromGuild,
    FormCheck,
    MissingAccess,
    MissingPermissions,
    UnknownChannel,
    UnknownInvite,
)
from core.events import EventName
from core.journal import Journal
from core.members import announce_join
from core.store import accounts as account_store
from core.store import guilds as guild_store
from core.store import members as store

if TYPE_CHECKING:
    from core.access import AccessCache
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database
    from core.store.members import InviteRow

_CODE_ALPHABET = string.ascii_letters + string.digits
_CODE_LENGTH = 10  # 62**10: not worth guessing


@dataclass(frozen=True, slots=True)
class InviteSettings:
    max_age: int = 86400
    max_uses: int = 0
    temporary: bool = False


def _wire(
    connection: Connection, invite: InviteRow, *, metadata: bool, counts: bool = False
) -> dict[str, object]:
    """Discord's invite object, with its metadata (uses, limits) for those managing it."""
    guild = guild_store.guild_by_id(connection, invite.guild_id)
    channel = guild_store.channel_by_id(connection, invite.channel_id)
    assert guild is not None  # foreign keys cascade
    assert channel is not None
    inviter = account_store.user_by_id(connection, invite.inviter_id) if invite.inviter_id else None
    wire: dict[str, object] = {
        "type": 0,
        "code": invite.code,
        "guild_id": str(guild.id),
        "guild": {
            "id": str(guild.id),
            "name": guild.name,
            "icon": guild.icon,
            "splash": None,
            "banner": None,
            "description": guild.description,
            "features": [],
            "verification_level": guild.verification_level,
            "vanity_url_code": None,
            "nsfw_level": 0,
            "premium_subscription_count": 0,
        },
        "channel": {"id": str(channel.id), "name": channel.name, "type": channel.type},
        "expires_at": iso_or_none(invite.expires_at),
    }
    if inviter is not None:
        wire["inviter"] = inviter.to_wire()
    if counts:
        wire["approximate_member_count"] = guild_store.member_counts(connection, guild.id)
        wire["approximate_presence_count"] = 0
    if metadata:
        wire |= {
            "uses": invite.uses,
            "max_uses": invite.max_uses,
            "max_age": invite.max_age,
            "temporary": invite.temporary,
            "created_at": iso(invite.created_at),
        }
    return wire


class Invites:
    def __init__(self, db: Database, snowflakes: SnowflakeGenerator, access: AccessCache) -> None:
        self._db = db
        self._access = access
        self._journal = Journal(snowflakes)

    async def create(
        self, user_id: int, channel_id: int, settings: InviteSettings, reason: str | None
    ) -> dict[str, object]:
        check = FormCheck()
        if not 0 <= settings.max_age <= INVITE_MAX_AGE_S:
            check.fail("max_age", "NUMBER_TYPE_MAX", f"Must be between 0 and {INVITE_MAX_AGE_S}.")
        if not 0 <= settings.max_uses <= INVITE_MAX_USES:
            check.fail("max_uses", "NUMBER_TYPE_MAX", f"Must be between 0 and {INVITE_MAX_USES}.")
        check.done()

        def write(connection: Connection) -> dict[str, object]:
            found = load_channel_access(self._access, connection, channel_id, user_id)
            found.access.require(Permission.CREATE_INSTANT_INVITE, have=found.permissions)
            if found.channel.type == ChannelType.GUILD_CATEGORY:
                raise MissingPermissions("categories have no invites")
            guild_id = found.access.guild.id
            while True:
                code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
                try:
                    with connection.transaction():
                        invite = store.insert_invite(
                            connection,
                            code=code,
                            guild_id=guild_id,
                            channel_id=channel_id,
                            inviter_id=user_id,
                            max_age=settings.max_age,
                            max_uses=settings.max_uses,
                            temporary=settings.temporary,
                        )
                    break
                except psycopg.errors.UniqueViolation:
                    continue  # a code already taken: draw another
            wire = _wire(connection, invite, metadata=True)
            self._journal.audit(
                connection,
                guild_id=guild_id,
                user_id=user_id,
                action=AuditAction.INVITE_CREATE,
                target_id=None,
                changes=changes(
                    None,
                    {
                        "code": code,
                        "channel_id": str(channel_id),
                        "max_uses": settings.max_uses,
                        "max_age": settings.max_age,
                        "temporary": settings.temporary,
                    },
                ),
                reason=reason,
            )
            self._journal.emit(
                connection, events.invite_event(EventName.INVITE_CREATE, wire, guild_id, channel_id)
            )
            return wire

        return await self._db.run(write)

    async def of_channel(self, user_id: int, channel_id: int) -> list[dict[str, object]]:
        def read(connection: Connection) -> list[dict[str, object]]:
            found = load_channel_access(self._access, connection, channel_id, user_id)
            found.access.require(Permission.MANAGE_CHANNELS, have=found.permissions)
            invites = store.invites_where(
                connection, guild_id=found.access.guild.id, channel_id=channel_id
            )
            return [_wire(connection, invite, metadata=True) for invite in invites]

        return await self._db.autocommit(read)

    async def of_guild(self, user_id: int, guild_id: int) -> list[dict[str, object]]:
        def read(connection: Connection) -> list[dict[str, object]]:
            load_access(self._access, connection, guild_id, user_id).require(
                Permission.MANAGE_GUILD
            )
            return [
                _wire(connection, i, metadata=True)
                for i in store.invites_where(connection, guild_id=guild_id, channel_id=None)
            ]

        return await self._db.autocommit(read)

    async def look_up(self, code: str, *, with_counts: bool) -> dict[str, object]:
        """Public: anyone holding the code may see where it leads."""

        def read(connection: Connection) -> dict[str, object]:
            invite = store.live_invite(connection, code)
            if invite is None:
                raise UnknownInvite(code)
            return _wire(connection, invite, metadata=False, counts=with_counts)

        return await self._db.autocommit(read)

    async def delete(self, user_id: int, code: str, reason: str | None) -> dict[str, object]:
        def write(connection: Connection) -> dict[str, object]:
            invite = store.live_invite(connection, code)
            if invite is None:
                raise UnknownInvite(code)
            try:
                found = load_channel_access(
                    self._access, connection, invite.channel_id, user_id, lock=True
                )
            except (UnknownChannel, MissingAccess):  # not in the guild, or cannot see it
                raise UnknownInvite(code) from None
            access = found.access
            if not (
                found.permissions & Permission.MANAGE_CHANNELS
                or access.base() & Permission.MANAGE_GUILD
            ):
                raise MissingPermissions("MANAGE_CHANNELS")
            wire = _wire(connection, invite, metadata=False)
            store.delete_invite(connection, code)
            self._journal.audit(
                connection,
                guild_id=invite.guild_id,
                user_id=user_id,
                action=AuditAction.INVITE_DELETE,
                target_id=None,
                changes=changes({"code": code, "channel_id": str(invite.channel_id)}, None),
                reason=reason,
            )
            self._journal.emit(
                connection,
                events.invite_event(
                    EventName.INVITE_DELETE,
                    {
                        "code": code,
                        "channel_id": str(invite.channel_id),
                        "guild_id": str(invite.guild_id),
                    },
                    invite.guild_id,
                    invite.channel_id,
                ),
            )
            return wire

        return await self._db.run(write)

    async def accept(self, user_id: int, code: str) -> dict[str, object]:
        """Joins the guild the invite leads to. A member already in it uses no use up; a banned
        user is refused whatever the invite."""

        def write(connection: Connection) -> dict[str, object]:
            invite = store.live_invite(connection, code)
            if invite is None:
                raise UnknownInvite(code)
            guild_store.guild_by_id(connection, invite.guild_id, lock=True)
            if guild_store.member_of(connection, invite.guild_id, user_id) is not None:
                return _wire(connection, invite, metadata=False)
            if store.ban_of(connection, invite.guild_id, user_id) is not None:
                raise BannedFromGuild(str(invite.guild_id))
            used = store.use_invite(connection, code)
            if used is None:
                raise UnknownInvite(code)  # used up or expired since it was read
            guild_store.insert_member(connection, invite.guild_id, user_id)
            announce_join(connection, self._journal, self._access, invite.guild_id, user_id)
            return _wire(connection, used, metadata=False)

        return await self._db.run(write)
