"""SQL for application commands. Blocking functions on one connection, run through
Database.run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.rows import class_row

from core.domain.applications import Application
from core.domain.commands import Command
from core.store.database import id_array, json_text

if TYPE_CHECKING:
    from core.domain.commands import CommandSpec
    from core.store.database import Connection

_COLUMNS = (
    "id, application_id, guild_id, type, name, name_localizations, description,"
    " description_localizations, options, default_member_permissions, dm_permission,"
    " contexts, integration_types, nsfw, version"
)
# The same columns on the table aliased `c`.
_C_COLUMNS = ", ".join(f"c.{column.strip()}" for column in _COLUMNS.split(","))


def _json_or_null(value: object) -> str | None:
    return None if value is None else json_text(value)


def _values(spec: CommandSpec) -> tuple[object, ...]:
    return (
        spec.type,
        spec.name,
        _json_or_null(spec.name_localizations),
        spec.description,
        _json_or_null(spec.description_localizations),
        json_text(spec.options),
        spec.default_member_permissions,
        spec.dm_permission,
        spec.contexts,
        spec.integration_types,
        spec.nsfw,
    )


def command_by_id(connection: Connection, command_id: int) -> Command | None:
    """The command with this id, in whatever scope it is."""
    return (
        connection.cursor(row_factory=class_row(Command))
        .execute(f"SELECT {_COLUMNS} FROM application_commands WHERE id = %s", (command_id,))
        .fetchone()
    )


def commands_of(connection: Connection, application_id: int, guild_id: int | None) -> list[Command]:
    """An application's commands in one scope (global when `guild_id` is None), oldest first."""
    return (
        connection.cursor(row_factory=class_row(Command))
        .execute(
            f"SELECT {_COLUMNS} FROM application_commands"
            " WHERE application_id = %s AND guild_id IS NOT DISTINCT FROM %s ORDER BY id",
            (application_id, guild_id),
        )
        .fetchall()
    )


def lock_commands(connection: Connection, application_id: int) -> None:
    """Serialises writers of one application's commands until the transaction ends, so
    limits and name uniqueness are checked against what the last writer left. NO KEY UPDATE
    conflicts with itself but not with the KEY SHARE lock that every interactions insert
    takes on the row through its foreign key: a sync never waits for interactions in flight,
    nor they for it."""
    connection.execute(
        "SELECT 1 FROM applications WHERE id = %s FOR NO KEY UPDATE", (application_id,)
    )


def insert_command(
    connection: Connection,
    command_id: int,
    application_id: int,
    guild_id: int | None,
    spec: CommandSpec,
    version: int,
) -> Command:
    row = (
        connection.cursor(row_factory=class_row(Command))
        .execute(
            "INSERT INTO application_commands (id, application_id, guild_id, type, name,"
            " name_localizations, description, description_localizations, options,"
            " default_member_permissions, dm_permission, contexts, integration_types, nsfw,"
            " version) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s::jsonb, %s::jsonb, %s, %s,"
            f" %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (command_id, application_id, guild_id, *_values(spec), version),
        )
        .fetchone()
    )
    assert row is not None
    return row


def update_command(
    connection: Connection, command_id: int, spec: CommandSpec, version: int
) -> Command:
    """Overwrites every field of the command with `spec`, at a new version."""
    row = (
        connection.cursor(row_factory=class_row(Command))
        .execute(
            "UPDATE application_commands SET type = %s, name = %s,"
            " name_localizations = %s::jsonb, description = %s,"
            " description_localizations = %s::jsonb, options = %s::jsonb,"
            " default_member_permissions = %s, dm_permission = %s, contexts = %s,"
            " integration_types = %s, nsfw = %s, version = %s"
            f" WHERE id = %s RETURNING {_COLUMNS}",
            (*_values(spec), version, command_id),
        )
        .fetchone()
    )
    assert row is not None
    return row


def delete_commands(connection: Connection, command_ids: list[int]) -> None:
    if command_ids:
        connection.execute(
            "DELETE FROM application_commands WHERE id = ANY(%s::bigint[])",
            (id_array(command_ids),),
        )


def commands_in_guild(connection: Connection, guild_id: int) -> list[Command]:
    """Every command usable in a guild: its own commands and the global commands of every
    application whose bot is a member, by application, then oldest first."""
    return (
        connection.cursor(row_factory=class_row(Command))
        .execute(
            f"SELECT {_C_COLUMNS} FROM application_commands c"
            " JOIN members m ON m.user_id = c.application_id AND m.guild_id = %s"
            " WHERE c.guild_id = %s OR c.guild_id IS NULL"
            " ORDER BY c.application_id, c.id",
            (guild_id, guild_id),
        )
        .fetchall()
    )


def global_commands_of(connection: Connection, application_ids: list[int]) -> list[Command]:
    """The global commands of these applications (none for ids that are not applications)."""
    return (
        connection.cursor(row_factory=class_row(Command))
        .execute(
            f"SELECT {_COLUMNS} FROM application_commands"
            " WHERE application_id = ANY(%s::bigint[]) AND guild_id IS NULL"
            " ORDER BY application_id, id",
            (id_array(application_ids),),
        )
        .fetchall()
    )


def applications_of(connection: Connection, application_ids: list[int]) -> list[Application]:
    """The applications with these ids, by id."""
    return (
        connection.cursor(row_factory=class_row(Application))
        .execute(
            "SELECT id, owner_id, name, description, icon, bot_public, bot_require_code_grant,"
            " flags, verify_key FROM applications WHERE id = ANY(%s::bigint[]) ORDER BY id",
            (id_array(application_ids),),
        )
        .fetchall()
    )
