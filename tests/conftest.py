"""Shared fixtures: a real PostgreSQL for the whole run, and fresh databases on it.

The server is TEST_DATABASE_URL when set, else an embedded PostgreSQL in a temporary folder.
Every run creates its own databases and drops them at the end.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import threading
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
import trio
from psycopg.conninfo import make_conninfo

from bench.server import redis_server
from core.config import Settings, load_settings
from core.relay import run_relay
from core.store.database import Database, open_database
from core.store.embedded_postgres import start_embedded_postgres
from core.store.migrations import apply_migrations, load_migrations
from core.store.redis import Redis, open_redis
from gateway.server import Gateway, GatewayLimits
from tests.running import ApiClient, running_api

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A connection string with the right to create databases."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    server = start_embedded_postgres(tmp_path_factory.mktemp("postgres"))
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """An empty database of its own, dropped on exit."""
    name = f"trioxide_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(admin_url, dbname=name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(postgres_admin_url: str) -> Iterator[str]:
    """A database with every migration applied, shared by the run's tests."""
    with fresh_database(postgres_admin_url) as url:
        apply_migrations(url, load_migrations())
        yield url


@pytest.fixture
def empty_database_url(postgres_admin_url: str) -> Iterator[str]:
    """A database of this test's own with nothing in it."""
    with fresh_database(postgres_admin_url) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings on free loopback ports, with a data folder of this test's own."""
    return load_settings(
        {
            "TRIOXIDE_API_ADDR": "127.0.0.1:0",
            "TRIOXIDE_GATEWAY_ADDR": "127.0.0.1:0",
            "TRIOXIDE_VOICE_ADDR": "127.0.0.1:0",
            "TRIOXIDE_DATA_DIR": str(tmp_path / "data"),
            "TRIOXIDE_SHUTDOWN_GRACE_S": "1",
            "TRIOXIDE_JWT_KEYS": f"test:{secrets.token_urlsafe(32)}",
            # Tests register many users from one address; the rate-limit tests turn this on.
            "TRIOXIDE_RATE_LIMITS": "off",
        }
    )


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis for the whole run: TEST_REDIS_URL when set, else one of this run's own."""
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        yield given
        return
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@dataclass(frozen=True, slots=True)
class S3Server:
    """An S3-compatible server of this run's own, and the folder it keeps objects in."""

    endpoint: str
    root: Path
    access_key_id: str = "trioxide-test"
    secret_access_key: str = "trioxide-test-secret"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """s3s-fs (a real S3 implementation over a folder, checking SigV4 signatures) on a free
    loopback port; `make test` builds it into .tools/."""
    binary = Path(__file__).parent.parent / ".tools" / "bin" / "s3s-fs"
    assert binary.exists(), "s3s-fs is not built: `make test` builds it"
    root = tmp_path_factory.mktemp("s3")
    server = S3Server("", root)
    process = subprocess.Popen(
        [
            str(binary),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--access-key",
            server.access_key_id,
            "--secret-key",
            server.secret_access_key,
            str(root),
        ],
        env={**os.environ, "RUST_LOG": "info", "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:  # ends if the server dies
            _, found, address = line.partition("server is running at ")
            if found:
                break
        assert process.poll() is None, "s3s-fs exited during start-up"
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield dataclasses.replace(server, endpoint=address.strip())
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    async with open_redis(redis_url) as client:
        yield client


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url, pool_size=4, timeout_s=5) as database:
        yield database


@pytest.fixture
async def api(settings: Settings, db: Database) -> AsyncIterator[ApiClient]:
    async with running_api(settings, db) as client:
        yield client


@asynccontextmanager
async def running_gateway(
    api: ApiClient, limits: GatewayLimits | None = None
) -> AsyncIterator[str]:
    """The gateway and the relay beside a test's API, sharing its services; its ws:// URL."""
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(run_relay, api.services.db, api.services.bus)
        url: str = await nursery.start(partial(Gateway(api.services, limits).serve, shutdown))
        yield url
        shutdown.set()
        nursery.cancel_scope.cancel()


@pytest.fixture
async def gateway(api: ApiClient) -> AsyncIterator[str]:
    async with running_gateway(api) as url:
        yield url
