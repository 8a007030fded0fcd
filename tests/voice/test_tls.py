"""The generated certificate is a self-signed leaf, not a CA: a client that trusts the file (an
`ssl` context's cafile, Node's NODE_EXTRA_CA_CERTS) trusts this server and nothing its key
might sign for another host. Checked over real TLS sockets with Python's strict verifier and,
where Node is installed, with Node's."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
from functools import partial
from typing import TYPE_CHECKING

import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.voice.tls import Certificate, find_certificate, server_context
from tests.voice.client import trusting

if TYPE_CHECKING:
    from pathlib import Path

# A TLS client in Node: prints "authorized" or the verification error's code.
_NODE_CLIENT = """
const tls = require("node:tls");
const socket = tls.connect({ host: "127.0.0.1", port: Number(process.argv[1]) }, () => {
  console.log("authorized");
  socket.end();
});
socket.on("error", (error) => { console.log(error.code || error.message); });
"""


def _load(certificate: Certificate) -> x509.Certificate:
    return x509.load_pem_x509_certificate(certificate.cert_path.read_bytes())


def _signed_for_another_host(made: Certificate, folder: Path) -> Certificate:
    """A certificate for evil.example issued by `made` with its key: what a CA could do."""
    issuer = _load(made)
    key = serialization.load_pem_private_key(made.key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    now = datetime.datetime.now(datetime.UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil.example")]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("evil.example")]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    folder.mkdir()
    found = Certificate(folder / "cert.pem", folder / "key.pem", generated=False)
    found.cert_path.write_bytes(forged.public_bytes(serialization.Encoding.PEM))
    found.key_path.write_bytes(made.key_path.read_bytes())
    return found


async def _serving(
    certificate: Certificate, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """A TLS listener on loopback serving `certificate`; reports its port."""
    context = server_context(certificate)

    async def handshake(stream: trio.SSLStream[trio.SocketStream]) -> None:
        try:
            await stream.do_handshake()
            await stream.send_all(b"hello")
        except trio.BrokenResourceError:
            pass  # the client refused us
        finally:
            await trio.aclose_forcefully(stream)

    (tcp,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = tcp.socket.getsockname()[1]
    listeners = [trio.SSLListener(tcp, context)]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(trio.serve_listeners, handshake, listeners))
        task_status.started(port)


async def _python_verifies(trusted: Path, port: int) -> bool:
    """Whether a strict Python client trusting `trusted` completes a handshake; any other
    failure than a refused certificate fails the test."""
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    stream = trio.SSLStream(tcp, trusting(trusted), server_hostname="127.0.0.1")
    failure: BaseException | None = None
    try:
        with trio.fail_after(5):
            await stream.do_handshake()
    except trio.BrokenResourceError as failed:
        failure = failed.__cause__
    finally:
        await trio.aclose_forcefully(stream)
    if failure is None:
        return True
    assert isinstance(failure, ssl.SSLCertVerificationError)
    return False


def test_the_generated_certificate_is_a_leaf_that_can_sign_nothing(tmp_path: Path) -> None:
    made = _load(find_certificate(tmp_path, "127.0.0.1", None, None))
    constraints = made.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = made.extensions.get_extension_for_class(x509.KeyUsage)
    assert constraints.critical
    assert constraints.value.ca is False
    assert usage.critical
    assert usage.value.key_cert_sign is False
    assert usage.value.digital_signature is True
    assert made.issuer == made.subject  # its own anchor


def test_a_ca_certificate_generated_before_is_replaced(tmp_path: Path) -> None:
    old = find_certificate(tmp_path, "127.0.0.1", None, None)
    key = serialization.load_pem_private_key(old.key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    leaf = _load(old)
    builder = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(leaf.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(leaf.not_valid_before_utc)
        .not_valid_after(leaf.not_valid_after_utc)
        .add_extension(
            leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value,
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    )
    as_ca = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    old.cert_path.write_bytes(as_ca)
    again = find_certificate(tmp_path, "127.0.0.1", None, None)
    assert again.cert_path.read_bytes() != as_ca
    assert _load(again).extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


async def test_python_trusts_the_server_and_nothing_its_key_signs_for_others(
    tmp_path: Path,
) -> None:
    made = find_certificate(tmp_path / "data", "127.0.0.1", None, None)
    forged = _signed_for_another_host(made, tmp_path / "forged")
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(_serving, made)
        forged_port: int = await nursery.start(_serving, forged)
        assert await _python_verifies(made.cert_path, port)
        assert not await _python_verifies(made.cert_path, forged_port)
        nursery.cancel_scope.cancel()


# Node is there: `make test` installs it with the compat tests' JavaScript libraries.
async def test_node_trusts_it_through_node_extra_ca_certs_and_nothing_its_key_signs(
    tmp_path: Path,
) -> None:
    made = find_certificate(tmp_path / "data", "127.0.0.1", None, None)
    forged = _signed_for_another_host(made, tmp_path / "forged")
    env = {"PATH": "/usr/bin:/bin", "NODE_EXTRA_CA_CERTS": str(made.cert_path)}
    node = shutil.which("node")
    assert node is not None
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(_serving, made)
        forged_port: int = await nursery.start(_serving, forged)
        said = []
        for target in (port, forged_port):
            with trio.fail_after(20):
                ran = await trio.run_process(
                    [node, "-e", _NODE_CLIENT, str(target)], env=env, capture_stdout=True
                )
            said.append(ran.stdout.decode().split("\n")[0])
        nursery.cancel_scope.cancel()
    assert said[0] == "authorized"
    assert said[1] != "authorized"
