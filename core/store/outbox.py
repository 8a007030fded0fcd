"""The outbox: gateway events committed in the same transaction as the change they describe,
so a committed change is never without its event and a rolled-back one never has one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg.rows import args_row

from core.events import EventName
from core.store.database import id_array, json_text

if TYPE_CHECKING:
    from core.events import Event
    from core.store.database import Connection, Statement

# What each committed change NOTIFYs (see migrations/0008_outbox_notify.sql).
NOTIFY_CHANNEL = "trioxide_outbox"


@dataclass(frozen=True, slots=True)
class Published:
    """A committed event as the bus carries it. `payload` is the JSON of the dispatch's `d`,
    serialized once, to be spliced into every recipient's frame as it is."""

    id: int  # a snowflake: receivers drop an id they have seen (delivery is at-least-once)
    name: EventName
    guild_id: int | None
    channel_id: int | None
    user_ids: tuple[int, ...]
    payload: bytes


def _published(
    event_id: int,
    name: str,
    guild_id: int | None,
    channel_id: int | None,
    user_ids: list[int] | None,
    payload: str,
) -> Published:
    return Published(
        event_id, EventName(name), guild_id, channel_id, tuple(user_ids or ()), payload.encode()
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
            "SELECT id, event, guild_id, channel_id, user_ids, payload::text FROM outbox"
            " WHERE published_at IS NULL ORDER BY id LIMIT %s",
            (limit,),
        )
        .fetchall()
    )


def by_ids(connection: Connection, event_ids: list[int]) -> list[Published]:
    """The events with these ids that are still kept, in id order."""
    return (
        connection.cursor(row_factory=args_row(_published))
        .execute(
            "SELECT id, event, guild_id, channel_id, user_ids, payload::text FROM outbox"
            " WHERE id = ANY(%s::bigint[]) ORDER BY id",
            (id_array(event_ids),),
        )
        .fetchall()
    )


def mark_published(connection: Connection, event_ids: list[int]) -> None:
    connection.execute(
        "UPDATE outbox SET published_at = now()"
        " WHERE id = ANY(%s::bigint[]) AND published_at IS NULL",
        (id_array(event_ids),),
    )
