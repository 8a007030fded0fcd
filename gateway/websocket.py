"""RFC 6455 on a plain non-blocking socket: the opening handshake and client frames in (server
frames are built natively, core/fanout.py). The gateway owns both directions of the socket
(ARCHITECTURE.md: a library writing its own pong or close frames between ours would corrupt a
zlib stream), so this is all of it.

Sans-I/O: `parse_handshake` and `FrameParser` take bytes and return what they found; the
connection (gateway/connection.py) does the reading, and native code frames what is written.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from enum import IntEnum
from urllib.parse import parse_qs, urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
MAX_HANDSHAKE_BYTES = 8192


class Opcode(IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class ProtocolError(Exception):
    """The peer broke RFC 6455; close with `code` (1002 protocol error, 1009 too big…)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class HandshakeError(Exception):
    """Not a WebSocket upgrade we accept: answer with this HTTP status and close."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Handshake:
    path: str
    query: dict[str, str]  # the first value of each parameter
    headers: dict[str, str]  # names lower-cased
    key: str

    def response(self) -> bytes:
        accept = base64.b64encode(hashlib.sha1(self.key.encode() + _GUID).digest())
        return (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )


def handshake_end(buffer: bytes) -> int:
    """Where the request's head ends in `buffer`, or -1 if it has not yet."""
    end = buffer.find(b"\r\n\r\n")
    return -1 if end < 0 else end + 4


def parse_handshake(head: bytes) -> Handshake:
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise HandshakeError(400, "malformed request") from None
    if method != "GET" or version != "HTTP/1.1":
        raise HandshakeError(400, "expected GET … HTTP/1.1")
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HandshakeError(400, "malformed header")
        headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in {
        token.strip().lower() for token in headers.get("connection", "").split(",")
    }:
        raise HandshakeError(426, "this endpoint speaks WebSocket only")
    if headers.get("sec-websocket-version") != "13":
        raise HandshakeError(426, "WebSocket version 13 only")
    key = headers.get("sec-websocket-key", "")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except ValueError:
        raise HandshakeError(400, "bad Sec-WebSocket-Key") from None
    parts = urlsplit(target)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    return Handshake(parts.path, query, headers, key)


def http_refusal(status: int, reason: str) -> bytes:
    body = reason.encode()
    phrase = {400: "Bad Request", 403: "Forbidden", 426: "Upgrade Required"}.get(status, "Error")
    return (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        + ("Sec-WebSocket-Version: 13\r\n" if status == 426 else "")
        + "\r\n"
    ).encode() + body


@dataclass(frozen=True, slots=True)
class Message:
    """A whole data message, or a control frame."""

    opcode: Opcode
    payload: bytes


class FrameParser:
    """Client frames in, whole messages and control frames out. Refuses, with the close code
    RFC 6455 gives, unmasked frames, reserved bits, bad opcodes, fragmented control frames,
    and any message over `max_message` bytes (1009) before buffering it."""

    __slots__ = ("_buffer", "_fragment_opcode", "_fragment_size", "_fragments", "_max")

    def __init__(self, max_message: int) -> None:
        self._max = max_message
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._fragment_opcode: Opcode | None = None
        self._fragment_size = 0

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        found: list[Message] = []
        while (message := self._next()) is not None:
            if message.opcode is not Opcode.CONTINUATION or message.payload:
                found.append(message)
        return found

    def _next(self) -> Message | None:
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        if first & 0x70:
            raise ProtocolError(1002, "reserved bits set")
        if not second & 0x80:
            raise ProtocolError(1002, "client frames must be masked")
        final = bool(first & 0x80)
        try:
            opcode = Opcode(first & 0x0F)
        except ValueError:
            raise ProtocolError(1002, "unknown opcode") from None
        size = second & 0x7F
        offset = 2
        if size == 126:
            if len(buffer) < 4:
                return None
            (size,) = struct.unpack_from("!H", buffer, 2)
            offset = 4
        elif size == 127:
            if len(buffer) < 10:
                return None
            (size,) = struct.unpack_from("!Q", buffer, 2)
            offset = 10
        control = opcode >= Opcode.CLOSE
        if control and (size > 125 or not final):
            raise ProtocolError(1002, "control frames are short and whole")
        if not control and self._fragment_size + size > self._max:
            raise ProtocolError(1009, f"messages are at most {self._max} bytes")
        if len(buffer) < offset + 4 + size:
            return None
        mask = buffer[offset : offset + 4]
        start = offset + 4
        payload = _unmask(bytes(buffer[start : start + size]), bytes(mask))
        del buffer[: start + size]
        if control:
            return Message(opcode, payload)
        if opcode is Opcode.CONTINUATION:
            if self._fragment_opcode is None:
                raise ProtocolError(1002, "continuation without a message")
        elif self._fragment_opcode is not None:
            raise ProtocolError(1002, "a new message inside a fragmented one")
        else:
            self._fragment_opcode = opcode
        self._fragments.append(payload)
        self._fragment_size += size
        if not final:
            return Message(Opcode.CONTINUATION, b"")  # consumed; nothing whole yet
        whole = Message(self._fragment_opcode, b"".join(self._fragments))
        self._fragments, self._fragment_opcode, self._fragment_size = [], None, 0
        return whole


def _unmask(payload: bytes, mask: bytes) -> bytes:
    # One big-integer XOR instead of a Python loop over bytes.
    if not payload:
        return payload
    repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(payload), "big")
