"""Guild channels and their permission overwrites."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import events
from core.access import load_access, load_channel_access
from core.direct import dm_wire
from core.domain import guilds as rules
from core.domain.audit import AuditAction, changes
from core.domain.guilds import ChannelType, Overwrite
from core.domain.permissions import OverwriteType, Permission
from core.errors import (
    FieldError,
    FormCheck,
    InvalidForm,
    UnknownChannel,
    UnknownMember,
    UnknownRole,
)
from core.events import EventName
from core.journal import Journal
from core.store import direct as direct_store
from core.store import guilds as store

if TYPE_CHECKING:
    from core.access import Access, AccessCache
    from core.domain.guilds import Channel
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database
    from core.voice_moderation import VoiceModeration

_BITRATE_MIN, _BITRATE_MAX = 8000, 96000
_USER_LIMIT_MAX = 99


@dataclass(frozen=True, slots=True)
class OverwriteSpec:
    """An overwrite as a client sends it; bits already parsed from Discord's strings."""

    target_id: int
    type: int
    allow: int
    deny: int


@dataclass(frozen=True, slots=True)
class ChannelFields:
    """POST /guilds/{id}/channels and PATCH /channels/{id}: only the fields in `given`."""

    given: frozenset[str]
    name: str | None = None
    type: int | None = None
    topic: str | None = None
    position: int | None = None
    parent_id: int | None = None
    nsfw: bool | None = None
    rate_limit_per_user: int | None = None
    bitrate: int | None = None
    user_limit: int | None = None
    permission_overwrites: tuple[OverwriteSpec, ...] | None = None


def _check_fields(fields: ChannelFields, channel_type: int, *, creating: bool) -> dict[str, object]:
    """The columns to write, or InvalidForm with every problem."""
    check = FormCheck()
    columns: dict[str, object] = {}
    if creating or "name" in fields.given:
        rules.check_channel_name(check, fields.name or "")
        columns["name"] = (fields.name or "").strip()
    if creating and channel_type not in rules.GUILD_CHANNEL_TYPES:
        check.fail("type", "BASE_TYPE_CHOICES", "Value must be one of (0, 2, 4, 5, 13).")
    if "topic" in fields.given:
        if fields.topic is not None and len(fields.topic) > rules.TOPIC_MAX:
            check.fail(
                "topic", "BASE_TYPE_MAX_LENGTH", f"Must be {rules.TOPIC_MAX} or fewer in length."
            )
        columns["topic"] = fields.topic
    if "position" in fields.given:
        if fields.position is None or not 0 <= fields.position <= 1_000_000:
            check.fail("position", "NUMBER_TYPE_MAX", "Must be a position from 0.")
        columns["position"] = fields.position or 0
    if "nsfw" in fields.given:
        columns["nsfw"] = bool(fields.nsfw)
    if "rate_limit_per_user" in fields.given:
        value = fields.rate_limit_per_user
        if value is None or not 0 <= value <= rules.RATE_LIMIT_PER_USER_MAX:
            check.fail(
                "rate_limit_per_user",
                "NUMBER_TYPE_MAX",
                f"Must be between 0 and {rules.RATE_LIMIT_PER_USER_MAX}.",
            )
        columns["rate_limit_per_user"] = value or 0
    voice = channel_type in rules.VOICE_CHANNEL_TYPES
    if "bitrate" in fields.given and voice:
        if fields.bitrate is None or not _BITRATE_MIN <= fields.bitrate <= _BITRATE_MAX:
            check.fail(
                "bitrate", "NUMBER_TYPE_MAX", f"Must be between {_BITRATE_MIN} and {_BITRATE_MAX}."
            )
        columns["bitrate"] = fields.bitrate
    if "user_limit" in fields.given and voice:
        if fields.user_limit is None or not 0 <= fields.user_limit <= _USER_LIMIT_MAX:
            check.fail("user_limit", "NUMBER_TYPE_MAX", f"Must be between 0 and {_USER_LIMIT_MAX}.")
        columns["user_limit"] = fields.user_limit
    if "parent_id" in fields.given:
        if fields.parent_id is not None and channel_type == ChannelType.GUILD_CATEGORY:
            check.fail("parent_id", "CHANNEL_PARENT_INVALID", "A category cannot have a parent.")
        columns["parent_id"] = fields.parent_id
    for index, spec in enumerate(fields.permission_overwrites or ()):
        if spec.type not in (OverwriteType.ROLE, OverwriteType.MEMBER):
            check.errors.setdefault(("permission_overwrites", index, "type"), []).append(
                FieldError("BASE_TYPE_CHOICES", "Value must be one of (0, 1).")
            )
    check.done()
    return columns


