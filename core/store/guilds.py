"""SQL for guilds, roles, channels, overwrites, members and the audit log. Blocking functions on
one connection, run through Database.run (one transaction per call)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from psycopg.rows import class_row

from core.domain.guilds import Channel, Guild, Overwrite, Role, signed, unsigned
from core.store.database import id_array, json_text
from core.store.members import PEOPLE_COLUMNS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.store.database import Connection

T = TypeVar("T")

_GUILD_COLUMNS = (
    "id, name, icon, description, owner_id, afk_channel_id, afk_timeout, system_channel_id,"
    " verification_level, default_message_notifications, explicit_content_filter,"
    " preferred_locale"
)
_ROLE_COLUMNS = (
    "id, guild_id, name, color, hoist, unicode_emoji, position, permissions, managed, mentionable"
)
_CHANNEL_COLUMNS = (
    "id, guild_id, type, name, topic, position, parent_id, nsfw, rate_limit_per_user, bitrate,"
    " user_limit,"
    " (SELECT max(m.id) FROM messages m WHERE m.channel_id = channels.id) AS last_message_id"
)

# Columns a service may update, by table: the only names ever formatted into SQL.
GUILD_FIELDS = frozenset(
    {
        "name",
        "description",
        "afk_channel_id",
        "afk_timeout",
        "system_channel_id",
        "verification_level",
        "default_message_notifications",
        "explicit_content_filter",
        "preferred_locale",
        "owner_id",
    }
)
ROLE_FIELDS = frozenset(
    {"name", "color", "hoist", "unicode_emoji", "permissions", "mentionable", "position"}
)
CHANNEL_FIELDS = frozenset(
    {
        "name",
        "topic",
        "position",
        "parent_id",
        "nsfw",
        "rate_limit_per_user",
        "bitrate",
        "user_limit",
        "type",
    }
)


def _assignments(changes: dict[str, object], allowed: frozenset[str]) -> str:
    unknown = set(changes) - allowed
    assert not unknown, f"not an updatable column: {unknown}"
    return ", ".join(f"{column} = %s" for column in changes)


def _role(row: tuple[object, ...]) -> Role:
    (role_id, guild_id, name, color, hoist, emoji, position, permissions, managed, mentionable) = (
        row
    )
    return Role(
        id=int(str(role_id)),
        guild_id=int(str(guild_id)),
        name=str(name),
        color=int(str(color)),
        hoist=bool(hoist),
        unicode_emoji=None if emoji is None else str(emoji),
        position=int(str(position)),
        permissions=unsigned(int(str(permissions))),
        managed=bool(managed),
        mentionable=bool(mentionable),
    )


def _overwrite(row: tuple[object, ...]) -> Overwrite:
    channel_id, target_id, kind, allow, deny = row
    return Overwrite(
        channel_id=int(str(channel_id)),
        target_id=int(str(target_id)),
        type=int(str(kind)),
        allow=unsigned(int(str(allow))),
        deny=unsigned(int(str(deny))),
    )


# Guilds.


def insert_guild(connection: Connection, guild_id: int, name: str, owner_id: int) -> Guild:
    row = (
        connection.cursor(row_factory=class_row(Guild))
        .execute(
            "INSERT INTO guilds (id, name, owner_id) VALUES (%s, %s, %s)"
            f" RETURNING {_GUILD_COLUMNS}",
            (guild_id, name, owner_id),
        )
        .fetchone()
    )
    assert row is not None
    return row


def guild_by_id(connection: Connection, guild_id: int, *, lock: bool = False) -> Guild | None:
    """The guild; `lock` holds it until the transaction ends, so changes to one guild's
    roles, channels and members run one after the other."""
    suffix = " FOR UPDATE" if lock else ""
    return (
        connection.cursor(row_factory=class_row(Guild))
        .execute(f"SELECT {_GUILD_COLUMNS} FROM guilds WHERE id = %s{suffix}", (guild_id,))
        .fetchone()
    )


def _update_row(
    connection: Connection,
    table: str,
    kind: type[T],
    columns: str,
    allowed: frozenset[str],
    row_id: int,
    changes: dict[str, object],
) -> T:
    """UPDATE one row of `table` by id and return it as `kind`; only `allowed` columns."""
    row = (
        connection.cursor(row_factory=class_row(kind))
        .execute(
            f"UPDATE {table} SET {_assignments(changes, allowed)} WHERE id = %s"
            f" RETURNING {columns}",
            (*changes.values(), row_id),
        )
        .fetchone()
    )
    assert row is not None
    return row


def update_guild(connection: Connection, guild_id: int, changes: dict[str, object]) -> Guild:
    return _update_row(connection, "guilds", Guild, _GUILD_COLUMNS, GUILD_FIELDS, guild_id, changes)


def delete_guild(connection: Connection, guild_id: int) -> None:
    connection.execute("DELETE FROM guilds WHERE id = %s", (guild_id,))


@dataclass(frozen=True, slots=True)
class MembershipRow:
    guild: Guild
    role_ids: list[int]


def guilds_of_user(
    connection: Connection,
    user_id: int,
    *,
    before: int | None,
    after: int | None,
    limit: int,
    shard: tuple[int, int] = (0, 1),
) -> list[MembershipRow]:
    """The user's guilds in id order, paged like Discord's (after/before a guild id); only
    those of `shard` (index, count), by Discord's rule: (guild_id >> 22) % count == index."""
    index, count = shard
    rows = connection.execute(
        f"SELECT {', '.join('g.' + c.strip() for c in _GUILD_COLUMNS.split(','))}, m.role_ids"
        " FROM members m JOIN guilds g ON g.id = m.guild_id WHERE m.user_id = %s"
        " AND (%s::bigint IS NULL OR g.id < %s) AND (%s::bigint IS NULL OR g.id > %s)"
        " AND (g.id >> 22) %% %s = %s ORDER BY g.id LIMIT %s",
        (user_id, before, before, after, after, count, index, limit),
    ).fetchall()
    return [MembershipRow(Guild(*row[:-1]), [int(str(r)) for r in row[-1]]) for row in rows]  # type: ignore[arg-type, attr-defined]


