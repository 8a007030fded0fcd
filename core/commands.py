"""Application commands: an application's bot creates, edits, syncs and deletes its commands,
globally or in a guild it is in; a person lists the commands they may use in a guild."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.access import load_access, load_channel_access
from core.domain.commands import (
    MAX_COMMANDS,
    Command,
    CommandType,
    check_command,
    check_counts,
    plan_sync,
)
from core.domain.permissions import Permission
from core.errors import (
    FormCheck,
    MaxCommands,
    MissingAccess,
    UnknownApplication,
    UnknownChannel,
    UnknownCommand,
)
from core.store import applications as application_store
from core.store import commands as store
from core.store import direct
from core.store import guilds as guild_store

if TYPE_CHECKING:
    from core.access import AccessCache
    from core.domain.applications import Application
    from core.domain.commands import CommandDraft, CommandSpec
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose commands, and where: `guild_id` None is the application's global commands."""

    application_id: int
    guild_id: int | None


@dataclass(frozen=True, slots=True)
class CommandIndex:
    """What a person's client may offer in one place: the applications and their commands."""

    applications: list[Application]
    commands: list[Command]

    def to_wire(self) -> dict[str, object]:
        # Discord's client reads `{applications, application_commands, version}`; the version
        # changes whenever a command in the index does.
        return {
            "applications": [
                {
                    "id": str(application.id),
                    "name": application.name,
                    "description": application.description,
                    "icon": application.icon,
                    "flags": application.flags,
                    "bot_id": str(application.id),
                }
                for application in self.applications
            ],
            "application_commands": [command.to_wire() for command in self.commands],
            "version": str(max((command.version for command in self.commands), default=0)),
        }


def _checked(check: FormCheck, draft: CommandDraft) -> CommandSpec:
    spec = check_command(check, (), draft)
    check.done()
    assert spec is not None  # no problems: a spec
    return spec