def _shown(connection: Connection, channel_id: int) -> Channel:
    """A channel as its wire object shows it (with its last message), for one whose access
    was just checked under the guild's lock."""
    channel = store.channel_by_id(connection, channel_id)
    assert channel is not None
    return channel


class Channels:
    def __init__(
        self,
        db: Database,
        snowflakes: SnowflakeGenerator,
        access: AccessCache,
        voice: VoiceModeration,
    ) -> None:
        self._voice = voice  # who is in a voice channel may change with it
        self._db = db
        self._access = access
        self._snowflakes = snowflakes
        self._journal = Journal(snowflakes)

    def _check_parent(self, connection: Connection, guild_id: int, parent_id: object) -> None:
        if parent_id is None:
            return
        parent = store.channel_by_id(connection, int(str(parent_id)))
        if (
            parent is None
            or parent.guild_id != guild_id
            or parent.type != ChannelType.GUILD_CATEGORY
        ):
            raise InvalidForm.one(
                "parent_id", "CHANNEL_PARENT_INVALID", "Not a category of this guild."
            )

    def _check_targets(
        self, connection: Connection, access: Access, specs: tuple[OverwriteSpec, ...]
    ) -> None:
        """Every overwrite names a role of this guild or one of its members."""
        role_ids = {role.id for role in access.roles}
        for spec in specs:
            if spec.type == OverwriteType.ROLE and spec.target_id not in role_ids:
                raise UnknownRole(str(spec.target_id))
            if (
                spec.type == OverwriteType.MEMBER
                and store.member_of(connection, access.guild.id, spec.target_id) is None
            ):
                raise UnknownMember(str(spec.target_id))

    async def in_guild(self, user_id: int, guild_id: int) -> list[dict[str, object]]:
        """The guild's channels the caller can view."""

        def read(connection: Connection) -> list[dict[str, object]]:
            access = load_access(self._access, connection, guild_id, user_id)
            channels = store.channels_of(connection, guild_id)
            overwrites = store.overwrites_of(connection, [c.id for c in channels])
            return [
                channel.to_wire(overwrites[channel.id])
                for channel in channels
                if access.in_channel(channel.id) & Permission.VIEW_CHANNEL
            ]

        return await self._db.autocommit(read)

    async def create(
        self, user_id: int, guild_id: int, fields: ChannelFields, reason: str | None
    ) -> dict[str, object]:
        channel_type = ChannelType.GUILD_TEXT if fields.type is None else fields.type
        columns = _check_fields(fields, channel_type, creating=True)
        channel_id = self._snowflakes.next_id()

        def write(connection: Connection) -> dict[str, object]:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.MANAGE_CHANNELS)
            specs = fields.permission_overwrites or ()
            if specs:
                access.require(Permission.MANAGE_ROLES)
                for spec in specs:
                    access.require_grantable(spec.allow | spec.deny)
                self._check_targets(connection, access, specs)
            self._check_parent(connection, guild_id, columns.get("parent_id"))
            if len(store.channels_of(connection, guild_id)) >= rules.MAX_CHANNELS:
                raise InvalidForm.one(
                    "name",
                    "MAX_CHANNELS",
                    f"Maximum number of guild channels reached ({rules.MAX_CHANNELS}).",
                )
            extra = {k: v for k, v in columns.items() if k not in ("name", "position", "parent_id")}
            if channel_type in rules.VOICE_CHANNEL_TYPES:
                extra = {"bitrate": 64000, "user_limit": 0} | extra
            channel = store.insert_channel(
                connection,
                channel_id,
                guild_id,
                channel_type,
                str(columns["name"]),
                int(str(columns.get("position", 0))),
                fields.parent_id,
                **extra,
            )
            overwrites = [
                Overwrite(channel_id, spec.target_id, spec.type, spec.allow, spec.deny)
                for spec in specs
            ]
            for overwrite in overwrites:
                store.put_overwrite(connection, overwrite)
            wire = channel.to_wire(overwrites)
            self._journal.audit(
                connection,
                guild_id=guild_id,
                user_id=user_id,
                action=AuditAction.CHANNEL_CREATE,
                target_id=channel_id,
                changes=changes(None, {"name": channel.name, "type": channel.type}),
                reason=reason,
            )
            self._journal.emit(
                connection, events.channel_event(EventName.CHANNEL_CREATE, channel, overwrites)
            )
            return wire

        return await self._db.run(write)

    async def get(self, user_id: int, channel_id: int) -> dict[str, object]:
        def read(connection: Connection) -> dict[str, object]:
            channel = store.channel_by_id(connection, channel_id)
            if channel is not None and channel.guild_id is None:
                if user_id not in direct_store.recipients(connection, channel_id):
                    raise UnknownChannel(str(channel_id))
                return dm_wire(connection, channel_id, user_id)
            found = load_channel_access(self._access, connection, channel_id, user_id)
            assert channel is not None  # found: it exists
            return channel.to_wire(found.overwrites)

        return await self._db.autocommit(read)

    async def update(
        self, user_id: int, channel_id: int, fields: ChannelFields, reason: str | None
    ) -> dict[str, object]:
        def write(connection: Connection) -> dict[str, object]:
            found = load_channel_access(self._access, connection, channel_id, user_id, lock=True)
            access, channel = found.access, _shown(connection, channel_id)
            access.require(Permission.MANAGE_CHANNELS, have=found.permissions)
            columns = _check_fields(fields, channel.type, creating=False)
            if "parent_id" in columns:
                self._check_parent(connection, access.guild.id, columns["parent_id"])
            overwrites = found.overwrites
            if fields.permission_overwrites is not None:
                access.require(Permission.MANAGE_ROLES, have=found.permissions)
                for spec in fields.permission_overwrites:
                    access.require_grantable(spec.allow | spec.deny, have=found.permissions)
                self._check_targets(connection, access, fields.permission_overwrites)
                for old in overwrites:
                    store.delete_overwrite(connection, channel_id, old.target_id)
                overwrites = [
                    Overwrite(channel_id, s.target_id, s.type, s.allow, s.deny)
                    for s in fields.permission_overwrites
                ]
                for overwrite in overwrites:
                    store.put_overwrite(connection, overwrite)
            updated = store.update_channel(connection, channel_id, columns) if columns else channel
            before, after = channel.to_wire(found.overwrites), updated.to_wire(overwrites)
            diff = changes({k: before.get(k) for k in columns}, {k: after.get(k) for k in columns})
            if diff or overwrites != found.overwrites:
                self._journal.audit(
                    connection,
                    guild_id=access.guild.id,
                    user_id=user_id,
                    action=AuditAction.CHANNEL_UPDATE,
                    target_id=channel_id,
                    changes=diff,
                    reason=reason,
                )
                self._journal.emit(
                    connection, events.channel_event(EventName.CHANNEL_UPDATE, updated, overwrites)
                )
            return after

        after = await self._db.run(write)
        await self._voice.recheck(int(str(after["guild_id"])))
        return after

    async def delete(self, user_id: int, channel_id: int, reason: str | None) -> dict[str, object]:
        def write(connection: Connection) -> dict[str, object]:
            found = load_channel_access(self._access, connection, channel_id, user_id, lock=True)
            found.access.require(Permission.MANAGE_CHANNELS, have=found.permissions)
            channel = _shown(connection, channel_id)
            wire = channel.to_wire(found.overwrites)
            self._journal.audit(
                connection,
                guild_id=found.access.guild.id,
                user_id=user_id,
                action=AuditAction.CHANNEL_DELETE,
                target_id=channel_id,
                changes=changes({"name": channel.name, "type": channel.type}, None),
                reason=reason,
            )
            self._journal.emit(
                connection,
                events.channel_event(EventName.CHANNEL_DELETE, channel, found.overwrites),
            )
            store.delete_channel(connection, channel_id)
            return wire

        wire = await self._db.run(write)
        await self._voice.channel_deleted(int(str(wire["guild_id"])), channel_id)
        return wire

    async def set_positions(
        self, user_id: int, guild_id: int, moves: list[tuple[int, int | None, int | None, bool]]
    ) -> None:
        """PATCH /guilds/{id}/channels: (channel id, position, parent id, parent given)."""

        def write(connection: Connection) -> None:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.MANAGE_CHANNELS)
            own = {c.id: c for c in store.channels_of(connection, guild_id)}
            for channel_id, position, parent_id, parent_given in moves:
                if channel_id not in own:
                    raise InvalidForm.one("id", "CHANNEL_INVALID", "Not a channel of this guild.")
                column: dict[str, object] = {}
                if position is not None:
                    column["position"] = position
                if parent_given:
                    self._check_parent(connection, guild_id, parent_id)
                    column["parent_id"] = parent_id
                if column:
                    updated = store.update_channel(connection, channel_id, column)
                    overwrites = store.overwrites_of(connection, [channel_id])[channel_id]
                    self._journal.emit(
                        connection,
                        events.channel_event(EventName.CHANNEL_UPDATE, updated, overwrites),
                    )

        await self._db.run(write)

    async def put_overwrite(
        self, user_id: int, channel_id: int, spec: OverwriteSpec, reason: str | None
    ) -> None:
        if spec.type not in (OverwriteType.ROLE, OverwriteType.MEMBER):
            raise InvalidForm.one("type", "BASE_TYPE_CHOICES", "Value must be one of (0, 1).")

        def write(connection: Connection) -> int:
            found = load_channel_access(self._access, connection, channel_id, user_id, lock=True)
            access = found.access
            access.require(Permission.MANAGE_ROLES, have=found.permissions)
            access.require_grantable(spec.allow | spec.deny, have=found.permissions)
            self._check_targets(connection, access, (spec,))
            overwrite = Overwrite(channel_id, spec.target_id, spec.type, spec.allow, spec.deny)
            previous = store.put_overwrite(connection, overwrite)
            self._after_overwrite_change(
                connection,
                _shown(connection, channel_id),
                access.guild.id,
                user_id,
                previous,
                overwrite,
                reason,
            )
            return access.guild.id

        await self._voice.recheck(await self._db.run(write))

    async def delete_overwrite(
        self, user_id: int, channel_id: int, target_id: int, reason: str | None
    ) -> None:
        def write(connection: Connection) -> int:
            found = load_channel_access(self._access, connection, channel_id, user_id, lock=True)
            found.access.require(Permission.MANAGE_ROLES, have=found.permissions)
            previous = next((o for o in found.overwrites if o.target_id == target_id), None)
            if previous is not None:
                found.access.require_grantable(
                    previous.allow | previous.deny, have=found.permissions
                )
                store.delete_overwrite(connection, channel_id, target_id)
                self._after_overwrite_change(
                    connection,
                    _shown(connection, channel_id),
                    found.access.guild.id,
                    user_id,
                    previous,
                    None,
                    reason,
                )
            return found.access.guild.id

        await self._voice.recheck(await self._db.run(write))

    def _after_overwrite_change(
        self,
        connection: Connection,
        channel: Channel,
        guild_id: int,
        user_id: int,
        before: Overwrite | None,
        after: Overwrite | None,
        reason: str | None,
    ) -> None:
        action = (
            AuditAction.CHANNEL_OVERWRITE_CREATE
            if before is None
            else AuditAction.CHANNEL_OVERWRITE_DELETE
            if after is None
            else AuditAction.CHANNEL_OVERWRITE_UPDATE
        )
        subject = after or before
        assert subject is not None
        self._journal.audit(
            connection,
            guild_id=guild_id,
            user_id=user_id,
            action=action,
            target_id=channel.id,
            changes=changes(
                None if before is None else {"allow": str(before.allow), "deny": str(before.deny)},
                None if after is None else {"allow": str(after.allow), "deny": str(after.deny)},
            ),
            reason=reason,
            options={"id": str(subject.target_id), "type": str(subject.type)},
        )
        overwrites = store.overwrites_of(connection, [channel.id])[channel.id]
        self._journal.emit(
            connection, events.channel_event(EventName.CHANNEL_UPDATE, channel, overwrites)
        )
