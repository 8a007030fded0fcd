"""An embedded PostgreSQL (the `pgserver` wheel) for when DATABASE_URL is unset.

It listens only on a Unix socket inside the data folder, never on a TCP port. Several processes
pointed at one data folder share one server; the last one out stops it.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import psycopg
import trio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from pgserver.postgres_server import PostgresServer

_log = logging.getLogger(__name__)

DATABASE_NAME = "trioxide"


def start_embedded_postgres(pgdata: Path) -> PostgresServer:
    """Starts (or joins) the server in `pgdata`, creating the `trioxide` database on first
    start. Blocking: call through a worker thread. `cleanup()` on the result releases it."""
    # pgserver picks a lock folder at import time and warns when XDG_RUNTIME_DIR is unset; the
    # fallback it picks is fine for a server that lives as long as this process.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    pgdata.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if exists is None:
            connection.execute(f"CREATE DATABASE {DATABASE_NAME}")
    return server


@asynccontextmanager
async def open_embedded_postgres(data_dir: Path) -> AsyncIterator[str]:
    """Starts (or joins) the PostgreSQL kept in `data_dir/postgres` and yields its URL.

    On exit, stops it unless another process still uses it. The stop is shielded from
    cancellation, so Ctrl-C never leaves a server behind.
    """
    pgdata = (data_dir / "postgres").resolve()
    server = await trio.to_thread.run_sync(start_embedded_postgres, pgdata)
    _log.info("embedded postgresql ready", extra={"pgdata": str(pgdata)})
    try:
        yield server.get_uri(DATABASE_NAME)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(server.cleanup)
        _log.info("embedded postgresql released")