def guild_count_of_user(connection: Connection, user_id: int) -> int:
    return _count_members(connection, "user_id", user_id)


def member_counts(connection: Connection, guild_id: int) -> int:
    return _count_members(connection, "guild_id", guild_id)


def _count_members(connection: Connection, column: str, value: int) -> int:
    row = connection.execute(
        f"SELECT count(*) FROM members WHERE {column} = %s", (value,)
    ).fetchone()
    assert row is not None
    return int(str(row[0]))


# Roles.


def insert_role(
    connection: Connection,
    role_id: int,
    guild_id: int,
    name: str,
    permissions: int,
    position: int,
    **fields: object,
) -> Role:
    columns = {"color": 0, "hoist": False, "unicode_emoji": None, "mentionable": False} | fields
    row = connection.execute(
        "INSERT INTO roles (id, guild_id, name, permissions, position, color, hoist, unicode_emoji,"
        f" mentionable) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_ROLE_COLUMNS}",
        (
            role_id,
            guild_id,
            name,
            signed(permissions),
            position,
            columns["color"],
            columns["hoist"],
            columns["unicode_emoji"],
            columns["mentionable"],
        ),
    ).fetchone()
    assert row is not None
    return _role(row)


def roles_of(connection: Connection, guild_id: int) -> list[Role]:
    rows = connection.execute(
        f"SELECT {_ROLE_COLUMNS} FROM roles WHERE guild_id = %s ORDER BY position, id", (guild_id,)
    ).fetchall()
    return [_role(row) for row in rows]


def update_role(connection: Connection, role_id: int, changes: dict[str, object]) -> Role:
    values = [signed(int(str(v))) if k == "permissions" else v for k, v in changes.items()]
    row = connection.execute(
        f"UPDATE roles SET {_assignments(changes, ROLE_FIELDS)} WHERE id = %s"
        f" RETURNING {_ROLE_COLUMNS}",
        (*values, role_id),
    ).fetchone()
    assert row is not None
    return _role(row)


