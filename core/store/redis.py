"""Redis, shared by several processes when REDIS_URL is set: rate-limit windows, revoked
sessions, and (later) the fanout bus. Nothing of record lives only here."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import coredis

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

Redis = coredis.Redis[bytes]

# Every key Trioxide writes starts with this, so one Redis can serve other things too.
KEY_PREFIX = "trioxide:"

# Commands per pipeline when refreshing many keys: the client packs a pipeline in one go, and
# a thousand EXPIREs held the event loop for 20-25 ms (the latency of every event behind it).
_REFRESH_CHUNK = 100


async def expire_all(redis: Redis, keys: Iterable[str], ttl_s: int) -> None:
    """Sets the TTL of every key, a pipeline of at most _REFRESH_CHUNK at a time."""
    chunk: list[str] = []
    for key in keys:
        chunk.append(key)
        if len(chunk) == _REFRESH_CHUNK:
            await _expire(redis, chunk, ttl_s)
            chunk = []
    if chunk:
        await _expire(redis, chunk, ttl_s)


async def _expire(redis: Redis, keys: list[str], ttl_s: int) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.expire(key, ttl_s)


@asynccontextmanager
async def open_redis(url: str) -> AsyncIterator[Redis]:
    """A pooled client for `url`, connected and version-checked on entry, closed on exit."""
    client: Redis = coredis.Redis.from_url(url, decode_responses=False)
    async with client:
        yield client


@asynccontextmanager
async def open_redis_when_set(url: str | None) -> AsyncIterator[Redis | None]:
    """`open_redis(url)`, or None when REDIS_URL is unset (everything stays in-process)."""
    if url is None:
        yield None
        return
    async with open_redis(url) as client:
        yield client
