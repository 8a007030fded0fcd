"""An embedded PostgreSQL (the `pgserver` wheel) for when DATABASE_URL is unset.

It listens only on a Unix socket inside the data folder, never on a TCP port. Several processes
pointed at one data folder share one server; the last one out stops it.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import trio

if TYPE_CHECKING:
    from pgserver import PostgresServer

_log = logging.getLogger(__name__)

DATABASE_NAME = "trioxide"


def _start(pgdata: Path) -> PostgresServer:
    # pgserver picks a lock folder at import time and warns when XDG_RUNTIME_DIR is unset; the
    # fallback it picks is fine for a server that lives as long as this process.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
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
    server = await trio.to_thread.run_sync(_start, pgdata)
    _log.info("embedded postgresql ready", extra={"pgdata": str(pgdata)})
    try:
        yield server.get_uri(DATABASE_NAME)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(server.cleanup)
        _log.info("embedded postgresql released")
