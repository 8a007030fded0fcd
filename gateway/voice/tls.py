"""The voice gateway's TLS: both libraries hard-code `wss://{endpoint}`, so voice signalling
is TLS or nothing.

With TRIOXIDE_VOICE_TLS_CERT/_KEY the operator's certificate is used. Without them a
self-signed one is generated once into the data dir and kept (clients trust that file: an
`ssl` context for discord.py, NODE_EXTRA_CA_CERTS for Node), and generated again only when it
no longer names the public host or is about to expire.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from pathlib import Path

_VALID_FOR = datetime.timedelta(days=3650)
_RENEW_BEFORE = datetime.timedelta(days=30)
_DIRECTORY = "voice-tls"


@dataclass(frozen=True, slots=True)
class Certificate:
    cert_path: Path
    key_path: Path
    generated: bool  # ours (self-signed, in the data dir), not the operator's


def server_context(certificate: Certificate) -> ssl.SSLContext:
    """A server context for the certificate: TLS 1.2 or later."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate.cert_path, certificate.key_path)
    return context


def find_certificate(
    data_dir: Path, host: str, cert_path: Path | None, key_path: Path | None
) -> Certificate:
    """The operator's certificate when given, else the data dir's own for `host` (made now if
    it is missing, does not name `host`, or expires within a month). Blocking file I/O: run it
    in a thread."""
    if cert_path is not None and key_path is not None:
        return Certificate(cert_path, key_path, generated=False)
    directory = data_dir / _DIRECTORY
    found = Certificate(directory / "cert.pem", directory / "key.pem", generated=True)
    if not _usable(found, host):
        _generate(found, host)
    return found


def _usable(found: Certificate, host: str) -> bool:
    if not (found.cert_path.exists() and found.key_path.exists()):
        return False
    try:
        certificate = x509.load_pem_x509_certificate(found.cert_path.read_bytes())
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        key = serialization.load_pem_private_key(found.key_path.read_bytes(), password=None)
    except (ValueError, TypeError, x509.ExtensionNotFound):
        return False
    if key.public_key() != certificate.public_key():  # a pair half replaced
        return False
    now = datetime.datetime.now(datetime.UTC)
    if certificate.not_valid_after_utc - now < _RENEW_BEFORE:
        return False
    if _is_ca(certificate):  # made before certificates were leaves: it could sign for others
        return False
    return _name_for(host) in names.value


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _name_for(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _generate(found: Certificate, host: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    names = {
        _name_for(host),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    }
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Trioxide voice ({host})")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks a little behind
        .not_valid_after(now + _VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(sorted(names, key=str)), critical=False)
        # A leaf, not a CA: clients trust this very file (NODE_EXTRA_CA_CERTS, an `ssl`
        # context's cafile), and a CA there could vouch for any host. OpenSSL (Node, Python,
        # strict mode included) and webpki accept a self-signed leaf as its own anchor.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    found.cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The key is written readable by its owner alone; each file moves into place whole. A
    # crash between the two moves leaves a key that does not match the certificate, which
    # the next start sees and makes a new pair.
    key_tmp = found.key_path.with_suffix(".tmp")
    descriptor = os.open(key_tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key_pem)
    cert_tmp = found.cert_path.with_suffix(".tmp")
    cert_tmp.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    os.replace(key_tmp, found.key_path)
    os.replace(cert_tmp, found.cert_path)