def set_role_positions(connection: Connection, positions: dict[int, int]) -> None:
    for role_id, position in positions.items():
        connection.execute("UPDATE roles SET position = %s WHERE id = %s", (position, role_id))


def delete_role(connection: Connection, guild_id: int, role_id: int) -> None:
    """Deletes the role and takes it off every member and channel that referred to it."""
    connection.execute(
        "UPDATE members SET role_ids = array_remove(role_ids, %s)"
        " WHERE guild_id = %s AND %s = ANY(role_ids)",
        (role_id, guild_id, role_id),
    )
    connection.execute(
        "DELETE FROM permission_overwrites WHERE target_id = %s AND type = 0"
        " AND channel_id IN (SELECT id FROM channels WHERE guild_id = %s)",
        (role_id, guild_id),
    )
    connection.execute("DELETE FROM roles WHERE id = %s", (role_id,))


# Channels and overwrites.


def insert_channel(
    connection: Connection,
    channel_id: int,
    guild_id: int,
    channel_type: int,
    name: str,
    position: int,
    parent_id: int | None,
    **fields: object,
) -> Channel:
    columns = {
        "topic": None,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "bitrate": None,
        "user_limit": None,
    } | fields
    row = (
        connection.cursor(row_factory=class_row(Channel))
        .execute(
            "INSERT INTO channels (id, guild_id, type, name, position, parent_id, topic, nsfw,"
            " rate_limit_per_user, bitrate, user_limit)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            f" RETURNING {_CHANNEL_COLUMNS}",
            (
                channel_id,
                guild_id,
                channel_type,
                name,
                position,
                parent_id,
                columns["topic"],
                columns["nsfw"],
                columns["rate_limit_per_user"],
                columns["bitrate"],
                columns["user_limit"],
            ),
        )
        .fetchone()
    )
    assert row is not None
    return row


