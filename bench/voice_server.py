"""A Trioxide for the voice scenario: one process serving every role (API, gateway, voice,
worker) pinned to the first core alone, the generator on the others; its voice gateway's TLS
certificate made here, so the bench can trust it."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import tempfile
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bench.server import running_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bench.tool import Options

ROLES = "api,gateway,voice,worker"


def write_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day: (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trioxide-bench voice")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "voice-cert.pem", folder / "voice-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


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
        cert, key = write_certificate(Path(folder))
        env = {
            "TRIOXIDE_VOICE_ADDR": f"127.0.0.1:{free_voice_port()}",
            "TRIOXIDE_VOICE_TLS_CERT": str(cert),
            "TRIOXIDE_VOICE_TLS_KEY": str(key),
        }
        async with running_server(ROLES, env, cpu=cores[0]) as server:
            yield replace(
                options,
                api_url=server.api_url,
                gateway_url=server.gateway_url,
                api_pid=server.pid,
                gateway_pid=server.pid,
                generator_cpus=tuple(cores[1:]) or tuple(cores),
                voice_ca=str(cert),
            )
