"""The voice gateway (v8): TLS WebSocket signalling on the voice address's TCP port, the SFU's
UDP socket on the same port number.

It binds both, registers its node with the Voice service, serves each socket its conversation
inside one boundary (whatever goes wrong on a socket ends that socket alone), ends sessions
whose resume window passed, and drains on shutdown: stops accepting, unregisters, closes
every socket 1001 (see gateway/voice/close.py) and gives them the shutdown grace.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import secrets
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import trio
from trio_websocket import ConnectionClosed, WebSocketServer

from core.config import PUBLIC_VOICE_ENDPOINT, Address
from core.errors import ConfigError
from core.faults import report_fault
from core.sfu import open_sfu
from gateway.voice.calls import Calls
from gateway.voice.conversation import CLOSE_S, Conversation
from gateway.voice.limits import VoiceLimits
from gateway.voice.node import VoiceGatewayNode
from gateway.voice.tls import find_certificate, server_context

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator

    from trio_websocket import WebSocketRequest

    from core.services import Services
    from core.sfu import Sfu
    from gateway.voice.tls import Certificate

_log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 10.0  # TLS and the WebSocket upgrade together
_VERSIONS = range(4, 9)  # voice gateway v4 to v8 (the docs: below 4 is refused)
# With port 0, the OS picks the UDP port and TCP takes the same number; another socket may
# hold that TCP port already, so a few picks are tried.
_BIND_ATTEMPTS = 8
# trio-websocket closes a message past its own limit 1009; ours (payloads.MAX_PAYLOAD_BYTES,
# checked on each message) closes 4002, as Discord's docs say for a payload we cannot take.
_LIBRARY_MAX_MESSAGE_BYTES = 64 * 1024


class VoiceGateway:
    """One voice node: its listener, its SFU, its calls."""

    def __init__(
        self, services: Services, limits: VoiceLimits | None = None, name: str | None = None
    ) -> None:
        self._services = services
        self._settings = services.settings
        self.limits = limits or VoiceLimits()
        settings = self._settings
        # Unique among processes (the Voice service keys nodes by name): the snowflake
        # worker/process pair is, and a restart gets a name of its own.
        self.name = (
            name or f"voice-{settings.worker_id}-{settings.process_id}-{secrets.token_hex(3)}"
        )
        self.node: VoiceGatewayNode | None = None  # once serving
        self.certificate: Certificate | None = None

    async def serve(
        self, shutdown: trio.Event, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serves until `shutdown`, then drains. Reports the endpoint ("host:port") once
        listening and registered."""
        settings = self._settings
        address = settings.voice_addr
        public = settings.public_voice_endpoint
        certificate = await trio.to_thread.run_sync(
            find_certificate,
            settings.data_dir,
            (public or address).host,
            settings.voice_tls_cert,
            settings.voice_tls_key,
        )
        self.certificate = certificate
        if certificate.generated:
            # Clients must trust this file (there is no CA behind it): say where it is.
            _log.info("voice certificate", extra={"path": str(certificate.cert_path)})
        async with _open_endpoint(address, server_context(certificate)) as (sfu, listeners):
            endpoint = public or Address(address.host, sfu.port)
            calls = Calls(sfu, await _ipv4(endpoint, public is None), endpoint.port, self.limits)
            node = VoiceGatewayNode(
                self.name, str(endpoint), self._services.voice, calls, self.limits
            )
            self.node = node
            async with trio.open_nursery() as connections:
                async with trio.open_nursery() as background:
                    server = WebSocketServer(
                        partial(_serve_request, node),
                        listeners,
                        handler_nursery=connections,
                        max_message_size=_LIBRARY_MAX_MESSAGE_BYTES,
                        connect_timeout=HANDSHAKE_TIMEOUT_S,
                        disconnect_timeout=CLOSE_S,
                    )
                    await background.start(server.run)
                    await background.start(self._services.voice.serve_node, node)
                    background.start_soon(node.expire_sessions)
                    _log.info("voice gateway listening", extra={"endpoint": node.endpoint})
                    task_status.started(node.endpoint)
                    await shutdown.wait()
                    background.cancel_scope.cancel()  # stops accepting; unregisters the node
                for listener in listeners:
                    await listener.aclose()
                node.drain()
                connections.cancel_scope.deadline = trio.current_time() + settings.shutdown_grace_s
        _log.info("voice gateway drained")


async def _serve_request(node: VoiceGatewayNode, request: WebSocketRequest) -> None:
    """One socket, inside its boundary: nothing raised here reaches another socket."""
    try:
        version = _version(request.path)
        if version is None:
            await request.reject(400, body=b"voice gateway version v=4 to v=8 expected")
            return
        ws = await request.accept()
        await Conversation(node, ws, version).run()
    except ConnectionClosed:
        pass  # the client went away during the handshake
    except Exception as error:
        report_fault("voice-connection", error)


def _version(target: str) -> int | None:
    """The `v` query parameter of any request path, if it is a version served here. Discord
    refuses a missing version (the docs: "you must present a voice gateway version")."""
    values = parse_qs(urlsplit(target).query).get("v", [])
    if len(values) != 1 or not values[0].isascii() or not values[0].isdigit():
        return None
    version = int(values[0])
    return version if version in _VERSIONS else None


async def _ipv4(endpoint: Address, derived: bool) -> str:
    """The IPv4 address READY names (clients send UDP there): the endpoint's host, looked
    up if it is a name."""
    variable = PUBLIC_VOICE_ENDPOINT.name
    try:
        ip = ipaddress.ip_address(endpoint.host)
    except ValueError:
        found = await trio.socket.getaddrinfo(
            endpoint.host, endpoint.port, family=trio.socket.AF_INET, type=trio.socket.SOCK_DGRAM
        )
        if not found:
            raise ConfigError(variable, f"{endpoint.host!r} has no IPv4 address") from None
        return str(found[0][4][0])
    if ip.version != 4:
        raise ConfigError(variable, "voice READY sends an IPv4 address: name an IPv4 host")
    if ip.is_unspecified and derived:
        raise ConfigError(variable, f"set it: clients cannot reach {endpoint.host}")
    return str(ip)


@asynccontextmanager
async def _open_endpoint(
    address: Address, context: ssl.SSLContext
) -> AsyncIterator[tuple[Sfu, list[trio.SSLListener[trio.SocketStream]]]]:
    """The SFU bound on UDP `address` and TLS listeners on the same TCP port number."""
    for attempt in range(_BIND_ATTEMPTS):
        async with open_sfu(address.host, address.port) as sfu:
            try:
                tcp = await trio.open_tcp_listeners(sfu.port, host=address.host)
            except OSError as error:
                taken = address.port == 0 and error.errno == errno.EADDRINUSE
                if taken and attempt + 1 < _BIND_ATTEMPTS:
                    continue
                raise
            listeners = [trio.SSLListener(t, context, https_compatible=True) for t in tcp]
            try:
                yield sfu, listeners
            finally:
                for listener in listeners:
                    await listener.aclose()
            return
    raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover
