"""Guild message search: Discord's search over the channels the caller can read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.access import MESSAGE_CHANNELS, load_access
from core.domain.permissions import Permission
from core.store import messages as store

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.access import AccessCache
    from core.domain.attachments import Attachment
    from core.store.database import Connection, Database


@dataclass(frozen=True, slots=True)
class SearchQuery:
    content: str | None = None
    author_ids: tuple[int, ...] = ()
    channel_ids: tuple[int, ...] = ()
    mentions: tuple[int, ...] = ()
    has: tuple[str, ...] = ()
    min_id: int | None = None
    max_id: int | None = None
    limit: int = 25
    offset: int = 0


class Search:
    def __init__(
        self, db: Database, access: AccessCache, link: Callable[[Attachment], str]
    ) -> None:
        self._db = db
        self._access = access
        self._link = link

    async def search(self, user_id: int, guild_id: int, query: SearchQuery) -> dict[str, object]:
        """Discord's guild message search, over only the channels the caller can read."""

        def read(connection: Connection) -> dict[str, object]:
            access = load_access(self._access, connection, guild_id, user_id)
            readable = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY
            channel_ids = [
                channel_id
                for channel_id, c in access.snapshot.channels.items()
                if c.channel.type in MESSAGE_CHANNELS
                and access.in_channel(channel_id) & readable == readable
                and (not query.channel_ids or channel_id in query.channel_ids)
            ]
            total, found = store.search(
                connection,
                guild_id,
                channel_ids,
                content=query.content,
                author_ids=query.author_ids,
                mentions=query.mentions,
                has=query.has,
                min_id=query.min_id,
                max_id=query.max_id,
                limit=query.limit,
                offset=query.offset,
            )
            views = store.views(connection, found, user_id, self._link) if found else []
            # Discord nests each hit in a list (once it carried context messages around it).
            return {"total_results": total, "messages": [[view.to_wire()] for view in views]}

        return await self._db.autocommit(read)