def channel_by_id(connection: Connection, channel_id: int) -> Channel | None:
    return (
        connection.cursor(row_factory=class_row(Channel))
        .execute(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id = %s", (channel_id,))
        .fetchone()
    )


def channels_of(connection: Connection, guild_id: int) -> list[Channel]:
    return (
        connection.cursor(row_factory=class_row(Channel))
        .execute(
            f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE guild_id = %s ORDER BY position, id",
            (guild_id,),
        )
        .fetchall()
    )


def update_channel(connection: Connection, channel_id: int, changes: dict[str, object]) -> Channel:
    return _update_row(
        connection, "channels", Channel, _CHANNEL_COLUMNS, CHANNEL_FIELDS, channel_id, changes
    )


def delete_channel(connection: Connection, channel_id: int) -> None:
    connection.execute("UPDATE channels SET parent_id = NULL WHERE parent_id = %s", (channel_id,))
    connection.execute("DELETE FROM channels WHERE id = %s", (channel_id,))


def overwrites_of(connection: Connection, channel_ids: Sequence[int]) -> dict[int, list[Overwrite]]:
    """Each channel's overwrites (every channel id present, maybe with none)."""
    found: dict[int, list[Overwrite]] = {channel_id: [] for channel_id in channel_ids}
    rows = connection.execute(
        "SELECT channel_id, target_id, type, allow, deny FROM permission_overwrites"
        " WHERE channel_id = ANY(%s::bigint[]) ORDER BY channel_id, type, target_id",
        (id_array(channel_ids),),
    ).fetchall()
    for row in rows:
        overwrite = _overwrite(row)
        found[overwrite.channel_id].append(overwrite)
    return found


def put_overwrite(connection: Connection, overwrite: Overwrite) -> Overwrite | None:
    """Creates or replaces the overwrite; returns the one it replaced, if any."""
    previous = connection.execute(
        "SELECT channel_id, target_id, type, allow, deny FROM permission_overwrites"
        " WHERE channel_id = %s AND target_id = %s FOR UPDATE",
        (overwrite.channel_id, overwrite.target_id),
    ).fetchone()
    connection.execute(
        "INSERT INTO permission_overwrites (channel_id, target_id, type, allow, deny)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (channel_id, target_id)"
        " DO UPDATE SET type = EXCLUDED.type, allow = EXCLUDED.allow, deny = EXCLUDED.deny",
        (
            overwrite.channel_id,
            overwrite.target_id,
            overwrite.type,
            signed(overwrite.allow),
            signed(overwrite.deny),
        ),
    )
    return None if previous is None else _overwrite(previous)


def delete_overwrite(connection: Connection, channel_id: int, target_id: int) -> Overwrite | None:
    row = connection.execute(
        "DELETE FROM permission_overwrites WHERE channel_id = %s AND target_id = %s"
        " RETURNING channel_id, target_id, type, allow, deny",
        (channel_id, target_id),
    ).fetchone()
    return None if row is None else _overwrite(row)


# Members.


@dataclass(frozen=True, slots=True)
class MemberRow:
    role_ids: list[int]
    communication_disabled_until: dt.datetime | None


def insert_member(
    connection: Connection, guild_id: int, user_id: int, role_ids: Sequence[int] = ()
) -> None:
    connection.execute(
        "INSERT INTO members (guild_id, user_id, role_ids) VALUES (%s, %s, %s)",
        (guild_id, user_id, list(role_ids)),
    )


def _member_row(role_ids: object, until: object) -> MemberRow:
    assert isinstance(role_ids, list)
    assert until is None or isinstance(until, dt.datetime)
    return MemberRow([int(str(r)) for r in role_ids], until)


def member_of(connection: Connection, guild_id: int, user_id: int) -> MemberRow | None:
    row = connection.execute(
        "SELECT role_ids, communication_disabled_until FROM members"
        " WHERE guild_id = %s AND user_id = %s",
        (guild_id, user_id),
    ).fetchone()
    return None if row is None else _member_row(*row)


@dataclass(frozen=True, slots=True)
class MemberAccess:
    """What decides a caller's access to a guild: its access_version (which says whether a
    cached snapshot still holds) and the caller's member row (None: not a member)."""

    guild_id: int
    user_id: int
    version: int
    member: MemberRow | None
    person: tuple[object, ...] | None = None  # the caller's PEOPLE_SELECT row, when asked


def member_access(
    connection: Connection, guild_id: int, user_id: int, *, lock: bool = False
) -> MemberAccess | None:
    """None when the guild does not exist. `lock` holds the guild until the transaction ends,
    so changes to one guild's roles, channels and members run one after the other."""
    suffix = " FOR UPDATE OF g" if lock else ""
    row = connection.execute(
        "SELECT g.access_version, m.role_ids, m.communication_disabled_until FROM guilds g"
        " LEFT JOIN members m ON m.guild_id = g.id AND m.user_id = %s"
        f" WHERE g.id = %s{suffix}",
        (user_id, guild_id),
    ).fetchone()
    if row is None:
        return None
    version, role_ids, until = row
    member = None if role_ids is None else _member_row(role_ids, until)
    return MemberAccess(guild_id, user_id, int(str(version)), member)


def channel_member_access(
    connection: Connection, channel_id: int, user_id: int, *, person: bool = False
) -> MemberAccess | None:
    """member_access for the guild of a channel, in the same round trip. None when the
    channel does not exist; guild_id 0 (and no member) for a channel outside any guild.
    `person`: with the caller's PEOPLE_SELECT row too (a message's sender: its author)."""
    person_columns = f", {PEOPLE_COLUMNS}" if person else ""
    person_join = " JOIN users u ON u.id = %s" if person else ""
    row = connection.execute(
        "SELECT c.guild_id, g.access_version, m.role_ids, m.communication_disabled_until"
        f"{person_columns} FROM channels c LEFT JOIN guilds g ON g.id = c.guild_id"
        " LEFT JOIN members m ON m.guild_id = c.guild_id AND m.user_id = %s"
        f"{person_join} WHERE c.id = %s",
        (user_id, user_id, channel_id) if person else (user_id, channel_id),
    ).fetchone()
    if row is None:
        return None
    guild_id, version, role_ids, until = row[:4]
    sender = row[4:] if person else None
    if guild_id is None or version is None:
        return MemberAccess(0, user_id, 0, None, sender)
    member = None if role_ids is None else _member_row(role_ids, until)
    return MemberAccess(int(str(guild_id)), user_id, int(str(version)), member, sender)


def guild_of_channel(connection: Connection, channel_id: int) -> int | None:
    row = connection.execute(
        "SELECT guild_id FROM channels WHERE id = %s", (channel_id,)
    ).fetchone()
    return None if row is None or row[0] is None else int(str(row[0]))


def guild_with_version(connection: Connection, guild_id: int) -> tuple[Guild, int] | None:
    row = connection.execute(
        f"SELECT {_GUILD_COLUMNS}, access_version FROM guilds WHERE id = %s", (guild_id,)
    ).fetchone()
    if row is None:
        return None
    *fields, version = row
    return Guild(*fields), int(str(version))  # type: ignore[arg-type]


def access_versions(connection: Connection, guild_ids: list[int]) -> dict[int, int]:
    """Each existing guild's access_version (core/access.py)."""
    if not guild_ids:
        return {}
    rows = connection.execute(
        "SELECT id, access_version FROM guilds WHERE id = ANY(%s::bigint[])", (id_array(guild_ids),)
    ).fetchall()
    return {int(str(guild_id)): int(str(version)) for guild_id, version in rows}


def remove_member(connection: Connection, guild_id: int, user_id: int) -> bool:
    deleted = connection.execute(
        "DELETE FROM members WHERE guild_id = %s AND user_id = %s RETURNING user_id",
        (guild_id, user_id),
    ).fetchone()
    return deleted is not None


# Audit log.


def insert_audit_entry(
    connection: Connection,
    *,
    entry_id: int,
    guild_id: int,
    user_id: int,
    target_id: int | None,
    action_type: int,
    changes: list[dict[str, object]],
    reason: str | None,
    options: dict[str, object] | None = None,
) -> None:
    connection.execute(
        "INSERT INTO audit_log"
        " (id, guild_id, user_id, target_id, action_type, changes, options, reason)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            entry_id,
            guild_id,
            user_id,
            target_id,
            action_type,
            json_text(changes),
            None if options is None else json_text(options),
            reason,
        ),
    )


def audit_entries(
    connection: Connection,
    guild_id: int,
    *,
    user_id: int | None,
    action_type: int | None,
    before: int | None,
    after: int | None,
    limit: int,
) -> list[dict[str, object]]:
    """Entries newest first (oldest first when paging with `after`), as Discord's objects."""
    order = "ASC" if after is not None else "DESC"
    rows = connection.execute(
        "SELECT id, user_id, target_id, action_type, changes, options, reason FROM audit_log"
        " WHERE guild_id = %s AND (%s::bigint IS NULL OR user_id = %s)"
        " AND (%s::smallint IS NULL OR action_type = %s)"
        " AND (%s::bigint IS NULL OR id < %s) AND (%s::bigint IS NULL OR id > %s)"
        f" ORDER BY id {order} LIMIT %s",
        (guild_id, user_id, user_id, action_type, action_type, before, before, after, after, limit),
    ).fetchall()
    return [audit_entry_wire(*row) for row in rows]  # type: ignore[arg-type]


def audit_entry_wire(
    entry_id: int,
    user_id: int | None,
    target_id: int | None,
    action_type: int,
    changes: list[dict[str, object]],
    options: dict[str, object] | None,
    reason: str | None,
) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": str(entry_id),
        "user_id": None if user_id is None else str(user_id),
        "target_id": None if target_id is None else str(target_id),
        "action_type": action_type,
        "changes": changes,
    }
    if options is not None:
        entry["options"] = options
    if reason is not None:
        entry["reason"] = reason
    return entry
