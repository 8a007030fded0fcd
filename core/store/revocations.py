"""Sessions revoked recently enough that access tokens minted from them may still be live.

An access token lives 15 minutes, so a revoked session needs remembering only that long: after
it, every token it minted has expired anyway. Kept in memory and reloaded from PostgreSQL (the
record) at start-up, so a restart forgets nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from core.domain.tokens import ACCESS_TOKEN_TTL_S
from core.store.accounts import sessions_revoked_since

if TYPE_CHECKING:
    from core.store.database import Database

# A token's lifetime plus the verification leeway, with a margin.
_REMEMBER_S = ACCESS_TOKEN_TTL_S + 60


class RevokedSessions:
    """The set of recently revoked session ids, each forgotten once its tokens have expired."""

    def __init__(self) -> None:
        self._until: dict[int, float] = {}

    async def load(self, db: Database) -> None:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=_REMEMBER_S)
        for session_id in await db.run(lambda c: sessions_revoked_since(c, since)):
            self._until[session_id] = time.time() + _REMEMBER_S

    async def revoke(self, session_ids: list[int]) -> None:
        now = time.time()
        self._until = {sid: until for sid, until in self._until.items() if until > now}
        for session_id in session_ids:
            self._until[session_id] = now + _REMEMBER_S

    async def is_revoked(self, session_id: int) -> bool:
        until = self._until.get(session_id)
        return until is not None and until > time.time()
