"""/healthz and /readyz over a real socket, against a real PostgreSQL."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import psycopg
import trio

from api import serve_api
from core.store.database import Database, open_database
from core.store.migrations import load_migrations

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from core.config import Settings


@asynccontextmanager
async def running_api(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(serve_api, settings, db, load_migrations(), shutdown)
        async with httpx.AsyncClient(base_url=urls[0]) as client:
            yield client
        shutdown.set()


async def test_healthz_answers_while_serving(settings: Settings, db: Database) -> None:
    async with running_api(settings, db) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_when_the_schema_is_current(settings: Settings, db: Database) -> None:
    async with running_api(settings, db) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_readyz_is_503_with_the_reason_when_migrations_are_pending(
    settings: Settings, empty_database_url: str
) -> None:
    async with (
        open_database(empty_database_url, pool_size=2, timeout_s=5) as db,
        running_api(settings, db) as client,
    ):
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "reason": "no migrations applied; run `trioxide migrate`",
    }
    with psycopg.connect(empty_database_url) as connection:  # readiness changed nothing
        assert connection.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)


async def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    # Port 1 on loopback: nothing listens there, so every connection attempt is refused.
    unreachable = "postgresql://trioxide@127.0.0.1:1/trioxide?connect_timeout=1"
    async with (
        open_database(unreachable, pool_size=1, timeout_s=0.2) as db,
        running_api(settings, db) as client,
    ):
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": "database unreachable (PoolTimeout)"}
    assert alive.status_code == 200


async def test_unknown_route_gets_discords_error_body(settings: Settings, db: Database) -> None:
    async with running_api(settings, db) as client:
        missing = await client.get("/api/v10/nothing-here")
        wrong_method = await client.delete("/healthz")
    assert missing.status_code == 404
    assert missing.json() == {"code": 0, "message": "404: Not Found"}
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"code": 0, "message": "405: Method Not Allowed"}
