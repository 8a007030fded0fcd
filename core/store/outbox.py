"""The outbox: gateway events committed in the same transaction as the change they describe,
so a committed change is never without its event and a rolled-back one never has one."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.events import Event
    from core.store.database import Connection


def append(connection: Connection, event_id: int, event: Event) -> None:
    """Records `event` under `event_id` (a snowflake: receivers drop duplicates by it)."""
    connection.execute(
        "INSERT INTO outbox (id, event, guild_id, channel_id, user_ids, payload)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (
            event_id,
            str(event.name),
            event.guild_id,
            event.channel_id,
            list(event.user_ids) or None,
            json.dumps(event.payload),
        ),
    )
