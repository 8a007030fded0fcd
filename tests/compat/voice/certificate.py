"""A self-signed certificate for 127.0.0.1, made for one test. The voice gateway serves it
(TRIOXIDE_VOICE_TLS_CERT and _KEY) and the libraries trust it the way their users would: an
`ssl` context on discord.py's and hikari's connectors, NODE_EXTRA_CA_CERTS for Node."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class Certificate:
    cert_path: Path
    key_path: Path

    def client_context(self) -> ssl.SSLContext:
        """Verifies servers (hostname included) against this certificate alone."""
        return ssl.create_default_context(cafile=str(self.cert_path))


def make_certificate(folder: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Trioxide compat voice")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    found = Certificate(folder / "voice-cert.pem", folder / "voice-key.pem")
    found.cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    found.key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return found
