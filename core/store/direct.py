"""SQL for direct messages, group DMs and relationships. Blocking functions on one connection."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from core.store.guilds import insert_channel

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.domain.guilds import Channel
    from core.store.database import Connection

FRIEND, BLOCKED, INCOMING, OUTGOING = 1, 2, 3, 4


def pair_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"


def dm_of_pair(connection: Connection, a: int, b: int) -> int | None:
    row = connection.execute(
        "SELECT id FROM channels WHERE pair_key = %s", (pair_key(a, b),)
    ).fetchone()
    return None if row is None else int(str(row[0]))


def create_dm_channel(
    connection: Connection,
    channel_id: int,
    channel_type: int,
    recipients: Sequence[int],
    *,
    pair: str | None,
    owner_id: int | None,
    name: str | None,
) -> Channel:
    channel = insert_channel(connection, channel_id, None, channel_type, name or "", 0, None)  # type: ignore[arg-type]
    connection.execute(
        "UPDATE channels SET pair_key = %s, owner_id = %s, name = %s WHERE id = %s",
        (pair, owner_id, name, channel_id),
    )
    for user_id in recipients:
        connection.execute(
            "INSERT INTO channel_recipients (channel_id, user_id) VALUES (%s, %s)",
            (channel_id, user_id),
        )
    return channel


def recipients(connection: Connection, channel_id: int) -> list[int]:
    rows = connection.execute(
        "SELECT user_id FROM channel_recipients WHERE channel_id = %s ORDER BY user_id",
        (channel_id,),
    ).fetchall()
    return [int(str(user_id)) for (user_id,) in rows]


def dm_channels_of(connection: Connection, user_id: int) -> list[int]:
    rows = connection.execute(
        "SELECT channel_id FROM channel_recipients WHERE user_id = %s ORDER BY channel_id",
        (user_id,),
    ).fetchall()
    return [int(str(channel_id)) for (channel_id,) in rows]


def owner_of(connection: Connection, channel_id: int) -> int | None:
    row = connection.execute(
        "SELECT owner_id FROM channels WHERE id = %s", (channel_id,)
    ).fetchone()
    return None if row is None or row[0] is None else int(str(row[0]))


def shares_a_guild(connection: Connection, a: int, b: int) -> bool:
    row = connection.execute(
        "SELECT 1 FROM members x JOIN members y ON y.guild_id = x.guild_id"
        " WHERE x.user_id = %s AND y.user_id = %s LIMIT 1",
        (a, b),
    ).fetchone()
    return row is not None


def relationship(connection: Connection, user_id: int, other_id: int) -> int | None:
    row = connection.execute(
        "SELECT type FROM relationships WHERE user_id = %s AND other_id = %s", (user_id, other_id)
    ).fetchone()
    return None if row is None else int(str(row[0]))


def relationship_since(connection: Connection, user_id: int, other_id: int) -> dt.datetime | None:
    row = connection.execute(
        "SELECT since FROM relationships WHERE user_id = %s AND other_id = %s", (user_id, other_id)
    ).fetchone()
    if row is None:
        return None
    assert isinstance(row[0], dt.datetime)
    return row[0]


def set_relationship(connection: Connection, user_id: int, other_id: int, kind: int) -> None:
    connection.execute(
        "INSERT INTO relationships (user_id, other_id, type) VALUES (%s, %s, %s)"
        " ON CONFLICT (user_id, other_id) DO UPDATE SET type = EXCLUDED.type, since = now()",
        (user_id, other_id, kind),
    )


def drop_relationship(
    connection: Connection, user_id: int, other_id: int, *, unless: int | None = None
) -> None:
    connection.execute(
        "DELETE FROM relationships WHERE user_id = %s AND other_id = %s"
        " AND (%s::smallint IS NULL OR type <> %s)",
        (user_id, other_id, unless, unless),
    )


def relationships_of(connection: Connection, user_id: int) -> list[tuple[int, int, dt.datetime]]:
    rows = connection.execute(
        "SELECT other_id, type, since FROM relationships WHERE user_id = %s ORDER BY other_id",
        (user_id,),
    ).fetchall()
    found = []
    for other, kind, since in rows:
        assert isinstance(since, dt.datetime)
        found.append((int(str(other)), int(str(kind)), since))
    return found


def blocked_between(connection: Connection, a: int, b: int) -> bool:
    row = connection.execute(
        "SELECT 1 FROM relationships WHERE type = 2"
        " AND ((user_id = %s AND other_id = %s) OR (user_id = %s AND other_id = %s)) LIMIT 1",
        (a, b, b, a),
    ).fetchone()
    return row is not None
