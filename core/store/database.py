"""PostgreSQL from Trio: psycopg 3 connections whose waiting is done by Trio's event loop.

No PostgreSQL driver is Trio-native. psycopg 3 is built as non-blocking protocol generators
plus one `wait` method that drives them; here that method waits with Trio instead of blocking
a thread, through greenback (which lets synchronous code suspend the Trio task it runs in). So
the store stays plain synchronous functions on a connection, and a query costs no thread hop.

Measured on this machine class (bench/database.py, one-statement transactions, pool of 8): at
32 concurrent tasks, worker threads did 1,500/s at 790 µs of this process's CPU each (waking a
thread is dear here); driven by Trio, 2,070/s at 460 µs. One task alone: 1,930/s and 1,790/s.
Callers see only `Database.run` and `Database.autocommit`, so the choice can change here
alone.
"""

from __future__ import annotations

import select
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import greenback
import orjson
import psycopg
import trio
from psycopg.pq import TransactionStatus
from psycopg.types.json import set_json_loads
from psycopg.waiting import Ready, Wait

from core.metrics import DB_POOL_WAIT

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Generator, Iterable, Sequence

T = TypeVar("T")


class _TrioConnection(psycopg.Connection[tuple[object, ...]]):
    """A connection that waits for its socket with Trio: usable only inside Database.run."""

    _poller: tuple[int, select.poll] | None = None

    def wait(
        self, gen: Generator[Any, Any, T], interval: float = 0, timeout: float | None = None
    ) -> T:
        del interval  # psycopg wakes blocking waits to notice Ctrl-C; Trio needs no such thing
        fileno = self.pgconn.socket
        try:
            state = next(gen)
            while True:
                # What is ready already needs no trip through the event loop. A pipeline asks
                # for "writable" once per statement it sends, and a socket almost always is.
                ready = self._ready_now(fileno, state)
                if ready == Ready.NONE:
                    if timeout is None:
                        ready = greenback.await_(_ready(fileno, state))
                    else:
                        ready = greenback.await_(_ready_within(fileno, state, timeout))
                state = gen.send(ready)
        except StopIteration as done:
            result: T = done.value
            return result

    def _ready_now(self, fileno: int, state: Wait) -> Ready:
        # A query's statements each ask this (17 times for a message POST): it is kept to one
        # poll and two lookups.
        if self._poller is None or self._poller[0] != fileno:
            poller = select.poll()
            poller.register(fileno, select.POLLIN | select.POLLOUT)
            self._poller = (fileno, poller)
        polled = self._poller[1].poll(0)
        return _READY[polled[0][1] & _POLLED][state] if polled else Ready.NONE


_POLLED = select.POLLIN | select.POLLOUT | select.POLLERR | select.POLLHUP
# What poll() reported, as psycopg's Ready, for each Wait state that asked.
_READY = {
    events: {
        state: Ready(
            int(state)
            & (
                (Ready.R if events & (select.POLLIN | select.POLLERR | select.POLLHUP) else 0)
                | (Ready.W if events & select.POLLOUT else 0)
            )
        )
        for state in Wait
    }
    for events in range(_POLLED + 1)
}


async def _ready(fileno: int, state: Wait) -> Ready:
    if state == Wait.R:
        await trio.lowlevel.wait_readable(fileno)
        return Ready.R
    if state == Wait.W:
        await trio.lowlevel.wait_writable(fileno)
        return Ready.W
    # Both: a pipeline that is still sending must also read, or the two ends could each wait
    # for the other's buffer to drain.
    ready = Ready.NONE
    async with trio.open_nursery() as nursery:

        async def when(event: Callable[[int], Any], flag: Ready) -> None:
            nonlocal ready
            await event(fileno)
            ready = flag
            nursery.cancel_scope.cancel()

        nursery.start_soon(when, trio.lowlevel.wait_readable, Ready.R)
        nursery.start_soon(when, trio.lowlevel.wait_writable, Ready.W)
    return ready


async def _ready_within(fileno: int, state: Wait, timeout: float) -> Ready:
    with trio.move_on_after(timeout):
        return await _ready(fileno, state)
    return Ready.NONE  # psycopg takes this as "timed out", as from its own waits


def _json_loads(data: str | bytes) -> object:
    # Most messages have no embeds: their '[]' need not go through the JSON parser.
    return [] if data == b"[]" else orjson.loads(data)


# A data-modifying SQL statement and its parameters, to be run together with others.
Statement = tuple[str, tuple[object, ...]]


def execute_together(connection: psycopg.Connection[Any], statements: Sequence[Statement]) -> None:
    """Runs the statements as one: the first ones as WITH clauses of the last (PostgreSQL runs
    each to completion, whether or not it is referenced). One statement is atomic without a
    transaction block and costs one round trip; a change and its outbox event go this way."""
    if not statements:
        return
    *leading, (last, last_params) = statements
    if not leading:
        connection.execute(last, last_params)
        return
    clauses = ", ".join(f"s{i} AS ({sql})" for i, (sql, _) in enumerate(leading))
    params = [p for _, values in leading for p in values]
    connection.execute(f"WITH {clauses} {last}", (*params, *last_params))


