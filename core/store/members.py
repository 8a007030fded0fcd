"""SQL for guild members, bans and invites. Blocking functions on one connection."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.domain.members import Member
from core.domain.users import User
from core.store.accounts import USER_COLUMNS
from core.store.database import id_array

if TYPE_CHECKING:
    from core.store.database import Connection

_USER_FIELDS = [column.strip() for column in USER_COLUMNS.split(",")]
_MEMBER_SELECT = (
    "SELECT m.guild_id, m.nick, m.role_ids, m.joined_at, m.deaf, m.mute, m.flags,"
    " m.communication_disabled_until, "
    + ", ".join(f"u.{column}" for column in _USER_FIELDS)
    + " FROM members m JOIN users u ON u.id = m.user_id"
)
# Users, each with their member row in one guild where they have one (none in a DM).
# A user (u) and their membership (m) of one guild, if any: a row for person().
PEOPLE_COLUMNS = (
    ", ".join(f"u.{column}" for column in _USER_FIELDS)
    + ", m.guild_id, m.nick, m.role_ids, m.joined_at, m.deaf, m.mute, m.flags,"
    " m.communication_disabled_until"
)
PEOPLE_SELECT = (
    f"SELECT {PEOPLE_COLUMNS} FROM users u LEFT JOIN members m"
    " ON m.user_id = u.id AND m.guild_id = %s"
)
MEMBER_FIELDS = frozenset({"nick", "role_ids", "deaf", "mute", "communication_disabled_until"})


def _user(values: list[object]) -> User:
    # USER_COLUMNS lists the User fields in their declared order.
    return User(*values)  # type: ignore[arg-type]


def _member(row: tuple[object, ...]) -> Member:
    guild_id, nick, role_ids, joined_at, deaf, mute, flags, until, *user = row
    assert isinstance(role_ids, list)
    assert isinstance(joined_at, dt.datetime)
    assert until is None or isinstance(until, dt.datetime)
    return Member(
        guild_id=int(str(guild_id)),
        user=_user(user),
        nick=None if nick is None else str(nick),
        role_ids=[int(str(r)) for r in role_ids],
        joined_at=joined_at,
        deaf=bool(deaf),
        mute=bool(mute),
        flags=int(str(flags)),
        communication_disabled_until=until,
    )


def person(row: tuple[object, ...]) -> tuple[User, Member | None]:
    """A row of PEOPLE_SELECT."""
    user = _user(list(row[: len(_USER_FIELDS)]))
    member_part = row[len(_USER_FIELDS) :]
    if member_part[0] is None:
        return user, None
    return user, _member((*member_part, *row[: len(_USER_FIELDS)]))


def member(connection: Connection, guild_id: int, user_id: int) -> Member | None:
    row = connection.execute(
        f"{_MEMBER_SELECT} WHERE m.guild_id = %s AND m.user_id = %s", (guild_id, user_id)
    ).fetchone()
    return None if row is None else _member(row)


def members_page(connection: Connection, guild_id: int, *, after: int, limit: int) -> list[Member]:
    rows = connection.execute(
        f"{_MEMBER_SELECT} WHERE m.guild_id = %s AND m.user_id > %s ORDER BY m.user_id LIMIT %s",
        (guild_id, after, limit),
    ).fetchall()
    return [_member(row) for row in rows]


def members_by_ids(connection: Connection, guild_id: int, user_ids: list[int]) -> list[Member]:
    rows = connection.execute(
        f"{_MEMBER_SELECT} WHERE m.guild_id = %s AND m.user_id = ANY(%s::bigint[])"
        " ORDER BY m.user_id",
        (guild_id, id_array(user_ids)),
    ).fetchall()
    return [_member(row) for row in rows]


def search_members(connection: Connection, guild_id: int, query: str, limit: int) -> list[Member]:
    """Members whose nick, display name or username starts with `query`, any case."""
    pattern = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = connection.execute(
        f"{_MEMBER_SELECT} WHERE m.guild_id = %s AND (lower(m.nick) LIKE %s"
        " OR lower(u.username) LIKE %s OR lower(u.global_name) LIKE %s)"
        " ORDER BY m.user_id LIMIT %s",
        (guild_id, pattern, pattern, pattern, limit),
    ).fetchall()
    return [_member(row) for row in rows]


def update_member(
    connection: Connection, guild_id: int, user_id: int, changes: dict[str, object]
) -> Member:
    unknown = set(changes) - MEMBER_FIELDS
    assert not unknown, f"not an updatable member column: {unknown}"
    assignments = ", ".join(f"{column} = %s" for column in changes)
    connection.execute(
        f"UPDATE members SET {assignments} WHERE guild_id = %s AND user_id = %s",
        (*changes.values(), guild_id, user_id),
    )
    found = member(connection, guild_id, user_id)
    assert found is not None
    return found


# Bans.


@dataclass(frozen=True, slots=True)
class Ban:
    user: User
    reason: str | None


def _ban(row: tuple[object, ...]) -> Ban:
    reason, *user = row
    return Ban(_user(user), None if reason is None else str(reason))


_BAN_SELECT = (
    "SELECT b.reason, "
    + ", ".join(f"u.{column}" for column in _USER_FIELDS)
    + " FROM bans b JOIN users u ON u.id = b.user_id"
)


def ban_of(connection: Connection, guild_id: int, user_id: int) -> Ban | None:
    row = connection.execute(
        f"{_BAN_SELECT} WHERE b.guild_id = %s AND b.user_id = %s", (guild_id, user_id)
    ).fetchone()
    return None if row is None else _ban(row)


def bans_page(
    connection: Connection, guild_id: int, *, before: int | None, after: int | None, limit: int
) -> list[Ban]:
    rows = connection.execute(
        f"{_BAN_SELECT} WHERE b.guild_id = %s"
        " AND (%s::bigint IS NULL OR b.user_id < %s) AND (%s::bigint IS NULL OR b.user_id > %s)"
        " ORDER BY b.user_id LIMIT %s",
        (guild_id, before, before, after, after, limit),
    ).fetchall()
    return [_ban(row) for row in rows]


def insert_ban(connection: Connection, guild_id: int, user_id: int, reason: str | None) -> bool:
    """Bans the user; False when they were banned already."""
    row = connection.execute(
        "INSERT INTO bans (guild_id, user_id, reason) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING user_id",
        (guild_id, user_id, reason),
    ).fetchone()
    return row is not None


def delete_ban(connection: Connection, guild_id: int, user_id: int) -> bool:
    row = connection.execute(
        "DELETE FROM bans WHERE guild_id = %s AND user_id = %s RETURNING user_id",
        (guild_id, user_id),
    ).fetchone()
    return row is not None


# Invites.


@dataclass(frozen=True, slots=True)
class InviteRow:
    code: str
    guild_id: int
    channel_id: int
    inviter_id: int | None
    max_age: int
    max_uses: int
    uses: int
    temporary: bool
    created_at: dt.datetime
    expires_at: dt.datetime | None


_INVITE_COLUMNS = (
    "code, guild_id, channel_id, inviter_id, max_age, max_uses, uses, temporary, created_at,"
    " expires_at"
)


def _invite(row: tuple[object, ...]) -> InviteRow:
    return InviteRow(*row)  # type: ignore[arg-type]


def insert_invite(
    connection: Connection,
    *,
    code: str,
    guild_id: int,
    channel_id: int,
    inviter_id: int,
    max_age: int,
    max_uses: int,
    temporary: bool,
) -> InviteRow:
    row = connection.execute(
        "INSERT INTO invites (code, guild_id, channel_id, inviter_id, max_age, max_uses, temporary,"
        " expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s,"
        " CASE WHEN %s = 0 THEN NULL ELSE now() + make_interval(secs => %s) END)"
        f" RETURNING {_INVITE_COLUMNS}",
        (code, guild_id, channel_id, inviter_id, max_age, max_uses, temporary, max_age, max_age),
    ).fetchone()
    assert row is not None
    return _invite(row)


def live_invite(connection: Connection, code: str) -> InviteRow | None:
    """The invite, unless it is unknown, expired or used up."""
    row = connection.execute(
        f"SELECT {_INVITE_COLUMNS} FROM invites WHERE code = %s"
        " AND (expires_at IS NULL OR expires_at > now()) AND (max_uses = 0 OR uses < max_uses)",
        (code,),
    ).fetchone()
    return None if row is None else _invite(row)


def invites_where(
    connection: Connection, *, guild_id: int, channel_id: int | None
) -> list[InviteRow]:
    rows = connection.execute(
        f"SELECT {_INVITE_COLUMNS} FROM invites WHERE guild_id = %s"
        " AND (%s::bigint IS NULL OR channel_id = %s)"
        " AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at",
        (guild_id, channel_id, channel_id),
    ).fetchall()
    return [_invite(row) for row in rows]


def use_invite(connection: Connection, code: str) -> InviteRow | None:
    """Counts one use, atomically: None when unknown, expired or used up. Concurrent accepts
    of a 10-use invite make exactly 10 uses, because the check and the count are one UPDATE."""
    row = connection.execute(
        "UPDATE invites SET uses = uses + 1 WHERE code = %s"
        " AND (expires_at IS NULL OR expires_at > now()) AND (max_uses = 0 OR uses < max_uses)"
        f" RETURNING {_INVITE_COLUMNS}",
        (code,),
    ).fetchone()
    return None if row is None else _invite(row)


def delete_invite(connection: Connection, code: str) -> None:
    connection.execute("DELETE FROM invites WHERE code = %s", (code,))
