"""/healthz and /readyz over a real socket, against a real PostgreSQL."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING

import psycopg

from bench.server import redis_server
from core.store.database import Database, open_database
from core.store.migrations import Migration
from core.store.redis import open_redis
from tests.running import ApiClient, running_api

if TYPE_CHECKING:
    from pathlib import Path

    from core.config import Settings
    from core.services import Services


async def test_healthz_answers_while_serving(api: ApiClient) -> None:
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_when_the_schema_is_current(api: ApiClient) -> None:
    response = await api.http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_readyz_is_503_with_the_reason_when_migrations_are_pending(
    settings: Settings, db: Database, database_url: str
) -> None:
    # This build knows a migration the database has not had yet.
    newer = Migration(9999, "from_the_future", "SELECT 1", "0" * 64)

    def newer_build(found: Services) -> Services:
        return dataclasses.replace(found, migrations=[*found.migrations, newer])

    async with running_api(settings, db, newer_build) as api:
        response = await api.http.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "reason": "1 migration(s) pending: 9999_from_the_future.sql",
    }
    with psycopg.connect(database_url) as connection:  # readiness changed nothing
        recorded = connection.execute("SELECT max(version) FROM schema_migrations").fetchone()
    assert recorded is not None
    assert recorded[0] < 9999


async def test_readyz_is_503_when_the_database_becomes_unreachable(
    settings: Settings, db: Database
) -> None:
    # Port 1 on loopback: nothing listens there, so every connection attempt is refused.
    unreachable = "postgresql://trioxide@127.0.0.1:1/trioxide?connect_timeout=1"
    async with (
        open_database(unreachable, pool_size=1, timeout_s=0.2) as lost,
        running_api(settings, db, lambda found: dataclasses.replace(found, db=lost)) as api,
    ):
        ready = await api.http.get("/readyz")
        alive = await api.http.get("/healthz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "reason": "database unreachable (DatabaseUnavailable)",
    }
    assert alive.status_code == 200


async def test_unknown_route_gets_discords_error_body(api: ApiClient) -> None:
    missing = await api.http.get("/api/v10/nothing-here")
    wrong_method = await api.http.delete("/healthz")
    assert missing.status_code == 404
    assert missing.json() == {"code": 0, "message": "404: Not Found"}
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"code": 0, "message": "405: Method Not Allowed"}


async def test_readyz_is_503_when_redis_goes_away(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as redis_process:
        url = redis_process.enter_context(redis_server(tmp_path))
        async with open_redis(url) as redis, running_api(settings, db, redis=redis) as api:
            assert (await api.http.get("/readyz")).status_code == 200
            redis_process.close()  # the Redis server stops; the API keeps serving
            ready = await api.http.get("/readyz")
            alive = await api.http.get("/healthz")
    assert ready.status_code == 503
    assert ready.json()["reason"].startswith("redis unreachable")
    assert alive.status_code == 200
