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
from dataclasses import dataclass
from enum import IntEnum
from urllib.parse import parse_qs, urlsplit

from core.frames import FrameParser as NativeFrameParser
from core.frames import FrameValueError

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


def http_answer(status: int, body: bytes, content_type: str = "text/plain") -> bytes:
    """A whole HTTP/1.1 answer to a request that is not (or not yet) a WebSocket: the
    connection closes after it."""
    phrase = {200: "OK", 400: "Bad Request", 403: "Forbidden", 426: "Upgrade Required"}.get(
        status, "Error"
    )
    return (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        + ("Sec-WebSocket-Version: 13\r\n" if status == 426 else "")
        + "\r\n"
    ).encode() + body


def http_refusal(status: int, reason: str) -> bytes:
    return http_answer(status, reason.encode())


@dataclass(frozen=True, slots=True)
class Message:
    """A whole data message, or a control frame."""

    opcode: Opcode
    payload: bytes


class FrameParser:
    """Client frames in, whole messages and control frames out. Refuses, with the close code
    RFC 6455 gives, unmasked frames, reserved bits, bad opcodes, fragmented control frames,
    and any message over `max_message` bytes (1009) before buffering it. Parsing and
    unmasking are native (core/frames.py): they run for every frame every client sends."""

    __slots__ = ("_native",)

    def __init__(self, max_message: int) -> None:
        self._native = NativeFrameParser(max_message)

    def feed(self, data: bytes) -> list[Message]:
        try:
            found = self._native.feed(data)
        except FrameValueError as error:
            raise ProtocolError(error.code, error.reason) from None
        return [Message(_OPCODES[opcode], payload) for opcode, payload in found]


# By value: an enum call per message costs more than the parse.
_OPCODES = {int(opcode): opcode for opcode in Opcode}
