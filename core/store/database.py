"""PostgreSQL from Trio: psycopg 3's synchronous pool, driven through worker threads.

No PostgreSQL driver is Trio-native. Measured on this machine class (ARCHITECTURE.md), psycopg 3
through `trio.to_thread` did about twice the work of asyncpg through trio-asyncio under
concurrency, so it is the choice; callers see only `Database.run`, so it can change here alone.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import psycopg
import trio
from psycopg_pool import ConnectionPool

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

T = TypeVar("T")

Connection = psycopg.Connection[tuple[object, ...]]


class Database:
    """A pool of PostgreSQL connections. Each `run` borrows one in a worker thread."""

    def __init__(self, pool: ConnectionPool[Connection], pool_size: int) -> None:
        self._pool = pool
        # No more threads than connections: a thread waiting inside the pool would hold a
        # worker thread for nothing.
        self._limiter = trio.CapacityLimiter(pool_size)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Runs `work(connection)` in one transaction: commits when it returns, rolls back
        when it raises. Cancellation waits for the statement in flight (the thread cannot be
        interrupted), so the connection always returns to the pool clean.
        """

        def in_transaction() -> T:
            with self._pool.connection() as connection:
                return work(connection)

        return await trio.to_thread.run_sync(in_transaction, limiter=self._limiter)


@asynccontextmanager
async def open_database(url: str, pool_size: int, timeout_s: float) -> AsyncIterator[Database]:
    """A pool of up to `pool_size` connections to `url`, closed on exit.

    `timeout_s` bounds how long a `run` waits for a free (or new) connection before it raises
    psycopg_pool.PoolTimeout. Connections open lazily, so an unreachable database shows up as
    errors from `run` (and in /readyz), not as a failure here.
    """
    pool: ConnectionPool[Connection] = ConnectionPool(
        url,
        min_size=1,
        max_size=pool_size,
        timeout=timeout_s,
        open=False,
        name="trioxide",
    )
    await trio.to_thread.run_sync(lambda: pool.open(wait=False))
    try:
        yield Database(pool, pool_size)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(pool.close)
