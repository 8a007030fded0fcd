"""Pins: a channel's pinned messages, and pinning or unpinning one."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from core import events
from core.access import load_message_access
from core.domain import messages as rules
from core.domain.permissions import Permission
from core.domain.timestamps import iso_or_none
from core.errors import MaxPins, MissingPermissions
from core.events import EventName
from core.journal import Journal
from core.messages import existing_message
from core.store import messages as store

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.access import AccessCache
    from core.domain.attachments import Attachment
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database


class Pins:
    def __init__(
        self,
        db: Database,
        snowflakes: SnowflakeGenerator,
        access: AccessCache,
        link: Callable[[Attachment], str],
    ) -> None:
        self._db = db
        self._access = access
        self._journal = Journal(snowflakes)
        self._link = link

    async def pins(
        self, user_id: int, channel_id: int
    ) -> list[tuple[str | None, dict[str, object]]]:
        """The channel's pinned messages, most recently pinned first, with when each was pinned."""

        def read(connection: Connection) -> list[tuple[str | None, dict[str, object]]]:
            found = load_message_access(self._access, connection, channel_id, user_id)
            found.require(Permission.READ_MESSAGE_HISTORY)
            pinned = store.pinned(connection, channel_id)
            return [
                (iso_or_none(view.message.pinned_at), view.to_wire())
                for view in store.views(connection, pinned, user_id, self._link)
            ]

        return await self._db.autocommit(read)

    async def set_pin(self, user_id: int, channel_id: int, message_id: int, *, pin: bool) -> None:
        def write(connection: Connection) -> None:
            found = load_message_access(self._access, connection, channel_id, user_id, lock=True)
            if not found.permissions & (Permission.MANAGE_MESSAGES | Permission.PIN_MESSAGES):
                raise MissingPermissions("PIN_MESSAGES")
            message = existing_message(connection, channel_id, message_id, lock=True)
            if pin == (message.pinned_at is not None):
                return
            if pin and len(store.pinned(connection, channel_id)) >= rules.MAX_PINS:
                raise MaxPins(str(channel_id))
            now = dt.datetime.now(dt.UTC)
            store.set_pinned(connection, message_id, now if pin else None)
            latest = store.pinned(connection, channel_id)
            self._journal.emit(
                connection,
                events.in_channel(
                    EventName.CHANNEL_PINS_UPDATE,
                    found.guild_id,
                    channel_id,
                    {"last_pin_timestamp": iso_or_none(latest[0].pinned_at) if latest else None},
                ),
            )

        await self._db.run(write)
