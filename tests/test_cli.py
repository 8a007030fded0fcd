"""The `trioxide` command as an operator runs it: a real process, real signals, real ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest
import trio

from bench.server import read_log_until
from core import config
from core.domain.tokens import hash_token

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


def environment(**overrides: str) -> dict[str, str]:
    """This process's environment without Trioxide's variables, plus `overrides`."""
    ours = {variable.name for variable in config.VARIABLES}
    env = {key: value for key, value in os.environ.items() if key not in ours}
    env.update(overrides)
    return env


def trioxide(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trioxide", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_port_exits_2_naming_the_variable_and_starts_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = environment(TRIOXIDE_API_ADDR="127.0.0.1:notaport", TRIOXIDE_DATA_DIR=str(data_dir))
    result = trioxide("serve", env=env)
    assert result.returncode == 2
    assert "TRIOXIDE_API_ADDR" in result.stderr
    assert "0 to 65535" in result.stderr
    assert result.stdout == ""
    assert not data_dir.exists(), "nothing was started, so nothing was created"


def test_unknown_role_exits_2(tmp_path: Path) -> None:
    result = trioxide("serve", "--roles", "api,chat", env=environment())
    assert result.returncode == 2
    assert "--roles: unknown role 'chat'" in result.stderr


def test_help_lists_every_variable_with_its_default() -> None:
    result = trioxide("--help", env=environment())
    assert result.returncode == 0
    for variable in config.VARIABLES:
        assert variable.name in result.stdout
    assert "[127.0.0.1:8080]" in result.stdout


def test_migrate_applies_the_schema(empty_database_url: str) -> None:
    result = trioxide("migrate", env=environment(DATABASE_URL=empty_database_url))
    assert result.returncode == 0, result.stderr
    with psycopg.connect(empty_database_url) as connection:
        assert connection.execute("SELECT count(*) FROM instance").fetchone() == (1,)


def test_unreachable_database_exits_1_with_one_clear_line() -> None:
    # Port 1 on loopback: nothing listens there.
    env = environment(DATABASE_URL="postgresql://trioxide@127.0.0.1:1/trioxide?connect_timeout=2")
    for command in ("migrate", "serve"):
        result = trioxide(command, env=env)
        assert result.returncode == 1
        assert result.stderr.startswith("trioxide: cannot reach the database: ")
        assert "Traceback" not in result.stderr


def test_edited_migration_stops_serve_with_exit_1(empty_database_url: str) -> None:
    env = environment(DATABASE_URL=empty_database_url)
    assert trioxide("migrate", env=env).returncode == 0
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        connection.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    result = trioxide("serve", env=env)
    assert result.returncode == 1
    assert "0001_instance.sql was edited after it was applied" in result.stderr
    assert "Traceback" not in result.stderr


def test_registration_code_create_prints_a_code_stored_only_hashed(empty_database_url: str) -> None:
    env = environment(DATABASE_URL=empty_database_url)
    result = trioxide("registration-code", "create", "--uses", "3", "--ttl", "2h", env=env)
    assert result.returncode == 0, result.stderr
    code = result.stdout.strip()
    assert len(code) >= 24
    with psycopg.connect(empty_database_url) as connection:
        rows = connection.execute(
            "SELECT code_hash, uses_left, expires_at - created_at FROM registration_codes"
        ).fetchall()
    assert len(rows) == 1
    code_hash, uses_left, lifetime = rows[0]
    assert bytes(code_hash) == hash_token(code)
    assert code.encode() not in bytes(code_hash)
    assert uses_left == 3
    assert abs(lifetime.total_seconds() - 7200) < 60


@pytest.mark.parametrize("arguments", [["--uses", "0"], ["--ttl", "soon"], ["--ttl", "0h"]])
def test_registration_code_create_refuses_bad_arguments(arguments: list[str]) -> None:
    result = trioxide("registration-code", "create", *arguments, env=environment())
    assert result.returncode == 2
    assert "registration-code create: error" in result.stderr


@dataclass
class Server:
    process: trio.Process
    api_url: str
    log: list[dict[str, object]] = field(default_factory=list)


@asynccontextmanager
async def serving(env: dict[str, str]) -> AsyncIterator[Server]:
    env = {**env, "TRIOXIDE_API_ADDR": "127.0.0.1:0", "TRIOXIDE_LOG_FORMAT": "json"}
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "trioxide", "serve"], env=env, stdout=subprocess.PIPE
    )
    try:
        log: list[dict[str, object]] = []
        # Slow on purpose: a first start on a fresh data folder runs initdb.
        with trio.fail_after(60):
            await read_log_until(process, log, until="ready")
        (urls,) = [line["urls"] for line in log if line["msg"] == "api listening"]
        assert isinstance(urls, list)
        yield Server(process, str(urls[0]), log)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def stop(server: Server, signum: signal.Signals) -> int:
    server.process.send_signal(signum)
    with trio.fail_after(30):
        await read_log_until(server.process, server.log, until="stopped")
        return await server.process.wait()


async def test_serve_answers_readyz_then_stops_cleanly_on_sigterm(database_url: str) -> None:
    async with serving(environment(DATABASE_URL=database_url)) as server:
        async with httpx.AsyncClient(base_url=server.api_url) as client:
            ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert await stop(server, signal.SIGTERM) == 0


async def test_serve_with_redis_is_ready_and_stops_cleanly(
    database_url: str, redis_url: str
) -> None:
    async with serving(environment(DATABASE_URL=database_url, REDIS_URL=redis_url)) as server:
        async with httpx.AsyncClient(base_url=server.api_url) as client:
            ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert await stop(server, signal.SIGTERM) == 0


async def test_serve_with_embedded_postgres_migrates_serves_and_stops_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = environment(TRIOXIDE_DATA_DIR=str(data_dir))
    for _ in range(2):  # the second start reuses the data folder and its schema
        async with serving(env) as server:
            async with httpx.AsyncClient(base_url=server.api_url) as client:
                ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert await stop(server, signal.SIGINT) == 0
        assert not (data_dir / "postgres" / "postmaster.pid").exists(), "postgres was stopped"
    applied = [line for line in server.log if line["msg"] == "migration applied"]
    assert applied == [], "the second start found the schema current"
