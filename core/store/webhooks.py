"""SQL for incoming webhooks. Blocking functions on one connection."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING

from psycopg.rows import class_row

from core.domain.webhooks import Webhook

if TYPE_CHECKING:
    from core.store.database import Connection

_COLUMNS = ", ".join(field.name for field in fields(Webhook))
_EDITABLE = frozenset({"name", "avatar", "channel_id"})


def insert_webhook(connection: Connection, webhook: Webhook) -> None:
    connection.execute(
        f"INSERT INTO webhooks ({_COLUMNS}) VALUES ({', '.join(['%s'] * len(fields(Webhook)))})",
        tuple(getattr(webhook, field.name) for field in fields(Webhook)),
    )


def webhook_by_id(connection: Connection, webhook_id: int, *, lock: bool = False) -> Webhook | None:
    suffix = " FOR UPDATE" if lock else ""
    return (
        connection.cursor(row_factory=class_row(Webhook))
        .execute(f"SELECT {_COLUMNS} FROM webhooks WHERE id = %s{suffix}", (webhook_id,))
        .fetchone()
    )


def webhooks_where(
    connection: Connection, *, guild_id: int | None = None, channel_id: int | None = None
) -> list[Webhook]:
    """A guild's or a channel's webhooks, oldest first."""
    return (
        connection.cursor(row_factory=class_row(Webhook))
        .execute(
            f"SELECT {_COLUMNS} FROM webhooks WHERE (%s::bigint IS NULL OR guild_id = %s)"
            " AND (%s::bigint IS NULL OR channel_id = %s) ORDER BY id",
            (guild_id, guild_id, channel_id, channel_id),
        )
        .fetchall()
    )


def count_in_channel(connection: Connection, channel_id: int) -> int:
    row = connection.execute(
        "SELECT count(*) FROM webhooks WHERE channel_id = %s", (channel_id,)
    ).fetchone()
    assert row is not None
    return int(str(row[0]))


def update_webhook(connection: Connection, webhook_id: int, changes: dict[str, object]) -> Webhook:
    assert changes
    assert set(changes) <= _EDITABLE, set(changes) - _EDITABLE
    assignments = ", ".join(f"{column} = %s" for column in changes)
    updated = (
        connection.cursor(row_factory=class_row(Webhook))
        .execute(
            f"UPDATE webhooks SET {assignments} WHERE id = %s RETURNING {_COLUMNS}",
            (*changes.values(), webhook_id),
        )
        .fetchone()
    )
    assert updated is not None  # the caller holds the row's lock
    return updated


def delete_webhook(connection: Connection, webhook_id: int) -> None:
    connection.execute("DELETE FROM webhooks WHERE id = %s", (webhook_id,))
