"""The bus: how committed events reach every gateway node. In-process by default; a Redis
Stream when REDIS_URL is set. Delivery is at-least-once (a relay may publish an event twice), so
a subscriber drops ids it has seen. The bus is not the record of events (the outbox in
PostgreSQL is), but the Redis one is ordered and kept for a while: every batch has a position,
a subscriber that loses its connection carries on from its last position without a gap, and a
gateway taking over a dead node's sessions reads back what that node never got to deliver."""

from __future__ import annotations

import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import orjson
import trio

from core.events import EventName, Published
from core.store.redis import KEY_PREFIX, RedisError, fields_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence
    from contextlib import AbstractAsyncContextManager

    from core.store.redis import Redis

# Batches a subscriber may fall behind by before publishing waits for it. Publishing waits
# rather than drops: what waits is the relay, and the outbox holds what it has not published.
_SUBSCRIBER_BACKLOG = 1024

Position = tuple[int, int]  # a batch's place on the bus; later batches compare greater


@dataclass(frozen=True, slots=True)
class Batch:
    position: Position
    events: Sequence[Published]


class Bus(Protocol):
    async def publish(self, events: Sequence[Published]) -> Position: ...

    def subscribe(self) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[Batch]]:
        """The batches published while it is open, in the order they were published."""
        ...

    async def between(self, after: Position, before: Position) -> list[Batch]:
        """The batches published after `after` and before `before`, when still kept."""
        ...


class InProcessBus:
    """The bus for one process serving every role."""

    def __init__(self) -> None:
        self._subscribers: set[trio.MemorySendChannel[Batch]] = set()
        self._published = 0

    async def publish(self, events: Sequence[Published]) -> Position:
        self._published += 1
        batch = Batch((self._published, 0), events)
        for subscriber in list(self._subscribers):
            try:
                await subscriber.send(batch)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.discard(subscriber)
        return batch.position

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[trio.MemoryReceiveChannel[Batch]]:
        send: trio.MemorySendChannel[Batch]
        receive: trio.MemoryReceiveChannel[Batch]
        send, receive = trio.open_memory_channel(_SUBSCRIBER_BACKLOG)
        self._subscribers.add(send)
        try:
            async with receive:
                yield receive
        finally:
            self._subscribers.discard(send)
            send.close()

    async def between(self, after: Position, before: Position) -> list[Batch]:
        return []  # one process: no other node's deliveries to take over


STREAM = f"{KEY_PREFIX}events"
# How long the Redis bus keeps a batch: past the gateway's resume window, so a session taken
# over from a dead node can still be given what that node never delivered.
KEEP_S = 300
_READ_BLOCK_MS = 1000
_READ_COUNT = 64
_RETRY_S = 0.5
_READ = ("XREAD", "COUNT", _READ_COUNT, "BLOCK", _READ_BLOCK_MS, "STREAMS", STREAM)  # + after id


class RedisBus:
    """Batches as entries of one Redis Stream, read by every subscriber from where it is."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, events: Sequence[Published]) -> Position:
        headers, payloads = _encode(events)
        entry_id = await self._redis.execute(
            "XADD", STREAM, "MINID", "~", entry_id_before(KEEP_S), "*", "h", headers, "p", payloads
        )
        return position_of(entry_id)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[trio.MemoryReceiveChannel[Batch]]:
        send: trio.MemorySendChannel[Batch]
        receive: trio.MemoryReceiveChannel[Batch]
        send, receive = trio.open_memory_channel(_SUBSCRIBER_BACKLOG)
        # From the newest entry now, so nothing published after subscribe() returns is missed.
        newest = await self._redis.execute("XREVRANGE", STREAM, "+", "-", "COUNT", 1)
        start = newest[0][0] if newest else b"0-0"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read, start, send)
            async with receive:
                yield receive
            nursery.cancel_scope.cancel()

    async def _read(self, last: str | bytes, send: trio.MemorySendChannel[Batch]) -> None:
        async with send:
            while True:
                try:
                    found = await self._redis.execute(*_READ, last)
                except RedisError:  # Redis went away: carry on from `last`
                    await trio.sleep(_RETRY_S)
                    continue
                for _, entries in found or ():  # [[stream, entries]], or nil after the block
                    for last, fields in entries:
                        await send.send(Batch(position_of(last), _decode(fields_of(fields))))

    async def between(self, after: Position, before: Position) -> list[Batch]:
        entries = await self._redis.execute(
            "XRANGE", STREAM, f"({after[0]}-{after[1]}", f"({before[0]}-{before[1]}"
        )
        return [
            Batch(position_of(entry_id), _decode(fields_of(fields))) for entry_id, fields in entries
        ]


def entry_id_before(seconds: float) -> str:
    """The Stream entry id of `seconds` ago: what is older is trimmed (MINID)."""
    return f"{int((time.time() - seconds) * 1000)}-0"


def position_of(entry_id: bytes | str) -> Position:
    """A Redis Stream entry id ("<ms>-<n>") as a position."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, sequence = text.partition("-")
    return int(ms), int(sequence)


def _encode(events: Sequence[Published]) -> tuple[bytes, bytes]:
    """Headers as JSON, payloads (JSON already) concatenated: nothing serialized twice."""
    headers = [
        [e.id, str(e.name), e.guild_id, e.channel_id, e.user_ids, len(e.payload), e.access_version]
        for e in events
    ]
    return orjson.dumps(headers), b"".join(e.payload for e in events)


def _decode(fields: Mapping[bytes, bytes]) -> list[Published]:
    events = []
    payloads, at = fields[b"p"], 0
    for event_id, name, guild_id, channel_id, user_ids, size, *rest in orjson.loads(fields[b"h"]):
        payload = payloads[at : at + size]
        at += size
        version = rest[0] if rest else None  # (an entry from before versions were carried)
        events.append(
            Published(
                event_id, EventName(name), guild_id, channel_id, tuple(user_ids), payload, version
            )
        )
    return events


class SeenIds:
    """The last `size` event ids a subscriber has handled, to drop a second delivery."""

    def __init__(self, size: int = 65_536) -> None:
        self._size = size
        self._ids: OrderedDict[int, None] = OrderedDict()

    def first_time(self, event_id: int) -> bool:
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True
