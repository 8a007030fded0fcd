"""messages.author_id names a user unless a webhook posted the message (migration 0013):
integrity the database keeps, whatever the code above it does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest

if TYPE_CHECKING:
    from tests.api.rooms import Room
    from tests.running import ApiClient

NO_SUCH_USER = 7_000_001


def _insert(
    connection: psycopg.Connection[tuple[object, ...]],
    room: Room,
    author_id: int,
    webhook_id: int | None,
) -> None:
    connection.execute(
        "INSERT INTO messages (id, channel_id, guild_id, author_id, webhook_id)"
        " VALUES (%s, %s, %s, %s, %s)",
        (author_id + 5, int(room.channel_id), int(room.guild_id), author_id, webhook_id),
    )


async def test_a_message_without_a_webhook_must_name_a_user(api: ApiClient, room: Room) -> None:
    # Review of issue 19: migration 0011 dropped the foreign key for every message.
    with psycopg.connect(api.services.db.url) as connection:
        _insert(connection, room, room.owner.id, None)  # a person's message
        _insert(connection, room, NO_SUCH_USER + 1, NO_SUCH_USER + 1)  # a webhook's
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            _insert(connection, room, NO_SUCH_USER, None)
        connection.rollback()
