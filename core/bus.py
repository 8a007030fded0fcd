"""The bus: how committed events reach every gateway node. In-process by default; Redis when
REDIS_URL is set. Delivery is at-least-once (a relay may publish an event twice), so a
subscriber drops ids it has seen. The bus is not the record: the outbox in PostgreSQL is."""

from __future__ import annotations

from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Protocol

import trio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from contextlib import AbstractAsyncContextManager

    from core.store.outbox import Published

# Batches a subscriber may fall behind by before publishing waits for it. Publishing waits
# rather than drops: what waits is the relay, and the outbox holds what it has not published.
_SUBSCRIBER_BACKLOG = 1024


class Bus(Protocol):
    async def publish(self, events: Sequence[Published]) -> None: ...

    def subscribe(
        self,
    ) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[Sequence[Published]]]:
        """The batches published while it is open, in the order they were published."""
        ...


class InProcessBus:
    """The bus for one process serving every role."""

    def __init__(self) -> None:
        self._subscribers: set[trio.MemorySendChannel[Sequence[Published]]] = set()

    async def publish(self, events: Sequence[Published]) -> None:
        for subscriber in list(self._subscribers):
            try:
                await subscriber.send(events)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.discard(subscriber)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[trio.MemoryReceiveChannel[Sequence[Published]]]:
        send: trio.MemorySendChannel[Sequence[Published]]
        receive: trio.MemoryReceiveChannel[Sequence[Published]]
        send, receive = trio.open_memory_channel(_SUBSCRIBER_BACKLOG)
        self._subscribers.add(send)
        try:
            async with receive:
                yield receive
        finally:
            self._subscribers.discard(send)
            send.close()


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
