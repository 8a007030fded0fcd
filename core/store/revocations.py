"""Sessions revoked recently enough that access tokens minted from them may still be live.

An access token lives 15 minutes, so a revoked session needs remembering only that long: after
it, every token it minted has expired anyway. PostgreSQL keeps the record (sessions.revoked_at);
this set is the fast check on every request, in memory for one process or in Redis for several,
reloaded from PostgreSQL at start-up so a restart forgets nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Protocol

from core.domain.tokens import ACCESS_TOKEN_TTL_S
from core.store.accounts import sessions_revoked_since
from core.store.redis import KEY_PREFIX

if TYPE_CHECKING:
    from core.store.database import Database
    from core.store.redis import Redis

# A token's lifetime plus the verification leeway, with a margin.
_REMEMBER_S = ACCESS_TOKEN_TTL_S + 60


class RevokedSessions(Protocol):
    async def revoke(self, session_ids: list[int]) -> None:
        """Stops every access token minted from these sessions, at once."""
        ...

    async def is_revoked(self, session_id: int) -> bool: ...


async def recently_revoked(db: Database) -> list[int]:
    """Sessions revoked within the access-token lifetime, from the record."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=_REMEMBER_S)
    return await db.run(lambda c: sessions_revoked_since(c, since))


class MemoryRevokedSessions:
    def __init__(self) -> None:
        self._until: dict[int, float] = {}

    async def revoke(self, session_ids: list[int]) -> None:
        now = time.time()
        self._until = {sid: until for sid, until in self._until.items() if until > now}
        for session_id in session_ids:
            self._until[session_id] = now + _REMEMBER_S

    async def is_revoked(self, session_id: int) -> bool:
        until = self._until.get(session_id)
        return until is not None and until > time.time()


class RedisRevokedSessions:
    """One key per revoked session, expiring when its last token would have."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def revoke(self, session_ids: list[int]) -> None:
        for session_id in session_ids:
            await self._redis.execute(
                "SET", f"{KEY_PREFIX}revoked:{session_id}", b"1", "EX", _REMEMBER_S
            )

    async def is_revoked(self, session_id: int) -> bool:
        return bool(await self._redis.execute("EXISTS", f"{KEY_PREFIX}revoked:{session_id}"))
