"""The presence board in a real Redis, as several nodes share it: what a user shows is their
latest session's presence, wherever it is, and a node gone silent is swept exactly once; and
the pump that makes the changes, bounded."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import orjson
import trio

from core.presence import Change, Presences, RedisBoard, open_presences
from core.sessions import Identity
from gateway.hub import Hub
from gateway.presence_pump import PresencePump
from gateway.session import Session, new_feed

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.events import Published
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


class _RecordingBus:
    """A bus that keeps what is published: the pump's only way out."""

    def __init__(self) -> None:
        self.published: list[list[Published]] = []
        self.went = trio.Event()

    async def publish(self, events: Sequence[Published]) -> tuple[int, int]:
        self.published.append(list(events))
        self.went.set()
        return (len(self.published), 0)


async def test_a_flood_of_presence_updates_waits_as_one_change_per_session() -> None:
    # Issue 18: the queue was unbounded (math.inf). Now one change waits per session, the
    # latest: a thousand op 3s from one session cost one entry, and nothing ever blocks.
    bus = _RecordingBus()
    pump = PresencePump(bus, open_presences(None, None, 120.0), 120.0)  # type: ignore[arg-type]
    hub = Hub(lambda session, registered: None)
    flooding = _session("a", user_id=1, guild_id=10)
    other = _session("b", user_id=2, guild_id=10)
    for n in range(1000):
        pump.set(flooding, "online" if n % 2 else "idle", [])
    pump.set(other, "dnd", [])
    pump.set(flooding, "dnd", [])  # the last word
    assert pump.waiting == 2
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump.run, hub)
        with trio.fail_after(5):
            await bus.went.wait()
        nursery.cancel_scope.cancel()
    [batch] = bus.published
    shown = {
        orjson.loads(e.payload)["user"]["id"]: orjson.loads(e.payload)["status"] for e in batch
    }
    assert shown == {"1": "dnd", "2": "dnd"}


def _session(session_id: str, user_id: int, guild_id: int) -> Session:
    identity = Identity(user_id, {"id": str(user_id)}, False, None, None)
    return Session(session_id, identity, 0, {guild_id: []}, new_feed(0, held=False))
