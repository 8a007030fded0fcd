"""The Trio-driven pool: transactions commit or roll back whole, a cancelled caller never
leaves a connection half-way through a protocol exchange, and a full pool says so in time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from core.store.database import DatabaseUnavailable, open_database

if TYPE_CHECKING:
    from core.store.database import Connection, Database


class Failed(Exception):
    pass


async def test_work_that_raises_is_rolled_back_and_the_connection_reused(db: Database) -> None:
    await db.run(lambda c: c.execute("CREATE TABLE IF NOT EXISTS db_probe (n int)"))

    def insert_then_fail(connection: Connection) -> None:
        connection.execute("INSERT INTO db_probe VALUES (1)")
        raise Failed

    with pytest.raises(Failed):
        await db.run(insert_then_fail)
    row = await db.run(lambda c: c.execute("SELECT count(*) FROM db_probe").fetchone())
    assert row == (0,)


async def test_a_cancelled_caller_lets_the_statement_finish(db: Database) -> None:
    finished = trio.Event()

    def slow(connection: Connection) -> None:
        connection.execute("SELECT pg_sleep(0.2)")
        finished.set()

    with trio.move_on_after(0.05):
        await db.run(slow)
    assert finished.is_set()  # shielded: the exchange completed before the cancel landed
    row = await db.run(lambda c: c.execute("SELECT 42").fetchone())
    assert row == (42,)


async def test_a_busy_pool_answers_unavailable_within_its_timeout(database_url: str) -> None:
    async with open_database(database_url, pool_size=1, timeout_s=0.1) as small:
        started = trio.Event()

        def hold(connection: Connection) -> None:
            started.set()
            connection.execute("SELECT pg_sleep(0.5)")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(small.run, hold)
            await started.wait()
            with pytest.raises(DatabaseUnavailable):
                await small.run(lambda c: c.execute("SELECT 1").fetchone())


async def test_many_tasks_share_few_connections(db: Database) -> None:
    results: list[object] = []

    async def ask(n: int) -> None:
        results.append(await db.run(lambda c: c.execute("SELECT %s::int", (n,)).fetchone()))

    async with trio.open_nursery() as nursery:
        for n in range(50):
            nursery.start_soon(ask, n)
    assert sorted(results) == [(n,) for n in range(50)]  # type: ignore[type-var]
