"""The fault-test harness: a PostgreSQL and a redis-server of each test's own (see servers.py),
started before the test and stopped after it, whatever state the test left them in."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.faults.servers import OwnPostgres, OwnRedis

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[OwnPostgres]:
    """A PostgreSQL of this test's own, started, with a `trioxide` database; stopped (at
    once) on exit, whatever state the test left it in."""
    server = OwnPostgres(tmp_path / "postgres")
    server.init()
    server.start()
    try:
        server.create_database("trioxide")
        yield server
    finally:
        if (server.pgdata / "postmaster.pid").exists():
            server.stop_immediately()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A redis-server of this test's own, started; killed on exit."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = OwnRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
