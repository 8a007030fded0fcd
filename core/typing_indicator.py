"""Typing: TYPING_START to whoever can see the channel, stored nowhere."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from core import events
from core.access import load_message_access
from core.domain.permissions import Permission
from core.events import EventName
from core.journal import Journal

if TYPE_CHECKING:
    from core.access import AccessCache
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database


class Typing:
    def __init__(self, db: Database, snowflakes: SnowflakeGenerator, access: AccessCache) -> None:
        self._db = db
        self._access = access
        self._journal = Journal(snowflakes)

    async def start(self, user_id: int, channel_id: int) -> None:
        """TYPING_START for the channel's viewers, from someone who may send there."""

        def write(connection: Connection) -> None:
            found = load_message_access(self._access, connection, channel_id, user_id)
            found.require(Permission.SEND_MESSAGES)
            self._journal.emit(
                connection,
                events.in_channel(
                    EventName.TYPING_START,
                    found.guild_id,
                    channel_id,
                    {
                        "user_id": str(user_id),
                        "timestamp": int(dt.datetime.now(dt.UTC).timestamp()),
                    },
                ),
            )

        await self._db.run(write)
