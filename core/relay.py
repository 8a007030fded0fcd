"""The outbox relay: publishes committed events to the bus, in id order, at least once.

It wakes when a transaction that wrote outbox rows commits (LISTEN/NOTIFY) and polls as a
fallback, so a lost notification or a dropped listening connection delays events but never
loses them. Rows are marked published only after the bus has taken them; a relay that dies in
between publishes them again, and subscribers drop the repeat by its id. Several relays (one
per worker process) may run at once: the same holds.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

import psycopg
import trio

from core.store import outbox
from core.store.database import open_listener

if TYPE_CHECKING:
    from core.bus import Bus
    from core.store.database import Database

_log = logging.getLogger(__name__)

BATCH = 256  # events per read, publish and mark
POLL_S = 1.0  # the fallback: how stale an event can get if every notification were lost
RETRY_S = 1.0  # after losing the database, before trying again


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


async def run_relay(
    db: Database,
    bus: Bus,
    *,
    poll_s: float = POLL_S,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Relays until cancelled. Reports started once it is listening and has published what
    was pending, so anything committed after that wakes it."""
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