def id_array(ids: Iterable[int]) -> str:
    """Ids as one array literal, for `= ANY(%s::bigint[])`. psycopg adapts a list in Python,
    element by element: for a page's fifty message ids, half the statement's cost."""
    return "{" + ",".join(map(str, ids)) + "}"


def json_text(value: object) -> str:
    """`value` as JSON text, for a json or jsonb parameter. (orjson: a message's outbox
    payload encodes in a tenth of the standard library's time.)"""
    return orjson.dumps(value).decode()


Connection = psycopg.Connection[tuple[object, ...]]
Cursor = psycopg.Cursor[tuple[object, ...]]
_IDLE = TransactionStatus.IDLE
_POOL_WAIT = DB_POOL_WAIT.labels()


class DatabaseUnavailable(psycopg.OperationalError):
    """No connection could be had within the pool's timeout."""


class Database:
    """Up to `size` PostgreSQL connections, opened when first needed and kept."""

    def __init__(self, url: str, size: int, timeout_s: float) -> None:
        self.url = url  # for a connection of one's own, such as a Listener's
        self.timeout_s = timeout_s
        self._slots = trio.Semaphore(size)
        self._idle: list[_TrioConnection] = []

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Runs `work(connection)` in one transaction: commits when it returns, rolls back
        when it raises. Once started it finishes even if the caller is cancelled (a protocol
        exchange cut in half would leave the connection unusable), as a statement would."""
        return await self._use(work, transaction=True)

    async def autocommit(self, work: Callable[[Connection], T]) -> T:
        """Runs `work(connection)` outside a transaction: each statement (or pipeline) commits
        by itself and sees what has committed when it runs. For reads that need no snapshot
        across statements, and for writes that are one statement (execute_together); it
        saves the BEGIN and COMMIT round trips."""
        return await self._use(work, transaction=False)

    async def _use(self, work: Callable[[Connection], T], *, transaction: bool) -> T:
        try:
            self._slots.acquire_nowait()  # (a cancel scope costs more than the query's send)
            _POOL_WAIT.observe(0.0)
        except trio.WouldBlock:
            started = trio.current_time()
            with trio.move_on_after(self.timeout_s) as waited:
                await self._slots.acquire()
            _POOL_WAIT.observe(trio.current_time() - started)
            if waited.cancelled_caught:
                raise DatabaseUnavailable("every connection stayed busy") from None
        try:
            connection = await self._connection()

            def in_transaction() -> T:
                with connection.transaction():  # rolled back if `work` raises
                    return work(connection)

            try:
                with trio.CancelScope(shield=True):
                    result: T = await greenback.with_portal_run_sync(
                        in_transaction if transaction else partial(work, connection)
                    )
            finally:
                if connection.broken or connection.pgconn.transaction_status != _IDLE:
                    connection.close()
                else:
                    self._idle.append(connection)
        finally:
            self._slots.release()
        return result

    async def _connection(self) -> _TrioConnection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        try:
            # Connecting blocks in libpq's own waits: a worker thread, once per connection.
            # Autocommit: a transaction is begun only where one is asked for (run).
            connection = await trio.to_thread.run_sync(
                partial(
                    _TrioConnection.connect,
                    self.url,
                    autocommit=True,
                    connect_timeout=max(1, round(self.timeout_s)),
                )
            )
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable(str(error).strip().splitlines()[0]) from None
        set_json_loads(_json_loads, connection)
        return connection

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


@asynccontextmanager
async def open_database(url: str, pool_size: int, timeout_s: float) -> AsyncIterator[Database]:
    """A pool of up to `pool_size` connections to `url`, closed on exit.

    `timeout_s` bounds how long a `run` waits for a free (or new) connection before it raises
    DatabaseUnavailable. Connections open lazily, so an unreachable database shows up as
    errors from `run` (and in /readyz), not as a failure here.
    """
    database = Database(url, pool_size, timeout_s)
    try:
        yield database
    finally:
        database.close()


class Listener:
    """A connection of its own that LISTENs on one channel, waited on by Trio."""

    def __init__(self, connection: psycopg.Connection[tuple[object, ...]]) -> None:
        self._pgconn = connection.pgconn

    async def wait(self, timeout_s: float) -> bool:
        """True once a notification has arrived (all that arrived are consumed), False after
        `timeout_s` without one. psycopg.OperationalError if the connection is lost."""
        with trio.move_on_after(timeout_s):
            while True:
                self._pgconn.consume_input()
                notified = False
                while self._pgconn.notifies() is not None:
                    notified = True
                if notified:
                    return True
                await trio.lowlevel.wait_readable(self._pgconn.socket)
        return False


@asynccontextmanager
async def open_listener(url: str, channel: str, timeout_s: float) -> AsyncIterator[Listener]:
    """A Listener on `channel`, LISTENing before it is yielded; closed on exit."""

    def connect() -> psycopg.Connection[tuple[object, ...]]:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(timeout_s)))
        connection.execute(f'LISTEN "{channel}"')
        return connection

    try:
        connection = await trio.to_thread.run_sync(connect)
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(str(error).strip().splitlines()[0]) from None
    try:
        yield Listener(connection)
    finally:
        connection.close()
