"""The outbox relay: publishes committed events to the bus, in id order, at least once, and
forgets them once nobody can need them.

It wakes when a transaction that wrote outbox rows commits (LISTEN/NOTIFY) and polls as a
fallback, so a lost notification or a dropped listening connection delays events but never
loses them. Rows are marked published only after the bus has taken them; a relay that dies in
between publishes them again, and subscribers drop the repeat by its id. Several relays (one
per worker process) may run at once: the same holds.

Published events are kept OUTBOX_RETENTION_S, then deleted: the outbox would otherwise grow
forever, and keep the words of messages their authors have since deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import TYPE_CHECKING

import psycopg
import trio

from core.snowflakes import first_snowflake_at
from core.store import outbox
from core.store.database import open_listener

if TYPE_CHECKING:
    from core.bus import Bus
    from core.store.database import Database

_log = logging.getLogger(__name__)

BATCH = 256  # events per read, publish and mark
POLL_S = 1.0  # the fallback: how stale an event can get if every notification were lost
RETRY_S = 1.0  # after losing the database, before trying again
# A session taken over by another gateway node is replayed from the outbox by event id, for
# as long as it is resumable (gateway/session.py: 120 s), and the Redis bus keeps its batches
# 5 minutes (core/bus.py); past both, an event is needed by no one. A replay that finds an
# event gone is refused whole (op 9), never partial.
OUTBOX_RETENTION_S = 600.0
FORGET_EVERY_S = 60.0
FORGET_BATCH = 5000  # rows per DELETE: short statements, however far behind it starts


async def publish_pending(db: Database, bus: Bus, batch: int = BATCH) -> int:
    """Publishes every committed, unpublished event; returns how many."""
    published = 0
    while True:
        events = await db.autocommit(lambda connection: outbox.pending(connection, batch))
        if not events:
            return published
        await bus.publish(events)
        mark = partial(outbox.mark_published, event_ids=[event.id for event in events])
        await db.autocommit(
            mark
        )  # one statement, atomic by itself: no BEGIN and COMMIT to wait for
        published += len(events)


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
    while True:
        try:
            await forget_published(db)
        except psycopg.OperationalError as error:  # the relay's own loop says so too
            _log.warning("outbox retention skipped", extra={"error_type": type(error).__name__})
        await trio.sleep(FORGET_EVERY_S)


async def _relay(
    db: Database,
    bus: Bus,
    *,
    poll_s: float,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    started = False
    while True:
        try:
            # LISTEN first, then drain: nothing committed in between goes unnoticed.
            async with open_listener(db.url, outbox.NOTIFY_CHANNEL, db.timeout_s) as listener:
                while True:
                    await publish_pending(db, bus)
                    if not started:
                        task_status.started()
                        started = True
                    await listener.wait(poll_s)
        except psycopg.OperationalError as error:  # DatabaseUnavailable is one too
            _log.warning(
                "relay lost the database; retrying",
                extra={"error_type": type(error).__name__, "retry_s": RETRY_S},
            )
            await trio.sleep(RETRY_S)
