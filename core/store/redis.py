"""Redis, shared by several processes when REDIS_URL is set: rate-limit windows, revoked
sessions, and (later) the fanout bus. Nothing of record lives only here."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import coredis

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

Redis = coredis.Redis[bytes]

# Every key Trioxide writes starts with this, so one Redis can serve other things too.
KEY_PREFIX = "trioxide:"


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
