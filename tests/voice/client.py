"""A voice gateway client for tests: a WebSocket driven by hand (tests/websocket.py) over a Trio
TLS stream that trusts the server's generated certificate, speaking the protocol so each test
says exactly what a client sends; and a UDP voice socket that does IP discovery and
encrypts and decrypts RTP in both modes as the libraries do (cryptography's AES-GCM, PyNaCl's
XChaCha20-Poly1305)."""

from __future__ import annotations

import json
import ssl
import struct
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from wsproto import ConnectionType, WSConnection
from wsproto.events import BytesMessage, CloseConnection, Request
from wsproto.frame_protocol import CloseReason

from tests.websocket import WAIT_S, Closed, Refused, WebSocketClient

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

__all__ = [
    "AES",
    "WAIT_S",
    "XCHACHA",
    "Closed",
    "Joined",
    "Refused",
    "VoiceClient",
    "VoiceUdp",
    "connect_voice",
    "open_udp",
    "open_voice",
    "trusting",
]

AES = "aead_aes256_gcm_rtpsize"
XCHACHA = "aead_xchacha20_poly1305_rtpsize"


@dataclass
class VoiceClient(WebSocketClient[trio.SSLStream[trio.SocketStream]]):
    seq: int = 0  # the last numbered message received (0: none)
    aborted: bool = False
    skipped: list[dict[str, Any]] = field(default_factory=list)  # what select() passed over

    @property
    def seq_ack(self) -> int:
        return self.seq if self.seq else -1

    async def receive(self) -> dict[str, Any]:
        """The next message; a numbered one must be the next number (v8 "Buffered Resume")."""
        raw = await self.get_message()
        assert isinstance(raw, str), "the server never sends binary messages"
        payload: dict[str, Any] = json.loads(raw)
        if "seq" in payload:
            assert payload["seq"] == self.seq + 1, (payload, self.seq)
            self.seq = payload["seq"]
        return payload

    async def expect(self, op: int) -> dict[str, Any]:
        """The `d` of the next message, which must be `op` (heartbeat ACKs skipped)."""
        while True:
            payload = await self.receive()
            if payload["op"] == op:
                return payload["d"]  # type: ignore[no-any-return]
            assert payload["op"] == 6, payload

    async def send_bytes(self, data: bytes) -> None:
        await self.stream.send_all(self.ws.send(BytesMessage(data)))

    async def close_without_status(self) -> None:
        """A close frame with no status code, as Node's `ws.close()` sends (the server reads
        1005)."""
        await self.stream.send_all(self.ws.send(CloseConnection(CloseReason.NO_STATUS_RCVD)))

    def abort(self) -> None:
        """Drops the TCP connection with a reset, as a network failure would."""
        sock = self.stream.transport_stream.socket
        sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        self.aborted = True

    async def heartbeat(self, nonce: int = 1) -> None:
        await self.send(3, {"t": nonce, "seq_ack": self.seq_ack})

    async def speak(self, ssrc: int, flags: int) -> None:
        """SPEAKING for `ssrc` with `flags` (1: the microphone, 0: stopped)."""
        await self.send(5, {"speaking": flags, "delay": 0, "ssrc": ssrc})

    async def identify(self, joined: Joined) -> dict[str, Any]:
        """IDENTIFY, then READY's `d`."""
        await self.send(0, joined.identify())
        return await self.expect(2)

    async def select(self, ready: dict[str, Any], udp: VoiceUdp, mode: str) -> dict[str, Any]:
        """IP discovery, SELECT_PROTOCOL, then SESSION_DESCRIPTION's `d` (the key set on
        `udp`). Messages of other ops on the way are kept in `skipped`."""
        ip, port = await udp.discover(ready["ssrc"])
        await self.send(1, {"protocol": "udp", "data": {"address": ip, "port": port, "mode": mode}})
        while True:
            payload = await self.receive()
            if payload["op"] == 4:
                description: dict[str, Any] = payload["d"]
                udp.keyed(mode, bytes(description["secret_key"]))
                return description
            if payload["op"] != 6:
                self.skipped.append(payload)


@dataclass(frozen=True)
class Joined:
    """What a main gateway op 4 gave a user: VOICE_STATE_UPDATE's session and
    VOICE_SERVER_UPDATE's token and endpoint."""

    guild_id: int
    channel_id: int
    user_id: int
    session_id: str
    token: str
    endpoint: str

    def identify(self, **changes: object) -> dict[str, object]:
        body: dict[str, object] = {
            "server_id": str(self.guild_id),
            "user_id": str(self.user_id),
            "session_id": self.session_id,
            "token": self.token,
            "max_dave_protocol_version": 0,
        }
        return {**body, **changes}

    def resume(self, seq_ack: int, **changes: object) -> dict[str, object]:
        body: dict[str, object] = {
            "server_id": str(self.guild_id),
            "session_id": self.session_id,
            "token": self.token,
            "seq_ack": seq_ack,
        }
        return {**body, **changes}