class Commands:
    def __init__(self, db: Database, snowflakes: SnowflakeGenerator, access: AccessCache) -> None:
        self._db = db
        self._snowflakes = snowflakes
        self._access = access

    def _enter(self, connection: Connection, caller_id: int, scope: Scope) -> None:
        """Only an application's own bot manages its commands, and in a guild only while it
        is a member (Discord answers Missing Access for a guild the app is not in)."""
        if caller_id != scope.application_id:
            if application_store.application_by_id(connection, scope.application_id) is None:
                raise UnknownApplication(str(scope.application_id))
            raise MissingAccess(f"application {scope.application_id}")
        if scope.guild_id is not None and (
            guild_store.member_of(connection, scope.guild_id, caller_id) is None
        ):
            raise MissingAccess(f"guild {scope.guild_id}")

    def _one(self, connection: Connection, scope: Scope, command_id: int) -> Command:
        found = store.command_by_id(connection, command_id)
        if (
            found is None
            or found.application_id != scope.application_id
            or found.guild_id != scope.guild_id
        ):
            raise UnknownCommand(str(command_id))
        return found

    async def of_scope(self, caller_id: int, scope: Scope) -> list[Command]:
        def read(connection: Connection) -> list[Command]:
            self._enter(connection, caller_id, scope)
            return store.commands_of(connection, scope.application_id, scope.guild_id)

        return await self._db.run(read)

    async def get(self, caller_id: int, scope: Scope, command_id: int) -> Command:
        def read(connection: Connection) -> Command:
            self._enter(connection, caller_id, scope)
            return self._one(connection, scope, command_id)

        return await self._db.run(read)

    async def create(
        self, caller_id: int, scope: Scope, draft: CommandDraft
    ) -> tuple[Command, bool]:
        """Discord's upsert: a new command (True), or the one of that name and type in the
        scope overwritten (False)."""

        def write(connection: Connection) -> tuple[Command, bool]:
            self._enter(connection, caller_id, scope)
            spec = _checked(FormCheck(), draft)
            store.lock_commands(connection, scope.application_id)
            existing = store.commands_of(connection, scope.application_id, scope.guild_id)
            for command in existing:
                if (command.name, command.type) == (spec.name, spec.type):
                    if spec.matches(command):
                        return command, False
                    return self._update(connection, command, spec), False
            if sum(c.type == spec.type for c in existing) >= MAX_COMMANDS[CommandType(spec.type)]:
                raise MaxCommands(f"{spec.type} in {scope}")
            return self._insert(connection, scope, spec), True

        return await self._db.run(write)

    async def edit(
        self, caller_id: int, scope: Scope, command_id: int, draft: CommandDraft
    ) -> Command:
        """Overwrites the fields sent; a new version if anything changed."""

        def write(connection: Connection) -> Command:
            self._enter(connection, caller_id, scope)
            store.lock_commands(connection, scope.application_id)
            command = self._one(connection, scope, command_id)
            check = FormCheck()
            spec = _checked(check, draft.over(command))
            for other in store.commands_of(connection, scope.application_id, scope.guild_id):
                if other.id != command.id and (other.name, other.type) == (spec.name, spec.type):
                    check.fail(
                        "name",
                        "APPLICATION_COMMANDS_DUPLICATE_NAME",
                        "Application command names must be unique",
                    )
                    check.done()
            if spec.matches(command):
                return command
            return self._update(connection, command, spec)

        return await self._db.run(write)

    async def delete(self, caller_id: int, scope: Scope, command_id: int) -> None:
        def write(connection: Connection) -> None:
            self._enter(connection, caller_id, scope)
            store.delete_commands(connection, [self._one(connection, scope, command_id).id])

        await self._db.run(write)

    async def overwrite(
        self, caller_id: int, scope: Scope, drafts: list[CommandDraft]
    ) -> list[Command]:
        """Discord's bulk overwrite, the sync libraries run on start, in one transaction:
        commands matched by (name, type) keep their ids (and their version when unchanged),
        new ones are created, the rest of the scope is deleted. Any problem changes nothing."""

        def write(connection: Connection) -> list[Command]:
            self._enter(connection, caller_id, scope)
            check = FormCheck()
            specs = [check_command(check, (index,), draft) for index, draft in enumerate(drafts)]
            checked = [spec for spec in specs if spec is not None]
            if not check.errors:
                check_counts(check, (), checked)
            check.done()
            store.lock_commands(connection, scope.application_id)
            plan = plan_sync(
                store.commands_of(connection, scope.application_id, scope.guild_id), checked
            )
            store.delete_commands(connection, [command.id for command in plan.delete])
            written = list(plan.keep)
            written += [self._update(connection, command, spec) for command, spec in plan.update]
            written += [self._insert(connection, scope, spec) for spec in plan.create]
            by_key = {(command.name, command.type): command for command in written}
            return [by_key[key] for key in plan.order]

        return await self._db.run(write)

    async def permissions(
        self, caller_id: int, scope: Scope, command_id: int | None
    ) -> list[dict[str, object]]:
        """Discord's guild command permissions: none are ever set here (per-command overrides
        are not implemented), so every command has Discord's shape with an empty list."""
        assert scope.guild_id is not None

        def read(connection: Connection) -> list[dict[str, object]]:
            self._enter(connection, caller_id, scope)
            if command_id is None:
                return []
            found = store.command_by_id(connection, command_id)
            if (
                found is None
                or found.application_id != scope.application_id
                or found.guild_id not in (None, scope.guild_id)
            ):
                raise UnknownCommand(str(command_id))
            return [
                {
                    "id": str(found.id),
                    "application_id": str(scope.application_id),
                    "guild_id": str(scope.guild_id),
                    "permissions": [],
                }
            ]

        return await self._db.run(read)

    async def guild_index(self, user_id: int, guild_id: int) -> CommandIndex:
        """The commands a member may use in a guild: those of the bots in it (the guild's own
        and their global ones usable in guilds) whose default permissions the member holds."""

        def read(connection: Connection) -> CommandIndex:
            permissions = load_access(self._access, connection, guild_id, user_id).base()
            return _in_guild(connection, guild_id, permissions)

        return await self._db.run(read)

    async def channel_index(self, user_id: int, channel_id: int) -> CommandIndex:
        """The commands a person may use in a channel they can see: in a guild's, the guild's
        index; in a DM, the global commands of the bots in it that allow BOT_DM."""

        def read(connection: Connection) -> CommandIndex:
            guild_id = guild_store.guild_of_channel(connection, channel_id)
            if guild_id is not None:
                found = load_channel_access(self._access, connection, channel_id, user_id)
                return _in_guild(connection, guild_id, found.permissions)
            recipients = direct.recipients(connection, channel_id)
            if user_id not in recipients:
                raise UnknownChannel(str(channel_id))
            others = [other for other in recipients if other != user_id]
            usable = [
                command
                for command in store.global_commands_of(connection, others)
                if command.usable_in_dms
            ]
            return _index(connection, usable)

        return await self._db.run(read)

    def _insert(self, connection: Connection, scope: Scope, spec: CommandSpec) -> Command:
        return store.insert_command(
            connection,
            self._snowflakes.next_id(),
            scope.application_id,
            scope.guild_id,
            spec,
            self._snowflakes.next_id(),
        )

    def _update(self, connection: Connection, command: Command, spec: CommandSpec) -> Command:
        return store.update_command(connection, command.id, spec, self._snowflakes.next_id())


def _index(connection: Connection, usable: list[Command]) -> CommandIndex:
    ids = sorted({command.application_id for command in usable})
    return CommandIndex(store.applications_of(connection, ids), usable)


def _in_guild(connection: Connection, guild_id: int, permissions: int) -> CommandIndex:
    """What `permissions` (the guild's, or a channel's) may run there: nothing without
    USE_APPLICATION_COMMANDS, as invoking would refuse it."""
    if not permissions & Permission.USE_APPLICATION_COMMANDS:
        return _index(connection, [])
    usable = [
        command
        for command in store.commands_in_guild(connection, guild_id)
        if command.usable_with(permissions) and command.usable_in_guilds
    ]
    return _index(connection, usable)
