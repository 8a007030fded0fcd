"""Servers a fault test can take down and bring back: a PostgreSQL (`pg_ctl stop -m
immediate`) and a redis-server (SIGKILL), each on a fixed loopback port, so that the Trioxide
processes using them find them again where they were. Their methods block: call them through
a worker thread from async code."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import psycopg


def _pgserver_folder() -> Path:
    # Found without importing pgserver, which warns at import when XDG_RUNTIME_DIR is unset.
    spec = importlib.util.find_spec("pgserver")
    assert spec is not None, "the pgserver wheel is not installed (`make setup` installs it)"
    assert spec.submodule_search_locations is not None
    return Path(next(iter(spec.submodule_search_locations)))


_PG_BIN = _pgserver_folder() / "pginstall" / "bin"
# PostgreSQL refuses to run as root; pgserver runs it as this user then, and so do we.
_PG_SYSTEM_USER = "pgserver"
_START_TIMEOUT_S = 30


def free_port() -> int:
    """A loopback port nothing listens on now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class OwnPostgres:
    """A PostgreSQL cluster in `folder` on a loopback TCP port (no Unix socket: a pytest path
    can be too long for one). Blocking methods: call them through a worker thread."""

    folder: Path
    port: int = field(default_factory=free_port)
    _user: str | None = None  # the system user it runs as, when we are root

    @property
    def pgdata(self) -> Path:
        return self.folder / "pgdata"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self.pgdata.mkdir(parents=True)
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(_PG_SYSTEM_USER)
            except KeyError:
                subprocess.run(["useradd", "-s", "/bin/false", _PG_SYSTEM_USER], check=True)
                entry = pwd.getpwnam(_PG_SYSTEM_USER)
            for folder in self.pgdata.parents:  # that user must reach the data folder
                folder.chmod(folder.stat().st_mode | 0o055)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            self._user = _PG_SYSTEM_USER
        self._pg(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=utf8",
            "--no-sync",  # a test's cluster: nothing to keep past the test
        )

    def start(self) -> None:
        """Starts the server and returns once it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            " -c fsync=off"  # a stop -m immediate is not a power cut: the OS keeps the writes
        )
        self._pg(
            "pg_ctl",
            "start",
            "-D",
            str(self.pgdata),
            "-w",
            "-t",
            str(_START_TIMEOUT_S),
            "-o",
            options,
            "-l",
            str(self.pgdata / "server.log"),
        )

    def stop_immediately(self) -> None:
        """`pg_ctl stop -m immediate`: every backend ends at once, nothing is shut down
        cleanly, and the next start recovers from the WAL as after a crash."""
        self._pg("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "immediate", "-w")

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')

    def _pg(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(_PG_BIN / program), *args],
            check=True,
            capture_output=True,
            timeout=_START_TIMEOUT_S + 10,
            user=self._user,
        )


@dataclass
class OwnRedis:
    """A redis-server on a fixed loopback port, persisting nothing, as Redis is often run for
    a cache and a bus: a restart loses every key. Blocking methods: call them through a
    worker thread."""

    folder: Path
    port: int = field(default_factory=free_port)
    _process: subprocess.Popen[str] | None = None
    _drain: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Starts it (again) on the same port; returns once it accepts connections."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (`make test` installs it)")
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        self._process = process
        # Redis 7.0 says "now ready to accept connections at …", later ones "Ready to accept …".
        for line in process.stdout:  # ends if the server dies
            if "ready to accept connections" in line.lower():
                break
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited during start-up (port {self.port})")
        # Keep reading its log so a full pipe never blocks it.
        self._drain = threading.Thread(target=process.stdout.read, daemon=True)
        self._drain.start()

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing saved, every connection cut."""
        assert self._process is not None
        assert self._process.stdout is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=10)
        if self._drain is not None:
            self._drain.join(timeout=10)  # the pipe ends with the process
        self._process.stdout.close()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self.kill()
