"""A Trioxide server in its own process, for benchmarks: started, waited for, stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path


@dataclass(frozen=True)
class RunningServer:
    api_url: str  # "" when the process serves no API
    gateway_url: str  # "" when it serves no gateway
    pid: int
    database_url: str  # the server's own database, for seeding benchmark data
    process: trio.Process


async def read_log_until(process: trio.Process, lines: list[dict[str, object]], until: str) -> None:
    """Appends the server's JSON log lines to `lines` until one whose msg is `until`.
    Reads whole lines only, so it can be called again for a later message."""
    assert process.stdout is not None
    buffer = b""
    while True:
        chunk = await process.stdout.receive_some()
        if not chunk:
            raise RuntimeError(f"the server exited before logging {until!r}: {lines[-3:]}")
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            lines.append(json.loads(line))
            if lines[-1]["msg"] == until:
                return


async def _drain(process: trio.Process) -> None:
    """Keeps reading the server's log so a full pipe never blocks it."""
    assert process.stdout is not None
    while await process.stdout.receive_some():
        pass


@asynccontextmanager
async def running_server(
    roles: str = "api", env: dict[str, str] | None = None, cpu: int | None = None
) -> AsyncIterator[RunningServer]:
    """`trioxide serve --roles ROLES` on free loopback ports, with rate limits off and its own
    data folder (embedded PostgreSQL) unless DATABASE_URL is set. `cpu` pins it to one core.
    Stopped with SIGTERM on exit, unless it is gone already (a test may kill it)."""
    with tempfile.TemporaryDirectory(prefix="trioxide-bench-") as data_dir:
        server_env = {
            **os.environ,
            "TRIOXIDE_API_ADDR": "127.0.0.1:0",
            "TRIOXIDE_GATEWAY_ADDR": "127.0.0.1:0",
            "TRIOXIDE_DATA_DIR": data_dir,
            "TRIOXIDE_RATE_LIMITS": "off",
            "TRIOXIDE_LOG_FORMAT": "json",
            "TRIOXIDE_LOG_LEVEL": "info",
            **(env or {}),
        }
        command = [sys.executable, "-m", "trioxide", "serve", "--roles", roles]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        process = await trio.lowlevel.open_process(command, env=server_env, stdout=subprocess.PIPE)
        try:
            log: list[dict[str, object]] = []
            with trio.fail_after(60):
                await read_log_until(process, log, "ready")
            found = {str(line["msg"]): line for line in log}
            api_urls = found.get("api listening", {}).get("urls")
            gateway_url = found.get("gateway listening", {}).get("url", "")
            # The embedded PostgreSQL listens on a socket in its data folder.
            database_url = server_env.get("DATABASE_URL") or (
                f"postgresql://postgres@/trioxide?host={data_dir}/postgres"
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_drain, process)
                yield RunningServer(
                    str(api_urls[0]) if isinstance(api_urls, list) else "",
                    str(gateway_url),
                    process.pid,
                    database_url,
                    process,
                )
                nursery.cancel_scope.cancel()
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                with trio.move_on_after(15):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
            await process.wait()


@contextmanager
def redis_server(folder: Path, cpu: int | None = None) -> Iterator[str]:
    """A redis-server of its own on a Unix socket in `folder` (no port to race for),
    persisting nothing; yields its URL once it accepts connections, stops it on exit.
    `cpu` pins it to one core."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (`make test` installs it)")
    socket_path = folder / "redis.sock"
    pinned = [] if cpu is None else ["taskset", "-c", str(cpu)]
    server = subprocess.Popen(
        [
            *pinned,
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    try:
        # Redis 7.0 says "now ready to accept connections at …", later ones "Ready to accept …".
        for line in server.stdout:  # ends if the server dies
            if "ready to accept connections" in line.lower():
                break
        if server.poll() is not None:
            raise RuntimeError("redis-server exited during start-up")
        # Keep reading its log so a full pipe never blocks it.
        threading.Thread(target=server.stdout.read, daemon=True).start()
        yield f"unix://{socket_path}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()
