"""What a gateway node reads to deliver events: the guilds' access snapshots as they stand
after the events committed, the recipients of DM channels, and events by id (for a session
taken over from another node). The gateway reaches PostgreSQL only through here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.store import direct, outbox
from core.store import guilds as guild_store

if TYPE_CHECKING:
    from collections.abc import Collection

    from core.access import AccessCache, GuildSnapshot
    from core.events import Published
    from core.store.database import Connection, Database


class Delivery:
    def __init__(self, db: Database, access: AccessCache) -> None:
        self._db = db
        self._access = access

    def cached(self, guild_id: int, version: int) -> GuildSnapshot | None:
        """The guild's snapshot at `version` or newer, if this process has it: no read."""
        return self._access.cached(guild_id, version)

    async def audiences(
        self, guild_ids: Collection[int], dm_channel_ids: Collection[int]
    ) -> tuple[dict[int, GuildSnapshot], dict[int, list[int]]]:
        """Each existing guild's snapshot at its current version, and each DM channel's
        recipients. Read after the events committed: a permission change committed before an
        event is in the snapshot that event is checked against."""

        def read(connection: Connection) -> tuple[dict[int, GuildSnapshot], dict[int, list[int]]]:
            versions = guild_store.access_versions(connection, list(guild_ids))
            loaded = {gid: self._access.snapshot(connection, gid, v) for gid, v in versions.items()}
            return loaded, {c: direct.recipients(connection, c) for c in dm_channel_ids}

        return await self._db.autocommit(read)

    async def events(self, event_ids: list[int]) -> list[Published]:
        """The events still in the outbox among `event_ids`."""
        return await self._db.autocommit(lambda c: outbox.by_ids(c, event_ids))
