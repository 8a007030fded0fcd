"""The outbox relay: publishes committed events to the bus, in id order, at least once, and
forgets them once nobody can need them.

It wakes when a transaction that wrote outbox rows commits (LISTEN/NOTIFY) and polls as a
fallback, so a lost notification or a dropped listening connection delays events but never
loses them. Rows are marked published only after the bus has taken them; a relay that dies in
between publishes them again, and subscribers drop the repeat by its id. Several relays (one
per worker process) may run at once: the same holds.

Outages. Each loop (the relay, the retention) has one fault boundary: losing Redis or
PostgreSQL is logged once per outage (and once when it ends), retried with a backoff growing
to RETRY_MAX_S, and never ends the process; any other exception is logged once with its
traceback and the loop starts over after the same backoff. While Redis is away, committed
events wait in the outbox (PostgreSQL is the record); they are published once it is back. If
it came back without the stream (no persistence), the relay first gives the bus what it
published in the bus's keep window (core/bus.py says what subscribers are then guaranteed),
and notices such a loss within its poll interval even when there is nothing to publish.

Published events are kept OUTBOX_RETENTION_S, then deleted: the outbox would otherwise grow
forever, and keep the words of messages their authors have since deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from functools import partial
from typing import TYPE_CHECKING

import trio

from core.bus import KEEP_S, REPLAY_MAX_EVENTS, BusLost
from core.faults import Boundary
from core.metrics import OUTBOX_LAG, OUTBOX_PUBLISHED
from core.snowflakes import first_snowflake_at, snowflake_seconds
from core.store import outbox
from core.store.database import open_listener
from core.store.redis import RedisError

if TYPE_CHECKING:
    from core.bus import Bus
    from core.store.database import Database

_log = logging.getLogger(__name__)

BATCH = 256  # events per read, publish and mark
POLL_S = 1.0  # the fallback: how stale an event can get if every notification were lost
# A session taken over by another gateway node is replayed from the outbox by event id, for
# as long as it is resumable (gateway/session.py: 120 s), and the Redis bus keeps its batches
# 5 minutes (core/bus.py); past both, an event is needed by no one. A replay that finds an
# event gone is refused whole (op 9), never partial.
OUTBOX_RETENTION_S = 600.0
FORGET_EVERY_S = 60.0
FORGET_BATCH = 5000  # rows per DELETE: short statements, however far behind it starts


async def publish_pending(db: Database, bus: Bus, batch: int = BATCH) -> int:
    """Publishes every committed, unpublished event; returns how many. If the bus lost what
    it kept, restores it first."""
    published = 0
    while True:
        events = await db.autocommit(lambda connection: outbox.pending(connection, batch))
        if not events:
            OUTBOX_LAG.set(0)
            return published
        OUTBOX_LAG.set(max(0.0, time.time() - snowflake_seconds(events[0].id)))
        try:
            await bus.publish(events)
        except BusLost:
            await restore_bus(db, bus)
            continue  # (read again: another relay may have published these meanwhile)
        mark = partial(outbox.mark_published, event_ids=[event.id for event in events])
        await db.autocommit(
            mark
        )  # one statement, atomic by itself: no BEGIN and COMMIT to wait for
        published += len(events)
        OUTBOX_PUBLISHED.inc(len(events))


async def restore_bus(db: Database, bus: Bus, batch: int = BATCH) -> int:
    """Gives a bus that lost what it kept (BusLost) the events published in its keep window
    again, ids unchanged, in id order; returns how many."""
    events = await db.autocommit(
        partial(outbox.published_since, seconds=KEEP_S, limit=REPLAY_MAX_EVENTS)
    )
    await bus.restore([events[at : at + batch] for at in range(0, len(events), batch)])
    _log.warning("bus was lost; restored", extra={"events": len(events), "keep_s": KEEP_S})
    return len(events)


async def forget_published(
    db: Database, retention_s: float = OUTBOX_RETENTION_S, batch: int = FORGET_BATCH
) -> int:
    """Deletes the published events older than `retention_s`; returns how many."""
    before_id = first_snowflake_at(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=retention_s))
    forgotten = 0
    while True:
        deleted = await db.autocommit(
            partial(outbox.forget_published, before_id=before_id, limit=batch)
        )
        forgotten += deleted
        if deleted < batch:
            return forgotten


async def run_relay(
    db: Database,
    bus: Bus,
    *,
    poll_s: float = POLL_S,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Relays until cancelled, and forgets published events past their retention. Reports
    started once it is listening and has published what was pending, so anything committed
    after that wakes it."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_forget_periodically, db)
        await nursery.start(partial(_relay, db, bus, poll_s=poll_s))
        task_status.started()


async def _forget_periodically(db: Database) -> None:
    boundary = Boundary("retention")
    while True:
        try:
            await forget_published(db)
        except Exception as error:  # the boundary: anything but cancellation is retried
            await trio.sleep(boundary.failed(error))
            continue
        boundary.succeeded()
        await trio.sleep(FORGET_EVERY_S)


async def _relay(
    db: Database,
    bus: Bus,
    *,
    poll_s: float,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    started = False
    boundary = Boundary("relay")
    while True:
        try:
            # LISTEN first, then drain: nothing committed in between goes unnoticed.
            async with open_listener(db.url, outbox.NOTIFY_CHANNEL, db.timeout_s) as listener:
                while True:
                    try:
                        if await publish_pending(db, bus):
                            boundary.succeeded()  # (only a pass that reached both stores)
                        if not started:
                            task_status.started()
                            started = True
                        if not await listener.wait(poll_s):
                            # Idle: a bus lost now would otherwise wait for the next commit.
                            await _check_bus(db, bus)
                            boundary.succeeded()
                    except RedisError as error:  # Redis alone: keep listening meanwhile
                        await trio.sleep(boundary.failed(error))
        except Exception as error:  # the boundary: anything but cancellation is retried
            await trio.sleep(boundary.failed(error))


async def _check_bus(db: Database, bus: Bus) -> None:
    try:
        await bus.check_kept()
    except BusLost:
        await restore_bus(db, bus)
