"""Guild members and bans: list, edit, give roles, time out, kick, add bots, ban."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import events
from core.access import load_access
from core.domain.audit import AuditAction, changes
from core.domain.members import (
    BULK_BAN_MAX,
    DELETE_MESSAGE_SECONDS_MAX,
    MAX_TIMEOUT,
    NICK_MAX,
    ban_wire,
)
from core.domain.permissions import Permission
from core.domain.timestamps import iso_or_none
from core.errors import (
    FormCheck,
    InvalidForm,
    MissingPermissions,
    UnknownBan,
    UnknownMember,
    UnknownRole,
    UnknownUser,
)
from core.events import EventName
from core.journal import Journal
from core.sessions import DEFAULT_LARGE_THRESHOLD, guild_start
from core.store import accounts as account_store
from core.store import guilds as guild_store
from core.store import members as store

if TYPE_CHECKING:
    from core.access import Access, AccessCache
    from core.domain.members import Member
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database
    from core.voice_moderation import VoiceModeration


@dataclass(frozen=True, slots=True)
class MemberChanges:
    """PATCH /guilds/{id}/members/{user_id}: only the fields in `given`."""

    given: frozenset[str]
    nick: str | None = None
    roles: tuple[int, ...] | None = None
    mute: bool | None = None
    deaf: bool | None = None
    communication_disabled_until: dt.datetime | None = None
    channel_id: int | None = None  # a voice move; None (given) disconnects


def _member_in(connection: Connection, guild_id: int, user_id: int) -> Member:
    found = store.member(connection, guild_id, user_id)
    if found is None:
        raise UnknownMember(str(user_id))
    return found


def _audit_view(member: Member) -> dict[str, object]:
    return {
        "nick": member.nick,
        "mute": member.mute,
        "deaf": member.deaf,
        "communication_disabled_until": iso_or_none(member.communication_disabled_until),
    }


def announce_join(
    connection: Connection, journal: Journal, cache: AccessCache, guild_id: int, user_id: int
) -> dict[str, object]:
    """After a member row is written: the events a join sends (GUILD_MEMBER_ADD to the guild,
    GUILD_CREATE to the newcomer), and the new member's wire object."""
    member = _member_in(connection, guild_id, user_id)
    # As a session of theirs would start with it: only the channels they may see.
    start = guild_start(cache, connection, guild_id, user_id, DEFAULT_LARGE_THRESHOLD)
    journal.emit(
        connection,
        events.member_add(member),
        events.guild_create(start.payload, guild_id, user_id),
    )
    return member.to_wire()


