"""A lean gateway client for load generation: a Trio TCP stream, just enough of RFC 6455 for a
client (masked sends, unmasked receives, no extensions), and zlib-stream. One session costs a
socket, a buffer and one task, so thousands fit in one load-generator process and the generator
is not what a benchmark measures."""

from __future__ import annotations

import base64
import os
import secrets
import select
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
import trio

if TYPE_CHECKING:
    from collections.abc import Callable

_SYNC_FLUSH = b"\x00\x00\xff\xff"
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value, if Python lacks it
_TIMESTAMP_SPACE = socket.CMSG_SPACE(16)
_RECEIVE_BYTES = 262144


class GatewayError(Exception):
    """The server refused the handshake, closed, or spoke something other than the gateway."""


class SessionClosed(GatewayError):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"the gateway closed the connection (code {code})")
        self.code = code


def _mask(payload: bytes, key: bytes) -> bytes:
    # XOR with the key repeated, as one big integer: far faster than a byte loop.
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    masked = int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")
    return masked.to_bytes(len(payload), "little")


def client_frame(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    return head + key + _mask(payload, key)


@dataclass
class Dispatch:
    seq: int
    name: str
    d: Any
    received_at: float  # time.time() the kernel received it (SO_TIMESTAMPNS)


@dataclass(eq=False)
class GatewaySession:
    stream: trio.SocketStream
    inflate: Any = None  # a zlib decompressobj, for zlib-stream
    session_id: str = ""
    resume_url: str = ""
    seq: int = 0
    heartbeat_interval_s: float = 41.25
    close_code: int | None = None
    _buffer: bytearray = field(default_factory=bytearray)
    _fragments: list[bytes] = field(default_factory=list)
    _compressed: bytearray = field(default_factory=bytearray)
    _arrived_at: float = 0.0

    @classmethod
    async def open(cls, url: str, compress: bool = False) -> GatewaySession:
        """Connects, upgrades and reads HELLO."""
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "") or parts.hostname is None:
            raise GatewayError(f"not a ws:// URL: {url!r} (wss:// is not supported)")
        port = parts.port or 80
        stream = await trio.open_tcp_stream(parts.hostname, port)
        stream.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        query = "v=10&encoding=json" + ("&compress=zlib-stream" if compress else "")
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        request = (
            f"GET {parts.path or '/'}?{query} HTTP/1.1\r\nHost: {parts.hostname}:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        session = cls(stream, zlib.decompressobj() if compress else None)
        try:
            await stream.send_all(request.encode())
            while b"\r\n\r\n" not in session._buffer:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    raise GatewayError("the gateway closed the connection during the handshake")
                session._buffer += chunk
            head, _, rest = bytes(session._buffer).partition(b"\r\n\r\n")
            status = head.split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                raise GatewayError(
                    f"the gateway refused the upgrade: {status.decode(errors='replace')}"
                )
            session._buffer = bytearray(rest)
            hello = await session.next_message()
            if hello.get("op") != 10 or not isinstance(hello.get("d"), dict):
                raise GatewayError(f"expected HELLO (op 10), got op {hello.get('op')!r}")
            session.heartbeat_interval_s = hello["d"]["heartbeat_interval"] / 1000
        except BaseException:
            await stream.aclose()
            raise
        return session

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def send(self, op: int, d: object) -> None:
        await self.stream.send_all(client_frame(0x1, orjson.dumps({"op": op, "d": d})))

    async def identify(self, token: str, intents: int) -> dict[str, Any]:
        """IDENTIFY; READY's `d`."""
        await self.send(2, {"token": token, "intents": intents, "properties": {"os": "linux"}})
        ready = await self.next_dispatch()
        if ready.name != "READY":
            raise GatewayError(f"expected READY, got {ready.name}")
        self.session_id = ready.d["session_id"]
        self.resume_url = ready.d.get("resume_gateway_url", "")
        return ready.d  # type: ignore[no-any-return]

    async def resume(self, token: str) -> None:
        await self.send(6, {"token": token, "session_id": self.session_id, "seq": self.seq})

    async def next_dispatch(self) -> Dispatch:
        while True:
            message = await self.next_message()
            if message.get("op") == 0:
                return self._dispatch(message)
            if message.get("op") == 9:
                raise GatewayError("the gateway invalidated the session (op 9)")

    def _dispatch(self, message: dict[str, Any]) -> Dispatch:
        seq = message.get("s")
        if isinstance(seq, int):
            self.seq = seq
        return Dispatch(seq or 0, message.get("t") or "", message.get("d"), self._arrived_at)

    async def _receive(self) -> bytes:
        """The next bytes from the socket, noting when the kernel received them: a receipt's
        time then does not depend on how soon this process got round to reading it."""
        data, ancillary, _, _ = await self.stream.socket.recvmsg(_RECEIVE_BYTES, _TIMESTAMP_SPACE)
        self._stamp(ancillary)
        return data

    def _stamp(self, ancillary: list[tuple[int, int, bytes]]) -> None:
        self._arrived_at = time.time()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(value) >= 16:
                seconds, nanoseconds = struct.unpack("qq", value[:16])
                self._arrived_at = seconds + nanoseconds / 1e9

    async def next_message(self) -> dict[str, Any]:
        while True:
            message = self._parse()
            if message is not None:
                return message
            chunk = await self._receive()
            if not chunk:
                raise SessionClosed(self.close_code)
            self._buffer += chunk

    def handle(self, on_dispatch: Callable[[GatewaySession, Dispatch], None]) -> bool:
        """Hands every whole dispatch buffered to `on_dispatch`; True if the server asked for
        a heartbeat."""
        asked = False
        while (message := self._parse()) is not None:
            op = message.get("op")
            if op == 0:
                on_dispatch(self, self._dispatch(message))
            elif op == 1:
                asked = True
            elif op in (7, 9):
                raise SessionClosed(4000 if op == 7 else None)
        return asked

    def heartbeat_frame(self) -> bytes:
        return client_frame(0x1, orjson.dumps({"op": 1, "d": self.seq}))

    def read_now(self, sock: socket.socket) -> bool:
        """Takes what `sock` has without waiting; False at the connection's end."""
        data, ancillary, _, _ = sock.recvmsg(_RECEIVE_BYTES, _TIMESTAMP_SPACE)
        if not data:
            return False
        self._stamp(ancillary)
        self._buffer += data
        return True

    def _parse(self) -> dict[str, Any] | None:
        """The next whole gateway message in the buffer, if one is there."""
        while True:
            buffer = self._buffer
            if len(buffer) < 2:
                return None
            opcode, size, at = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if size == 126:
                if len(buffer) < 4:
                    return None
                size, at = int.from_bytes(buffer[2:4], "big"), 4
            elif size == 127:
                if len(buffer) < 10:
                    return None
                size, at = int.from_bytes(buffer[2:10], "big"), 10
            if buffer[1] & 0x80:
                raise GatewayError("the server masked a frame")
            if len(buffer) < at + size:
                return None
            payload = bytes(buffer[at : at + size])
            final = buffer[0] & 0x80
            del buffer[: at + size]
            if opcode == 0x8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                raise SessionClosed(self.close_code)
            if opcode in (0x9, 0xA):  # ping, pong: the server pings rarely; not answered here
                continue
            self._fragments.append(payload)
            if not final:
                continue
            message = b"".join(self._fragments)
            self._fragments.clear()
            if self.inflate is not None:
                self._compressed += message
                if not self._compressed.endswith(_SYNC_FLUSH):
                    continue
                message = self.inflate.decompress(bytes(self._compressed))
                self._compressed.clear()
            try:
                decoded = orjson.loads(message)
            except orjson.JSONDecodeError as error:
                raise GatewayError(
                    f"the gateway sent something that is not JSON: {error}"
                ) from None
            if not isinstance(decoded, dict) or "op" not in decoded:
                raise GatewayError("the gateway sent JSON without an `op`")
            return decoded


async def pump_all(
    sessions: list[GatewaySession],
    on_dispatch: Callable[[GatewaySession, Dispatch], None],
    on_lost: Callable[[GatewaySession], None],
) -> None:
    """Reads every session until its connection ends, handing each dispatch to `on_dispatch`.
    One epoll set for all the sockets: a wake-up serves every socket that is ready, where a
    Trio task per socket would cost a task switch per frame, and the generator would then be
    what the benchmark measures."""
    poller = select.epoll()
    reading: dict[int, tuple[GatewaySession, socket.socket]] = {}
    try:
        for session in sessions:
            sock = socket.fromfd(session.stream.socket.fileno(), socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            reading[sock.fileno()] = (session, sock)
            poller.register(sock.fileno(), select.EPOLLIN)
        while reading:
            await trio.lowlevel.wait_readable(poller.fileno())
            for fd, _ in poller.poll(0):
                session, sock = reading[fd]
                try:
                    if not session.read_now(sock):
                        raise SessionClosed(session.close_code)
                    if session.handle(on_dispatch):
                        sock.send(session.heartbeat_frame())
                except BlockingIOError:
                    continue
                except (GatewayError, OSError):
                    on_lost(session)
                    poller.unregister(fd)
                    del reading[fd]
                    sock.close()
    finally:
        poller.close()
        for _, sock in reading.values():
            sock.close()  # a duplicate: the session's own socket stays open
