"""The database driver choice, measured: a one-statement transaction through psycopg on a
worker thread (the usual way from Trio) beside the same through core/store/database.py, which
drives psycopg's waits with Trio itself. Sequential and at 32 concurrent tasks, pool of 8.

Usage: python -m bench.database [--transactions N]
"""

from __future__ import annotations

import argparse
import time

import psycopg
import trio

from bench.server import running_server
from core.store.database import open_database

POOL = 8
TASKS = 32


async def through_threads(url: str, transactions: int, tasks: int) -> tuple[float, float]:
    connections = [await trio.to_thread.run_sync(lambda: psycopg.connect(url)) for _ in range(POOL)]
    free = trio.Semaphore(POOL)

    def one(connection: psycopg.Connection[tuple[object, ...]]) -> None:
        connection.execute("SELECT 1").fetchone()
        connection.commit()

    async def worker(count: int) -> None:
        for _ in range(count):
            async with free:
                connection = connections.pop()
                try:
                    await trio.to_thread.run_sync(one, connection)
                finally:
                    connections.append(connection)

    try:
        return await _timed(worker, transactions, tasks)
    finally:
        for connection in connections:
            connection.close()


async def through_trio(url: str, transactions: int, tasks: int) -> tuple[float, float]:
    async with open_database(url, POOL, 5) as db:

        async def worker(count: int) -> None:
            for _ in range(count):
                await db.run(lambda c: c.execute("SELECT 1").fetchone())

        return await _timed(worker, transactions, tasks)


async def _timed(worker: object, transactions: int, tasks: int) -> tuple[float, float]:
    """Transactions per second, and this process's CPU per transaction in µs."""
    cpu, start = time.process_time(), time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(tasks):
            nursery.start_soon(worker, transactions // tasks)  # type: ignore[arg-type]
    done = transactions // tasks * tasks
    return done / (time.perf_counter() - start), (time.process_time() - cpu) / done * 1e6


async def main(transactions: int) -> None:
    lines = []
    async with running_server() as server:
        for tasks in (1, TASKS):
            for name, way in (("worker threads", through_threads), ("Trio-driven", through_trio)):
                rate, cpu_us = await way(server.database_url, transactions, tasks)
                lines.append(f"{name}, {tasks} tasks: {rate:.0f} tx/s, {cpu_us:.0f} µs CPU/tx")
    print("database: " + " | ".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=4000)
    trio.run(main, parser.parse_args().transactions)
