"""A Trioxide for the voice scenario: one process serving every role (API, gateway, voice,
worker) pinned to the first core alone, the generator on the others; its voice gateway's TLS
certificate made here (as a voice node makes its own, gateway/voice/tls.py), so the bench can
trust it."""

from __future__ import annotations

import os
import socket
import tempfile
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bench.server import running_server
from gateway.voice.tls import find_certificate

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bench.tool import Options

ROLES = "api,gateway,voice,worker"


def free_voice_port() -> int:
    """A loopback port free for both TCP (the voice gateway) and UDP (the SFU)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise OSError("no loopback port free for both TCP and UDP")


@asynccontextmanager
async def started_voice_server(options: Options) -> AsyncIterator[Options]:
    """`trioxide serve` with every role, pinned to the first core (its embedded PostgreSQL,
    a child, too: idle while media flows); the options to load it, the generator's cores set
    to the others."""
    cores = sorted(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="trioxide-bench-voice-") as folder:
        made = find_certificate(Path(folder), "127.0.0.1", None, None)
        env = {
            "TRIOXIDE_VOICE_ADDR": f"127.0.0.1:{free_voice_port()}",
            "TRIOXIDE_VOICE_TLS_CERT": str(made.cert_path),
            "TRIOXIDE_VOICE_TLS_KEY": str(made.key_path),
        }
        async with running_server(ROLES, env, cpu=cores[0]) as server:
            yield replace(
                options,
                api_url=server.api_url,
                gateway_url=server.gateway_url,
                api_pid=server.pid,
                gateway_pid=server.pid,
                generator_cpus=tuple(cores[1:]) or tuple(cores),
                voice_ca=str(made.cert_path),
            )
