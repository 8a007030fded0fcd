"""The bus: how committed events reach every gateway node. In-process by default; a Redis
Stream when REDIS_URL is set. Delivery is at-least-once (a relay may publish an event twice), so
a subscriber drops ids it has seen. The bus is not the record of events (the outbox in
PostgreSQL is), but the Redis one is ordered and kept for a while: every batch has a position,
a subscriber that loses its connection carries on from its last position without a gap, and a
gateway taking over a dead node's sessions reads back what that node never got to deliver.

When Redis is lost. A Redis without persistence comes back from a restart (or a failover, or
an eviction) without the stream: entries a subscriber had not read yet are gone, though the
outbox says they were published. So the stream is never created by a publish (XADD
NOMKSTREAM): a publish that finds it missing raises BusLost and adds nothing. The relay then
`restore`s it, in one transaction, with what the outbox published in the last KEEP_S (at most
REPLAY_MAX_EVENTS), ids unchanged and marked as replayed, before publishing anything new; it
also checks for the stream when idle, so a loss is mended within its poll interval even with
nothing to publish. What is guaranteed, with at least one relay running:
- every committed event reaches every subscriber that was reading when it was published, or
  that subscribed before it was committed, even across Redis restarts that lose the stream;
  the replay may repeat what a subscriber had read, and it drops repeats by id (SeenIds);
- a subscriber skips replayed events older than its own subscription: it was not there for
  them, so its sessions had them elsewhere or began after them (judged by the event's
  snowflake time against Redis's clock at subscription; an event from within clock skew of
  a subscriber's start, published after it and lost unread, is the one case this misses);
- a subscriber never stalls: entries of a recreated stream get ids by Redis's clock, after
  anything read from the old one; if that clock is behind, the subscriber notices that the
  newest entry is older than its last read one and reads the new stream from the start. Its
  positions then go back: a position compares only with positions of the same stream.
Not guaranteed: what a dead gateway node's journal (also in Redis) held; a session taken
over from such a node after the loss is asked to identify again."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import orjson
import trio

from core.events import EventName, Published
from core.faults import Boundary
from core.snowflakes import snowflake_ms
from core.store.redis import KEY_PREFIX, RedisError, fields_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence
    from contextlib import AbstractAsyncContextManager

    from core.store.redis import Redis

_log = logging.getLogger(__name__)

# Batches a subscriber may fall behind by before publishing waits for it. Publishing waits
# rather than drops: what waits is the relay, and the outbox holds what it has not published.
_SUBSCRIBER_BACKLOG = 1024

Position = tuple[int, int]  # a batch's place on the bus; later batches compare greater


@dataclass(frozen=True, slots=True)
class Batch:
    position: Position
    events: Sequence[Published]


class BusLost(RedisError):
    """The bus no longer holds what it was given (Redis came back without the stream): the
    events published lately must be given to `restore` before anything new is published.
    Nothing was published by the call that raised it. A RedisError, so that a caller that
    only publishes now and then (presence) treats it as Redis being away."""


class Bus(Protocol):
    async def publish(self, events: Sequence[Published]) -> Position:
        """Publishes `events` as one batch. BusLost (publishing nothing) if the bus lost
        what it kept."""
        ...

    async def check_kept(self) -> None:
        """BusLost if the bus lost what it kept; returns otherwise."""
        ...

    async def restore(self, batches: Sequence[Sequence[Published]]) -> None:
        """After BusLost: publishes `batches` again, all or none, ids unchanged, so that
        subscribers get what they had not read (and drop what they had, by id)."""
        ...

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

    async def check_kept(self) -> None:
        return  # memory is lost only with the process, and its subscribers with it

    async def restore(self, batches: Sequence[Sequence[Published]]) -> None:
        for events in batches:
            await self.publish(events)

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
# over from a dead node can still be given what that node never delivered. Also how far back
# a restore replays.
KEEP_S = 300
# The most events a restore replays (the newest of the last KEEP_S): a quarter of the ids a
# subscriber remembers (SeenIds), so that it drops every one it had read; and one Redis
# transaction of a few MB at most.
REPLAY_MAX_EVENTS = 16_384
_READ_BLOCK_MS = 1000
_READ_COUNT = 64
_READ = ("XREAD", "COUNT", _READ_COUNT, "BLOCK", _READ_BLOCK_MS, "STREAMS", STREAM)  # + after id
_REPLAYED = b"r"  # the field that marks an entry a restore wrote


class RedisBus:
    """Batches as entries of one Redis Stream, read by every subscriber from where it is."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, events: Sequence[Published]) -> Position:
        headers, payloads = _encode(events)
        # NOMKSTREAM: only a restore makes the stream, so a missing one is a lost one.
        entry_id = await self._redis.execute(
            "XADD",
            STREAM,
            "NOMKSTREAM",
            "MINID",
            "~",
            entry_id_before(KEEP_S),
            "*",
            "h",
            headers,
            "p",
            payloads,
        )
        if entry_id is None:
            raise BusLost(f"{STREAM} is gone")
        return position_of(entry_id)

    async def check_kept(self) -> None:
        if not await self._redis.execute("EXISTS", STREAM):
            raise BusLost(f"{STREAM} is gone")

    async def restore(self, batches: Sequence[Sequence[Published]]) -> None:
        # One transaction: a restore cut short would leave a stream that exists, and nothing
        # would tell the next publish that the rest is missing. With nothing to replay, one
        # empty entry makes the stream (subscribers skip it).
        commands = [
            ("XADD", STREAM, "*", "h", headers, "p", payloads, _REPLAYED, b"1")
            for headers, payloads in map(_encode, batches or [()])
        ]
        await self._redis.pipeline(commands, transaction=True)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[trio.MemoryReceiveChannel[Batch]]:
        send: trio.MemorySendChannel[Batch]
        receive: trio.MemoryReceiveChannel[Batch]
        send, receive = trio.open_memory_channel(_SUBSCRIBER_BACKLOG)
        # From the newest entry now, so nothing published after subscribe() returns is missed.
        newest = await self._redis.execute("XREVRANGE", STREAM, "+", "-", "COUNT", 1)
        if newest:
            start: bytes = newest[0][0]
            since_ms = position_of(start)[0]
        else:
            start = b"0-0"
            seconds, microseconds = await self._redis.execute("TIME")
            since_ms = int(seconds) * 1000 + int(microseconds) // 1000
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read, start, since_ms, send)
            async with receive:
                yield receive
            nursery.cancel_scope.cancel()

    async def _read(self, last: bytes, since_ms: int, send: trio.MemorySendChannel[Batch]) -> None:
        """Sends every batch after `last` to `send` until cancelled or the receiver closes.
        The bus reader's fault boundary: Redis going away (or any fault reading) is logged
        once and waited out; an entry that cannot be read is logged and skipped."""
        boundary = Boundary("bus-reader")
        check = False  # whether `last` may be of a stream since lost
        async with send:
            while True:
                try:
                    if check:
                        last = await self._restart_if_recreated(last)
                        check = False
                    found = await self._redis.execute(*_READ, last)
                except Exception as error:  # Redis went away: carry on from `last`
                    check = True
                    await trio.sleep(boundary.failed(error))
                    continue
                boundary.succeeded()
                if found is None:  # nothing within the block: idle, or reading a lost stream
                    check = True
                    continue
                for _, entries in found:  # [[stream, entries]]
                    for last, fields in entries:
                        if (batch := _batch(last, fields, since_ms)) is not None:
                            await send.send(batch)

    async def _restart_if_recreated(self, last: bytes) -> bytes:
        """`last`, or "0-0" if the stream was made again since `last` was read and its
        entries are numbered before it (Redis's clock is behind): without this, reading
        after `last` would wait for that clock to catch up. Ids only grow within a stream,
        so a newest entry older than one already read means a new stream."""
        newest = await self._redis.execute("XREVRANGE", STREAM, "+", "-", "COUNT", 1)
        if newest and position_of(newest[0][0]) < position_of(last):
            _log.warning("bus stream was made again behind the last entry read; from its start")
            return b"0-0"
        return last

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


def _batch(entry_id: bytes, flat: Sequence[bytes], since_ms: int) -> Batch | None:
    """The batch an entry holds, without the replayed events from before `since_ms` (the
    subscriber was not there for them); None if nothing is left (a restore with nothing to
    replay writes an empty entry), or if it cannot be read."""
    try:
        fields = fields_of(flat)
        events = _decode(fields)
    except (ValueError, KeyError, TypeError, IndexError) as error:
        _log.error(
            "bus entry unreadable; skipped",
            extra={"entry_id": entry_id.decode(), "error_type": type(error).__name__},
        )
        return None
    if _REPLAYED in fields:
        events = [e for e in events if snowflake_ms(e.id) >= since_ms]
    return Batch(position_of(entry_id), events) if events else None


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
