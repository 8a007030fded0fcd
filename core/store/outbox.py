"""The outbox: gateway events committed in the same transaction as the change they describe,
so a committed change is never without its event and a rolled-back one never has one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.rows import args_row

from core.events import EventName, Published
from core.store.database import id_array, json_text

if TYPE_CHECKING:
    from core.events import Event
    from core.store.database import Connection, Statement

# What each committed change NOTIFYs (see migrations/0008_outbox_notify.sql).
NOTIFY_CHANNEL = "trioxide_outbox"


def _published(
    event_id: int,
    name: str,
    guild_id: int | None,
    channel_id: int | None,
    user_ids: list[int] | None,
    payload: str,
    access_version: int | None,
) -> Published:
    return Published(
        event_id,
        EventName(name),
        guild_id,
        channel_id,
        tuple(user_ids or ()),
        payload.encode(),
        access_version,
    )


# An event with its guild's access_version as it stands when read (see Published).
_SELECT = (
    "SELECT o.id, o.event, o.guild_id, o.channel_id, o.user_ids, o.payload::text,"
    " g.access_version FROM outbox o LEFT JOIN guilds g ON g.id = o.guild_id"
)


def append(event_id: int, event: Event) -> Statement:
    """Records `event` under `event_id` (a snowflake: receivers drop duplicates by it)."""
    return (
        "INSERT INTO outbox (id, event, guild_id, channel_id, user_ids, payload)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (
            event_id,
            str(event.name),
            event.guild_id,
            event.channel_id,
            list(event.user_ids) or None,
            json_text(event.payload),
        ),
    )


def pending(connection: Connection, limit: int) -> list[Published]:
    """Up to `limit` committed, unpublished events, oldest id first."""
    return (
        connection.cursor(row_factory=args_row(_published))
        .execute(
            f"{_SELECT} WHERE o.published_at IS NULL ORDER BY o.id LIMIT %s",
            (limit,),
        )
        .fetchall()
    )


def by_ids(connection: Connection, event_ids: list[int]) -> list[Published]:
    """The events with these ids that are still kept, in id order."""
    return (
        connection.cursor(row_factory=args_row(_published))
        .execute(
            f"{_SELECT} WHERE o.id = ANY(%s::bigint[]) ORDER BY o.id",
            (id_array(event_ids),),
        )
        .fetchall()
    )


def published_since(connection: Connection, seconds: float, limit: int) -> list[Published]:
    """The newest `limit` events published in the last `seconds`, oldest id first: what a bus
    that lost what it kept must be given again."""
    return (
        connection.cursor(row_factory=args_row(_published))
        .execute(
            f"{_SELECT} WHERE o.id IN (SELECT id FROM outbox"
            " WHERE published_at > now() - make_interval(secs => %s)"
            " ORDER BY id DESC LIMIT %s) ORDER BY o.id",
            (seconds, limit),
        )
        .fetchall()
    )


def mark_published(connection: Connection, event_ids: list[int]) -> None:
    connection.execute(
        "UPDATE outbox SET published_at = now()"
        " WHERE id = ANY(%s::bigint[]) AND published_at IS NULL",
        (id_array(event_ids),),
    )


def forget_published(connection: Connection, before_id: int, limit: int) -> int:
    """Deletes up to `limit` published events older than `before_id` (a snowflake, so by the
    primary key); how many it deleted. Unpublished events are never forgotten."""
    return connection.execute(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
        " WHERE id < %s AND published_at IS NOT NULL ORDER BY id LIMIT %s)",
        (before_id, limit),
    ).rowcount
