"""Where rate-limit windows live: process memory (one process), or Redis (several; later).

Keys may hold client addresses, so they live only here, expire with their window, and are never
written to PostgreSQL or logged.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from core.domain.ratelimits import Decision, Limit, Window, take

if TYPE_CHECKING:
    from collections.abc import Callable

# Forget expired windows every this many calls, so memory stays bounded by live windows.
_SWEEP_EVERY = 4096


class MemoryRateLimits:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # wall-clock seconds: the headers carry it
        self._windows: dict[str, tuple[Window, float]] = {}
        self._calls = 0

    async def hit(self, key: str, limit: Limit) -> Decision:
        """Counts one request for `key` under `limit` and says whether it may go ahead."""
        now = self._clock()
        self._calls += 1
        if self._calls % _SWEEP_EVERY == 0:
            self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        found = self._windows.get(key)
        window, decision = take(found[0] if found else None, limit, now)
        self._windows[key] = (window, window.started_s + limit.period_s)
        return decision