class Members:
    def __init__(
        self,
        db: Database,
        snowflakes: SnowflakeGenerator,
        access: AccessCache,
        voice: VoiceModeration,
    ) -> None:
        self._db = db
        self._access = access
        self._journal = Journal(snowflakes)
        self._voice = voice

    async def page(
        self, user_id: int, guild_id: int, *, after: int, limit: int
    ) -> list[dict[str, object]]:
        def read(connection: Connection) -> list[dict[str, object]]:
            load_access(self._access, connection, guild_id, user_id)
            return [
                m.to_wire()
                for m in store.members_page(connection, guild_id, after=after, limit=limit)
            ]

        return await self._db.autocommit(read)

    async def search(
        self, user_id: int, guild_id: int, query: str, limit: int
    ) -> list[dict[str, object]]:
        def read(connection: Connection) -> list[dict[str, object]]:
            load_access(self._access, connection, guild_id, user_id)
            return [m.to_wire() for m in store.search_members(connection, guild_id, query, limit)]

        return await self._db.autocommit(read)

    async def get(self, user_id: int, guild_id: int, member_id: int) -> dict[str, object]:
        def read(connection: Connection) -> dict[str, object]:
            load_access(self._access, connection, guild_id, user_id)
            return _member_in(connection, guild_id, member_id).to_wire()

        return await self._db.autocommit(read)

    async def update(
        self, user_id: int, guild_id: int, member_id: int, edit: MemberChanges, reason: str | None
    ) -> dict[str, object]:
        check = FormCheck()
        if "nick" in edit.given and edit.nick is not None and len(edit.nick) > NICK_MAX:
            check.fail("nick", "BASE_TYPE_MAX_LENGTH", f"Must be {NICK_MAX} or fewer in length.")
        until = edit.communication_disabled_until
        now = dt.datetime.now(dt.UTC)
        if (
            "communication_disabled_until" in edit.given
            and until is not None
            and until > now + MAX_TIMEOUT
        ):
            check.fail(
                "communication_disabled_until",
                "TIMEOUT_TOO_LONG",
                "A timeout lasts at most 28 days.",
            )
        check.done()
        moving = "channel_id" in edit.given
        if moving:  # (before anything changes: 40032 for a member who is in no channel)
            await self._voice.check_move(user_id, guild_id, member_id, edit.channel_id)

        def write(connection: Connection) -> Member:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            target = _member_in(connection, guild_id, member_id)
            columns = self._member_columns(access, target, edit, now)
            updated = (
                store.update_member(connection, guild_id, member_id, columns) if columns else target
            )
            self._record_member_change(connection, access, target, updated, reason)
            return updated

        updated = await self._db.run(write)
        voice = self._voice
        await voice.member_changed(guild_id, member_id, mute=updated.mute, deaf=updated.deaf)
        if "roles" in edit.given:
            await voice.recheck(guild_id)
        if moving:
            await voice.move(guild_id, member_id, edit.channel_id)
        return updated.to_wire()

    def _member_columns(
        self, access: Access, target: Member, edit: MemberChanges, now: dt.datetime
    ) -> dict[str, object]:
        """The columns `edit` changes, each checked against the permission it needs."""
        columns: dict[str, object] = {}
        is_self = target.user.id == access.user_id
        if "nick" in edit.given:
            if is_self:
                access.require(Permission.CHANGE_NICKNAME)
            else:
                access.require(Permission.MANAGE_NICKNAMES)
                access.require_above_member(target.user.id, target.role_ids)
            nick = (edit.nick or "").strip()
            columns["nick"] = nick or None  # an empty nick removes it
        if "roles" in edit.given and edit.roles is not None:
            access.require(Permission.MANAGE_ROLES)
            wanted = [
                role_id for role_id in dict.fromkeys(edit.roles) if role_id != access.guild.id
            ]
            changed = set(wanted) ^ set(target.role_ids)
            for role_id in changed:
                role = next((r for r in access.roles if r.id == role_id), None)
                if role is None:
                    raise UnknownRole(str(role_id))
                access.require_above(role)
            columns["role_ids"] = wanted
        for flag, needed in (
            ("mute", Permission.MUTE_MEMBERS),
            ("deaf", Permission.DEAFEN_MEMBERS),
        ):
            if flag in edit.given:
                access.require(needed)
                columns[flag] = bool(getattr(edit, flag))
        if "communication_disabled_until" in edit.given:
            access.require(Permission.MODERATE_MEMBERS)
            access.require_above_member(target.user.id, target.role_ids)
            until = edit.communication_disabled_until
            columns["communication_disabled_until"] = (
                until if until is not None and until > now else None
            )
        return columns

    def _record_member_change(
        self,
        connection: Connection,
        access: Access,
        before: Member,
        after: Member,
        reason: str | None,
    ) -> None:
        guild_id = access.guild.id
        added = [r for r in after.role_ids if r not in before.role_ids]
        removed = [r for r in before.role_ids if r not in after.role_ids]
        names = {role.id: role.name for role in access.roles}
        if added or removed:
            role_changes: list[dict[str, object]] = []
            if added:
                role_changes.append(
                    {
                        "key": "$add",
                        "new_value": [{"id": str(r), "name": names.get(r)} for r in added],
                    }
                )
            if removed:
                role_changes.append(
                    {
                        "key": "$remove",
                        "new_value": [{"id": str(r), "name": names.get(r)} for r in removed],
                    }
                )
            self._journal.audit(
                connection,
                guild_id=guild_id,
                user_id=access.user_id,
                action=AuditAction.MEMBER_ROLE_UPDATE,
                target_id=after.user.id,
                changes=role_changes,
                reason=reason,
            )
        diff = changes(_audit_view(before), _audit_view(after))
        if diff:
            self._journal.audit(
                connection,
                guild_id=guild_id,
                user_id=access.user_id,
                action=AuditAction.MEMBER_UPDATE,
                target_id=after.user.id,
                changes=diff,
                reason=reason,
            )
        if diff or added or removed:
            self._journal.emit(connection, events.member_update(after))

    async def set_role(
        self,
        user_id: int,
        guild_id: int,
        member_id: int,
        role_id: int,
        *,
        add: bool,
        reason: str | None,
    ) -> None:
        """PUT / DELETE /guilds/{id}/members/{user_id}/roles/{role_id}."""

        def write(connection: Connection) -> None:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.MANAGE_ROLES)
            role = next((r for r in access.roles if r.id == role_id), None)
            if role is None or role.id == guild_id:
                raise UnknownRole(str(role_id))
            access.require_above(role)
            target = _member_in(connection, guild_id, member_id)
            role_ids = [r for r in target.role_ids if r != role_id] + ([role_id] if add else [])
            if set(role_ids) == set(target.role_ids):
                return
            updated = store.update_member(connection, guild_id, member_id, {"role_ids": role_ids})
            self._record_member_change(connection, access, target, updated, reason)

        await self._db.run(write)
        await self._voice.recheck(guild_id)  # a role taken away may take CONNECT with it

    async def kick(self, user_id: int, guild_id: int, member_id: int, reason: str | None) -> None:
        def write(connection: Connection) -> None:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.KICK_MEMBERS)
            target = _member_in(connection, guild_id, member_id)
            access.require_above_member(target.user.id, target.role_ids)
            guild_store.remove_member(connection, guild_id, member_id)
            self._journal.audit(
                connection,
                guild_id=guild_id,
                user_id=user_id,
                action=AuditAction.MEMBER_KICK,
                target_id=member_id,
                changes=[],
                reason=reason,
            )
            self._journal.emit(
                connection,
                events.left_guild(guild_id, member_id),
                events.member_remove(guild_id, target.user),
            )

        await self._db.run(write)
        await self._voice.disconnect(guild_id, member_id)

    async def add_bot(self, user_id: int, guild_id: int, bot_id: int) -> dict[str, object] | None:
        """PUT /guilds/{id}/members/{user_id}: a member with MANAGE_GUILD adds a bot (our stand-in
        for Discord's OAuth2 bot authorisation). People join only through invites. None when the
        bot is already a member."""

        def write(connection: Connection) -> dict[str, object] | None:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.MANAGE_GUILD)
            bot = account_store.user_by_id(connection, bot_id)
            if bot is None:
                raise UnknownUser(str(bot_id))
            if not bot.bot:
                raise InvalidForm.one(
                    "user_id",
                    "USER_NOT_BOT",
                    "Only bots are added this way; people join by invite.",
                )
            if store.member(connection, guild_id, bot_id) is not None:
                return None
            if store.ban_of(connection, guild_id, bot_id) is not None:
                raise MissingPermissions("the bot is banned")
            guild_store.insert_member(connection, guild_id, bot_id)
            return announce_join(connection, self._journal, self._access, guild_id, bot_id)

        return await self._db.run(write)

    # Bans.

    async def bans(
        self, user_id: int, guild_id: int, *, before: int | None, after: int | None, limit: int
    ) -> list[dict[str, object]]:
        def read(connection: Connection) -> list[dict[str, object]]:
            load_access(self._access, connection, guild_id, user_id).require(Permission.BAN_MEMBERS)
            return [
                ban_wire(b.user, b.reason)
                for b in store.bans_page(
                    connection, guild_id, before=before, after=after, limit=limit
                )
            ]

        return await self._db.autocommit(read)

    async def ban(self, user_id: int, guild_id: int, banned_id: int) -> dict[str, object]:
        def read(connection: Connection) -> dict[str, object]:
            load_access(self._access, connection, guild_id, user_id).require(Permission.BAN_MEMBERS)
            found = store.ban_of(connection, guild_id, banned_id)
            if found is None:
                raise UnknownBan(str(banned_id))
            return ban_wire(found.user, found.reason)

        return await self._db.autocommit(read)

    async def add_bans(
        self,
        user_id: int,
        guild_id: int,
        banned_ids: list[int],
        delete_message_seconds: int,
        reason: str | None,
        *,
        bulk: bool = False,
    ) -> tuple[list[int], list[int]]:
        """Bans each user (removing them if members); returns (banned, failed). One ban fails
        the request; in a bulk ban, users that cannot be banned are listed as failed."""
        check = FormCheck()
        if not 0 <= delete_message_seconds <= DELETE_MESSAGE_SECONDS_MAX:
            check.fail(
                "delete_message_seconds",
                "NUMBER_TYPE_MAX",
                f"Must be between 0 and {DELETE_MESSAGE_SECONDS_MAX}.",
            )
        if bulk and not 1 <= len(banned_ids) <= BULK_BAN_MAX:
            check.fail(
                "user_ids",
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {BULK_BAN_MAX} in length.",
            )
        check.done()

        def write(connection: Connection) -> tuple[list[int], list[int]]:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.BAN_MEMBERS)
            if bulk:
                access.require(Permission.MANAGE_GUILD)
            banned: list[int] = []
            failed: list[int] = []
            for banned_id in dict.fromkeys(banned_ids):
                try:
                    if self._ban_one(connection, access, banned_id, reason):
                        banned.append(banned_id)
                    else:
                        failed.append(banned_id)
                except (UnknownUser, MissingPermissions):
                    if not bulk:
                        raise
                    failed.append(banned_id)
            return banned, failed

        banned, failed = await self._db.run(write)
        for banned_id in banned:
            await self._voice.disconnect(guild_id, banned_id)
        return banned, failed

    def _ban_one(
        self, connection: Connection, access: Access, banned_id: int, reason: str | None
    ) -> bool:
        guild_id = access.guild.id
        user = account_store.user_by_id(connection, banned_id)
        if user is None:
            raise UnknownUser(str(banned_id))
        if banned_id == access.user_id:
            raise MissingPermissions("cannot ban yourself")
        target = store.member(connection, guild_id, banned_id)
        access.require_above_member(banned_id, target.role_ids if target else [])
        if not store.insert_ban(connection, guild_id, banned_id, reason):
            return False
        self._journal.audit(
            connection,
            guild_id=guild_id,
            user_id=access.user_id,
            action=AuditAction.MEMBER_BAN_ADD,
            target_id=banned_id,
            changes=[],
            reason=reason,
        )
        self._journal.emit(connection, events.ban_event(EventName.GUILD_BAN_ADD, guild_id, user))
        if target is not None:
            guild_store.remove_member(connection, guild_id, banned_id)
            self._journal.emit(
                connection,
                events.left_guild(guild_id, banned_id),
                events.member_remove(guild_id, user),
            )
        return True

    async def remove_ban(
        self, user_id: int, guild_id: int, banned_id: int, reason: str | None
    ) -> None:
        def write(connection: Connection) -> None:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.BAN_MEMBERS)
            found = store.ban_of(connection, guild_id, banned_id)
            if found is None or not store.delete_ban(connection, guild_id, banned_id):
                raise UnknownBan(str(banned_id))
            self._journal.audit(
                connection,
                guild_id=guild_id,
                user_id=user_id,
                action=AuditAction.MEMBER_BAN_REMOVE,
                target_id=banned_id,
                changes=[],
                reason=reason,
            )
            self._journal.emit(
                connection, events.ban_event(EventName.GUILD_BAN_REMOVE, guild_id, found.user)
            )

        await self._db.run(write)
