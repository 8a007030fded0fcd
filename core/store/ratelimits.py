"""Where rate-limit windows live: process memory (one process), or Redis (several processes
enforce one limit).

Keys may hold client addresses, so they live only here, expire with their window, and are never
written to PostgreSQL or logged.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from core.domain.ratelimits import Decision, Limit, Window, take
from core.store.redis import KEY_PREFIX

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.store.redis import Redis

# Forget expired windows every this many calls, so memory stays bounded by live windows.
_SWEEP_EVERY = 4096


class RateLimits(Protocol):
    async def hit(self, key: str, limit: Limit) -> Decision:
        """Counts one request for `key` under `limit` and says whether it may go ahead."""
        ...


class MemoryRateLimits:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # wall-clock seconds: the headers carry it
        self._windows: dict[str, tuple[Window, float]] = {}
        self._calls = 0

    async def hit(self, key: str, limit: Limit) -> Decision:
        now = self._clock()
        self._calls += 1
        if self._calls % _SWEEP_EVERY == 0:
            self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        found = self._windows.get(key)
        window, decision = take(found[0] if found else None, limit, now)
        self._windows[key] = (window, window.started_s + limit.period_s)
        return decision


# One atomic step: count the request, start the window's clock on its first request, and say
# how many came in this window and how long it has left.
_HIT_SCRIPT = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local left_ms = redis.call('PTTL', KEYS[1])
if left_ms < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left_ms = tonumber(ARGV[1])
end
return {used, left_ms}
"""


class RedisRateLimits:
    """The same windows as MemoryRateLimits, kept in Redis so every process counts together."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._script = redis.script(_HIT_SCRIPT)

    async def hit(self, key: str, limit: Limit) -> Decision:
        period_ms = max(1, int(limit.period_s * 1000))
        result: object = await self._script([f"{KEY_PREFIX}rl:{key}"], [period_ms])
        assert isinstance(result, list)  # the script returns {used, left_ms}
        used, left_ms = int(result[0]), int(result[1])
        reset_after_s = left_ms / 1000
        return Decision(
            allowed=used <= limit.count,
            limit=limit.count,
            remaining=max(0, limit.count - used),
            reset_s=time.time() + reset_after_s,
            reset_after_s=reset_after_s,
        )