def trusting(cert_path: Path) -> ssl.SSLContext:
    """A client context that trusts the voice gateway's certificate, as a library would be
    configured to (strict X.509 checks on, as Python 3.13 has them by default)."""
    context = ssl.create_default_context(cafile=str(cert_path))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


@asynccontextmanager
async def open_voice(
    endpoint: str, cert_path: Path, target: str = "/?v=8"
) -> AsyncIterator[VoiceClient]:
    """A connected voice WebSocket over TLS, before the server's first message."""
    host, _, port = endpoint.rpartition(":")
    tcp = await trio.open_tcp_stream(host, int(port))
    stream = trio.SSLStream(tcp, trusting(cert_path), server_hostname=host)
    client = VoiceClient(stream, WSConnection(ConnectionType.CLIENT))
    try:
        await stream.send_all(client.ws.send(Request(host=endpoint, target=target)))
        assert await client.get_message() == ""  # accepted
        yield client
    finally:
        if client.aborted:
            tcp.socket.close()  # (closed already: nothing to say goodbye on)
        else:
            await trio.aclose_forcefully(stream)


@asynccontextmanager
async def connect_voice(
    endpoint: str, cert_path: Path, target: str = "/?v=8"
) -> AsyncIterator[VoiceClient]:
    """A connected client that has had its HELLO."""
    async with open_voice(endpoint, cert_path, target) as client:
        hello = await client.receive()
        assert hello["op"] == 8, hello
        assert "seq" not in hello
        client.hello = hello["d"]
        yield client


# UDP: IP discovery and RTP in the two "rtpsize" AEAD modes (Voice Connections docs,
# "Transport Encryption Modes"): the 12-byte header is the AAD, the payload is sealed with a
# nonce whose first 4 bytes are a counter that is also appended to the packet.


@dataclass
class VoiceUdp:
    socket: trio.socket.SocketType
    server: tuple[str, int]
    mode: str = ""
    key: bytes = b""
    counter: int = 0
    sequence: int = 0

    async def discover(self, ssrc: int) -> tuple[str, int]:
        """The 74-byte IP discovery request; the address and port the answer names."""
        request = struct.pack(">HHI", 1, 70, ssrc) + bytes(64) + bytes(2)
        await self.socket.sendto(request, self.server)
        with trio.fail_after(WAIT_S):
            while True:
                answer, _ = await self.socket.recvfrom(2048)
                if len(answer) == 74 and answer[:2] == b"\x00\x02":
                    break
        assert struct.unpack(">HHI", answer[:8]) == (2, 70, ssrc)
        ip = answer[8 : answer.index(0, 8)].decode()
        return ip, struct.unpack(">H", answer[72:74])[0]

    def keyed(self, mode: str, key: bytes) -> None:
        self.mode, self.key = mode, key

    def seal(self, ssrc: int, opus: bytes) -> bytes:
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.counter += 1
        header = struct.pack(">BBHII", 0x80, 0x78, self.sequence, self.sequence * 960, ssrc)
        nonce = struct.pack(">I", self.counter)
        return header + _encrypt(self.mode, self.key, nonce, header, opus) + nonce

    async def send(self, ssrc: int, opus: bytes) -> None:
        await self.socket.sendto(self.seal(ssrc, opus), self.server)

    def open(self, packet: bytes) -> tuple[int, bytes]:
        """A received packet's SSRC and Opus payload, decrypted with this socket's key."""
        header, sealed, nonce = packet[:12], packet[12:-4], packet[-4:]
        assert packet[0] & 0x10 == 0  # no header extension in what these tests send
        return struct.unpack(">I", header[8:12])[0], _decrypt(
            self.mode, self.key, nonce, header, sealed
        )

    async def receive(self, wait_s: float = WAIT_S) -> tuple[int, bytes]:
        with trio.fail_after(wait_s):
            while True:
                packet, _ = await self.socket.recvfrom(2048)
                if len(packet) > 12 and packet[1] == 0x78:
                    return self.open(packet)

    async def nothing_within(self, wait_s: float) -> bool:
        """True when no voice packet arrives within `wait_s`."""
        with trio.move_on_after(wait_s):
            await self.receive(wait_s + 1)
            return False
        return True


def _encrypt(mode: str, key: bytes, nonce: bytes, header: bytes, opus: bytes) -> bytes:
    if mode == AES:
        return AESGCM(key).encrypt(nonce + bytes(8), opus, header)
    return crypto_aead_xchacha20poly1305_ietf_encrypt(opus, header, nonce + bytes(20), key)


def _decrypt(mode: str, key: bytes, nonce: bytes, header: bytes, sealed: bytes) -> bytes:
    if mode == AES:
        return AESGCM(key).decrypt(nonce + bytes(8), sealed, header)
    return crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, header, nonce + bytes(20), key)


@asynccontextmanager
async def open_udp(endpoint: str) -> AsyncIterator[VoiceUdp]:
    host, _, port = endpoint.rpartition(":")
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    with sock:
        await sock.bind(("127.0.0.1", 0))
        yield VoiceUdp(sock, (host, int(port)))
