"""The presence board in a real Redis, as several nodes share it: what a user shows is their
latest session's presence, wherever it is, and a node gone silent is swept exactly once."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from core.presence import Change, Presences, RedisBoard

if TYPE_CHECKING:
    from core.store.redis import Redis

OFFLINE: dict[str, object] = {"status": "offline", "activities": [], "client_status": {}}


def status(name: str) -> dict[str, object]:
    return {"status": name, "activities": [], "client_status": {"desktop": name}}


async def test_a_silent_nodes_presences_are_swept_once_and_their_users_shown_offline(
    redis: Redis,
) -> None:
    board = RedisBoard(redis, ttl_s=60)
    dead = Presences(board, f"dead-{secrets.token_hex(4)}")
    alive = Presences(board, f"alive-{secrets.token_hex(4)}")
    gone, moved, shared = (secrets.randbits(60) for _ in range(3))
    await dead.sweep([], silent_s=60)  # the node is seen alive once, then never again
    assert await dead.set(gone, "s1", (10,), "online", []) == Change(gone, (10,), status("online"))
    await dead.set(moved, "s2", (10,), "dnd", [])
    await dead.set(shared, "s3", (11,), "idle", [])
    # The user's later session, on the live node, is what others see.
    assert await alive.set(shared, "s4", (11,), "online", []) == Change(
        shared, (11,), status("online")
    )
    await alive.adopt(moved, "s2")  # resumed on the live node in time
    ours = {gone, moved, shared}

    swept = [c for c in await alive.sweep([], silent_s=0) if c.user_id in ours]
    assert swept == [Change(gone, (10,), OFFLINE)]
    assert await alive.online(ours) == {moved: status("dnd"), shared: status("online")}
    assert [c for c in await alive.sweep([], silent_s=0) if c.user_id in ours] == []


async def test_ending_a_session_shows_the_users_other_sessions_or_offline(redis: Redis) -> None:
    board = RedisBoard(redis, ttl_s=60)
    first = Presences(board, f"first-{secrets.token_hex(4)}")
    second = Presences(board, f"second-{secrets.token_hex(4)}")
    user = secrets.randbits(60)
    await first.set(user, "a", (1,), "dnd", [])
    assert await second.set(user, "b", (1, 2), "invisible", []) == Change(user, (1, 2), OFFLINE)
    assert await second.set(user, "b", (1, 2), "invisible", []) is None  # nothing new to see
    assert await second.end(user, "b", (1, 2)) == Change(user, (1, 2), status("dnd"))
    assert await second.end(user, "b", (1, 2)) is None  # already over
    assert await first.end(user, "a", (1,)) == Change(user, (1,), OFFLINE)
    assert await first.online([user]) == {}
