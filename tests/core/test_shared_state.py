"""One conformance suite for each store with two implementations: in-process memory (one
process) and Redis (several processes). Both must behave the same."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest

from core.domain.ratelimits import Limit
from core.store.ratelimits import MemoryRateLimits, RateLimits, RedisRateLimits
from core.store.revocations import (
    MemoryRevokedSessions,
    RedisRevokedSessions,
    RevokedSessions,
)

if TYPE_CHECKING:
    from core.store.redis import Redis


@pytest.fixture(params=["memory", "redis"])
def rate_limits(request: pytest.FixtureRequest, redis: Redis) -> RateLimits:
    return MemoryRateLimits() if request.param == "memory" else RedisRateLimits(redis)


@pytest.fixture(params=["memory", "redis"])
def revoked(request: pytest.FixtureRequest, redis: Redis) -> RevokedSessions:
    return MemoryRevokedSessions() if request.param == "memory" else RedisRevokedSessions(redis)


def fresh_key() -> str:
    return f"test:{secrets.token_hex(8)}"


async def test_rate_limit_allows_count_then_refuses(rate_limits: RateLimits) -> None:
    key, limit = fresh_key(), Limit(3, 60.0)
    decisions = [await rate_limits.hit(key, limit) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert {d.limit for d in decisions} == {3}
    for decision in decisions:
        assert 59.0 < decision.reset_after_s <= 60.0
        assert decision.reset_s > decision.reset_after_s  # a wall-clock time, not a duration


async def test_rate_limit_keys_are_independent(rate_limits: RateLimits) -> None:
    first, second, limit = fresh_key(), fresh_key(), Limit(1, 60.0)
    assert (await rate_limits.hit(first, limit)).allowed
    assert not (await rate_limits.hit(first, limit)).allowed
    assert (await rate_limits.hit(second, limit)).allowed


async def test_revoked_sessions_are_told_apart(revoked: RevokedSessions) -> None:
    gone, kept = secrets.randbits(62), secrets.randbits(62)
    assert not await revoked.is_revoked(gone)
    await revoked.revoke([gone])
    assert await revoked.is_revoked(gone)
    assert not await revoked.is_revoked(kept)
    await revoked.revoke([])  # nothing to revoke is fine


async def test_redis_stores_are_shared_between_instances(redis: Redis) -> None:
    # Two processes each build their own store over one Redis: they count together.
    key, limit = fresh_key(), Limit(2, 60.0)
    here, there = RedisRateLimits(redis), RedisRateLimits(redis)
    assert (await here.hit(key, limit)).allowed
    assert (await there.hit(key, limit)).allowed
    assert not (await here.hit(key, limit)).allowed
    session = secrets.randbits(62)
    await RedisRevokedSessions(redis).revoke([session])
    assert await RedisRevokedSessions(redis).is_revoked(session)
