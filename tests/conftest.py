"""Shared fixtures: a real PostgreSQL for the whole run, and fresh databases on it.

The server is TEST_DATABASE_URL when set, else an embedded PostgreSQL in a temporary folder.
Every run creates its own databases and drops them at the end.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from core.config import Settings, load_settings
from core.store.database import Database, open_database
from core.store.embedded_postgres import start_embedded_postgres
from core.store.migrations import apply_migrations, load_migrations
from tests.running import ApiClient, running_api

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path


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


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url, pool_size=4, timeout_s=5) as database:
        yield database


@pytest.fixture
async def api(settings: Settings, db: Database) -> AsyncIterator[ApiClient]:
    async with running_api(settings, db) as client:
        yield client
