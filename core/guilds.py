"""Guilds: create one, read it, edit it, delete it; a user's guilds; leaving; the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import events
from core.access import load_access
from core.domain import guilds as rules
from core.domain.audit import AuditAction, changes
from core.domain.permissions import GuildPermissions, Permission
from core.errors import FormCheck, InvalidGuildAction, MissingPermissions
from core.journal import Journal
from core.sessions import DEFAULT_LARGE_THRESHOLD, guild_start
from core.store import accounts as account_store
from core.store import guilds as store

if TYPE_CHECKING:
    from core.access import AccessCache
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database
    from core.voice_moderation import VoiceModeration

# Fields of PATCH /guilds/{id} and the bounds Discord gives them.
_LEVELS = {
    "verification_level": 4,
    "default_message_notifications": 1,
    "explicit_content_filter": 2,
}
_AFK_TIMEOUTS = frozenset({60, 300, 900, 1800, 3600})


@dataclass(frozen=True, slots=True)
class GuildChanges:
    """PATCH /guilds/{id}: only the fields in `given` change."""

    given: frozenset[str]
    name: str | None = None
    description: str | None = None
    verification_level: int | None = None
    default_message_notifications: int | None = None
    explicit_content_filter: int | None = None
    afk_timeout: int | None = None
    afk_channel_id: int | None = None
    system_channel_id: int | None = None
    preferred_locale: str | None = None


def _guild_snapshot(connection: Connection, guild_id: int) -> dict[str, object]:
    guild = store.guild_by_id(connection, guild_id)
    assert guild is not None
    return guild.to_wire(store.roles_of(connection, guild_id))


class Guilds:
    def __init__(
        self,
        db: Database,
        snowflakes: SnowflakeGenerator,
        access: AccessCache,
        voice: VoiceModeration,
    ) -> None:
        self._voice = voice  # a member who leaves, or a deleted guild, leaves voice too
        self._db = db
        self._access = access
        self._snowflakes = snowflakes
        self._journal = Journal(snowflakes)

    async def create(self, owner_id: int, name: str) -> dict[str, object]:
        """A new guild owned by `owner_id`: @everyone with Discord's defaults, a text and a
        voice category with `general` and `General`, and its owner as first member."""
        check = FormCheck()
        rules.check_guild_name(check, name)
        check.done()
        guild_id = self._snowflakes.next_id()
        layout = rules.new_guild_layout()
        channel_ids = self._snowflakes.next_ids(len(layout))

        def write(connection: Connection) -> dict[str, object]:
            guild = store.insert_guild(connection, guild_id, name.strip(), owner_id)
            everyone = store.insert_role(
                connection, guild_id, guild_id, "@everyone", rules.DEFAULT_EVERYONE_PERMISSIONS, 0
            )
            channels = []
            for channel_id, (channel_name, kind, position, parent) in zip(
                channel_ids, layout, strict=True
            ):
                parent_id = None if parent is None else channel_ids[parent]
                extra = (
                    {"bitrate": 64000, "user_limit": 0} if kind in rules.VOICE_CHANNEL_TYPES else {}
                )
                channels.append(
                    store.insert_channel(
                        connection,
                        channel_id,
                        guild_id,
                        kind,
                        channel_name,
                        position,
                        parent_id,
                        **extra,
                    )
                )
            guild = store.update_guild(connection, guild_id, {"system_channel_id": channel_ids[2]})
            store.insert_member(connection, guild_id, owner_id)
            start = guild_start(
                self._access, connection, guild_id, owner_id, DEFAULT_LARGE_THRESHOLD
            )
            self._journal.emit(connection, events.guild_create(start.payload, guild_id, owner_id))
            return guild.to_wire([everyone])

        return await self._db.run(write)

    async def get(self, user_id: int, guild_id: int, *, with_counts: bool) -> dict[str, object]:
        def read(connection: Connection) -> dict[str, object]:
            access = load_access(self._access, connection, guild_id, user_id)
            wire = access.guild.to_wire(access.roles)
            if with_counts:
                count = store.member_counts(connection, guild_id)
                wire |= {"approximate_member_count": count, "approximate_presence_count": 0}
            return wire

        return await self._db.autocommit(read)

    async def update(
        self, user_id: int, guild_id: int, edit: GuildChanges, reason: str | None
    ) -> dict[str, object]:
        check = FormCheck()
        columns: dict[str, object] = {}
        if "name" in edit.given:
            rules.check_guild_name(check, edit.name or "")
            columns["name"] = (edit.name or "").strip()
        if "description" in edit.given:
            if edit.description is not None and len(edit.description) > 120:
                check.fail("description", "BASE_TYPE_MAX_LENGTH", "Must be 120 or fewer in length.")
            columns["description"] = edit.description
        for field, highest in _LEVELS.items():
            if field in edit.given:
                value = getattr(edit, field)
                if value is None or not 0 <= value <= highest:
                    check.fail(
                        field,
                        "BASE_TYPE_CHOICES",
                        f"Value must be one of {list(range(highest + 1))}.",
                    )
                columns[field] = value
        if "afk_timeout" in edit.given:
            if edit.afk_timeout not in _AFK_TIMEOUTS:
                check.fail(
                    "afk_timeout",
                    "BASE_TYPE_CHOICES",
                    f"Value must be one of {sorted(_AFK_TIMEOUTS)}.",
                )
            columns["afk_timeout"] = edit.afk_timeout
        if "preferred_locale" in edit.given:
            if not edit.preferred_locale or len(edit.preferred_locale) > 10:
                check.fail("preferred_locale", "LOCALE_INVALID", "Invalid locale.")
            columns["preferred_locale"] = edit.preferred_locale
        for field in ("afk_channel_id", "system_channel_id"):
            if field in edit.given:
                columns[field] = getattr(edit, field)
        check.done()

        def write(connection: Connection) -> dict[str, object]:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.MANAGE_GUILD)
            own_channels = {c.id: c for c in store.channels_of(connection, guild_id)}
            bad = FormCheck()
            for field, wanted in (
                ("afk_channel_id", rules.VOICE_CHANNEL_TYPES),
                ("system_channel_id", rules.TEXT_CHANNEL_TYPES),
            ):
                channel_id = columns.get(field)
                if channel_id is not None and (
                    not isinstance(channel_id, int)
                    or channel_id not in own_channels
                    or own_channels[channel_id].type not in wanted
                ):
                    bad.fail(field, "CHANNEL_INVALID", "Not a suitable channel of this guild.")
            bad.done()
            before = access.guild.to_wire(access.roles)
            guild = store.update_guild(connection, guild_id, columns) if columns else access.guild
            after = guild.to_wire(access.roles)
            diff = changes({k: before[k] for k in columns}, {k: after[k] for k in columns})
            if diff:
                self._journal.audit(
                    connection,
                    guild_id=guild_id,
                    user_id=user_id,
                    action=AuditAction.GUILD_UPDATE,
                    target_id=guild_id,
                    changes=diff,
                    reason=reason,
                )
                self._journal.emit(connection, events.guild_update(guild, access.roles))
            return after

        return await self._db.run(write)

    async def delete(self, user_id: int, guild_id: int) -> None:
        def write(connection: Connection) -> None:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            if not access.is_owner:
                raise MissingPermissions("only the owner deletes a guild")
            self._journal.emit(connection, events.guild_delete(guild_id))
            store.delete_guild(connection, guild_id)

        await self._db.run(write)
        await self._voice.guild_deleted(guild_id)  # its calls end with it

    async def of_user(
        self, user_id: int, *, before: int | None, after: int | None, limit: int
    ) -> list[dict[str, object]]:
        """The user's guilds as Discord's partial guilds, with their permissions in each."""

        def read(connection: Connection) -> list[dict[str, object]]:
            found: list[dict[str, object]] = []
            for membership in store.guilds_of_user(
                connection, user_id, before=before, after=after, limit=limit
            ):
                guild = membership.guild
                roles = store.roles_of(connection, guild.id)
                engine = GuildPermissions(
                    guild.id, guild.owner_id, [(r.id, r.permissions) for r in roles]
                )
                found.append(
                    {
                        "id": str(guild.id),
                        "name": guild.name,
                        "icon": guild.icon,
                        "banner": None,
                        "owner": guild.owner_id == user_id,
                        "permissions": str(engine.resolve(user_id, membership.role_ids)),
                        "features": [],
                    }
                )
            return found

        return await self._db.autocommit(read)

    async def leave(self, user_id: int, guild_id: int) -> None:
        def write(connection: Connection) -> None:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            if access.is_owner:
                raise InvalidGuildAction("the owner cannot leave; transfer or delete the guild")
            store.remove_member(connection, guild_id, user_id)
            user = account_store.user_by_id(connection, user_id)
            assert user is not None  # a member is a user
            self._journal.emit(
                connection,
                events.left_guild(guild_id, user_id),
                events.member_remove(guild_id, user),
            )

        await self._db.run(write)
        await self._voice.disconnect(guild_id, user_id)

    async def audit_log(
        self,
        user_id: int,
        guild_id: int,
        *,
        actor_id: int | None,
        action_type: int | None,
        before: int | None,
        after: int | None,
        limit: int,
    ) -> dict[str, object]:
        def read(connection: Connection) -> dict[str, object]:
            access = load_access(self._access, connection, guild_id, user_id)
            access.require(Permission.VIEW_AUDIT_LOG)
            entries = store.audit_entries(
                connection,
                guild_id,
                user_id=actor_id,
                action_type=action_type,
                before=before,
                after=after,
                limit=limit,
            )
            return {
                "audit_log_entries": entries,
                "users": [],
                "integrations": [],
                "webhooks": [],
                "guild_scheduled_events": [],
                "threads": [],
                "application_commands": [],
                "auto_moderation_rules": [],
            }

        return await self._db.autocommit(read)
