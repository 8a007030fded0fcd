"""Guild roles: create, edit, delete and reorder them, from below the caller's highest role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import events
from core.access import load_access
from core.domain import guilds as rules
from core.domain.audit import AuditAction, changes
from core.domain.permissions import Permission
from core.errors import FormCheck, InvalidForm, InvalidRole, UnknownRole
from core.events import EventName
from core.journal import Journal
from core.store import guilds as store

if TYPE_CHECKING:
    from core.access import Access, AccessCache
    from core.domain.guilds import Role
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database
    from core.voice_moderation import VoiceModeration

_AUDITED = ("name", "color", "hoist", "unicode_emoji", "permissions", "mentionable")


@dataclass(frozen=True, slots=True)
class RoleFields:
    """POST and PATCH of a role: only the fields in `given` (permissions already parsed)."""

    given: frozenset[str]
    name: str | None = None
    permissions: int | None = None
    color: int | None = None
    hoist: bool | None = None
    unicode_emoji: str | None = None
    mentionable: bool | None = None


def _columns(fields: RoleFields) -> dict[str, object]:
    check = FormCheck()
    columns: dict[str, object] = {}
    if "name" in fields.given:
        rules.check_role_name(check, fields.name or "")
        columns["name"] = (fields.name or "").strip()
    if "permissions" in fields.given and fields.permissions is not None:
        rules.check_permission_bits(check, "permissions", fields.permissions)
        columns["permissions"] = fields.permissions
    if "color" in fields.given:
        rules.check_color(check, fields.color or 0)
        columns["color"] = fields.color or 0
    if "unicode_emoji" in fields.given:
        if fields.unicode_emoji is not None and len(fields.unicode_emoji) > 32:
            check.fail("unicode_emoji", "BASE_TYPE_MAX_LENGTH", "Must be 32 or fewer in length.")
        columns["unicode_emoji"] = fields.unicode_emoji
    for flag in ("hoist", "mentionable"):
        if flag in fields.given:
            columns[flag] = bool(getattr(fields, flag))
    check.done()
    return columns


def _role_in(access: Access, role_id: int) -> Role:
    role = next((role for role in access.roles if role.id == role_id), None)
    if role is None:
        raise UnknownRole(str(role_id))
    return role


def _audit_view(role: Role) -> dict[str, object]:
    wire = role.to_wire()
    return {key: wire[key] for key in _AUDITED}


class Roles:
    def __init__(
        self,
        db: Database,
        snowflakes: SnowflakeGenerator,
        access: AccessCache,
        voice: VoiceModeration,
    ) -> None:
        self._voice = voice  # who is in a voice channel may change with roles
        self._db = db
        self._access = access
        self._snowflakes = snowflakes
        self._journal = Journal(snowflakes)

    async def in_guild(self, user_id: int, guild_id: int) -> list[dict[str, object]]:
        def read(connection: Connection) -> list[dict[str, object]]:
            return [
                role.to_wire()
                for role in load_access(self._access, connection, guild_id, user_id).roles
            ]

        return await self._db.autocommit(read)

    async def create(
        self, user_id: int, guild_id: int, fields: RoleFields, reason: str | None
    ) -> dict[str, object]:
        columns = {"name": "new role"} | _columns(fields)
        role_id = self._snowflakes.next_id()

        def write(connection: Connection) -> dict[str, object]:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.MANAGE_ROLES)
            permissions = int(str(columns.pop("permissions", 0)))
            access.require_grantable(permissions)
            if len(access.roles) >= rules.MAX_ROLES:
                raise InvalidForm.one(
                    "name",
                    "MAX_ROLES",
                    f"Maximum number of server roles reached ({rules.MAX_ROLES}).",
                )
            # New roles start at the bottom, just above @everyone, as on Discord.
            store.set_role_positions(
                connection, {r.id: r.position + 1 for r in access.roles if r.position >= 1}
            )
            role = store.insert_role(
                connection, role_id, guild_id, str(columns.pop("name")), permissions, 1, **columns
            )
            self._journal.audit(
                connection,
                guild_id=guild_id,
                user_id=user_id,
                action=AuditAction.ROLE_CREATE,
                target_id=role_id,
                changes=changes(None, _audit_view(role)),
                reason=reason,
            )
            self._journal.emit(connection, events.role_event(EventName.GUILD_ROLE_CREATE, role))
            return role.to_wire()

        return await self._db.run(write)

    async def update(
        self, user_id: int, guild_id: int, role_id: int, fields: RoleFields, reason: str | None
    ) -> dict[str, object]:
        columns = _columns(fields)

        def write(connection: Connection) -> dict[str, object]:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.MANAGE_ROLES)
            role = _role_in(access, role_id)
            if role.id != guild_id:  # @everyone sits below everyone: anyone with MANAGE_ROLES
                access.require_above(role)
            if role.id == guild_id and "name" in columns:
                raise InvalidForm.one(
                    "name", "ROLE_NAME_EVERYONE", "The @everyone role cannot be renamed."
                )
            if "permissions" in columns:
                # Only the bits that change need to be held by the caller.
                access.require_grantable(int(str(columns["permissions"])) ^ role.permissions)
            updated = store.update_role(connection, role_id, columns) if columns else role
            diff = changes(_audit_view(role), _audit_view(updated))
            if diff:
                self._journal.audit(
                    connection,
                    guild_id=guild_id,
                    user_id=user_id,
                    action=AuditAction.ROLE_UPDATE,
                    target_id=role_id,
                    changes=diff,
                    reason=reason,
                )
                self._journal.emit(
                    connection, events.role_event(EventName.GUILD_ROLE_UPDATE, updated)
                )
            return updated.to_wire()

        updated = await self._db.run(write)
        await self._voice.recheck(guild_id)  # a permission taken away may be CONNECT
        return updated

    async def delete(self, user_id: int, guild_id: int, role_id: int, reason: str | None) -> None:
        def write(connection: Connection) -> None:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.MANAGE_ROLES)
            role = _role_in(access, role_id)
            if role.id == guild_id:
                raise InvalidRole("@everyone cannot be deleted")
            access.require_above(role)
            store.delete_role(connection, guild_id, role_id)
            self._journal.audit(
                connection,
                guild_id=guild_id,
                user_id=user_id,
                action=AuditAction.ROLE_DELETE,
                target_id=role_id,
                changes=changes(_audit_view(role), None),
                reason=reason,
            )
            self._journal.emit(connection, events.role_event(EventName.GUILD_ROLE_DELETE, role))

        await self._db.run(write)
        await self._voice.recheck(guild_id)

    async def set_positions(
        self, user_id: int, guild_id: int, moves: list[tuple[int, int]]
    ) -> list[dict[str, object]]:
        """PATCH /guilds/{id}/roles: moves roles below the caller's highest, to positions below
        it, then renumbers 1..n (no gaps, no ties) keeping the asked-for order."""

        def write(connection: Connection) -> list[dict[str, object]]:
            access = load_access(self._access, connection, guild_id, user_id, lock=True)
            access.require(Permission.MANAGE_ROLES)
            top = access.top_position()
            wanted: dict[int, int] = {}
            for role_id, position in moves:
                role = _role_in(access, role_id)
                if role.id == guild_id:
                    raise InvalidRole("@everyone cannot be moved")
                access.require_above(role)
                if position >= top or position < 1:
                    raise InvalidForm.one(
                        "position",
                        "ROLE_POSITION_INVALID",
                        "Position must be below your highest role.",
                    )
                wanted[role_id] = position
            others = [r for r in access.roles if r.id != guild_id]
            order = sorted(
                others, key=lambda r: (wanted.get(r.id, r.position), r.id not in wanted, r.id)
            )
            positions = {role.id: index for index, role in enumerate(order, start=1)}
            moved = {
                role_id: p
                for role_id, p in positions.items()
                if p != next(r.position for r in others if r.id == role_id)
            }
            store.set_role_positions(connection, moved)
            roles = store.roles_of(connection, guild_id)
            for role in roles:
                if role.id in moved:
                    self._journal.emit(
                        connection, events.role_event(EventName.GUILD_ROLE_UPDATE, role)
                    )
            return [role.to_wire() for role in roles]

        return await self._db.run(write)
