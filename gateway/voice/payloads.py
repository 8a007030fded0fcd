"""Voice gateway messages: what a client sends, read into typed values, and what the server
sends, built as JSON text. No I/O and no state: the conversation decides.

The shapes are the Voice Connections docs' (v8), checked against what discord.py 2.7
(gateway.py, DiscordVoiceWebSocket) and @discordjs/voice (Networking.ts, VoiceWebSocket.ts)
send and read. A frame that is not a JSON object with an integer `op` is 4002; a known op
whose `d` is not what the docs say is 4020; an op no client sends is 4001.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from typing import TypeGuard

import orjson

from gateway.voice.close import BadRequest, FailedToDecode, ServerNotFound, UnknownOpcode

MAX_PAYLOAD_BYTES = 4096  # a client message over this closes the connection with 4002
_MAX_SNOWFLAKE = (1 << 63) - 1
_MAX_TEXT = 256  # session ids, tokens, protocol and mode names, addresses


class Op(enum.IntEnum):
    IDENTIFY = 0
    SELECT_PROTOCOL = 1
    READY = 2
    HEARTBEAT = 3
    SESSION_DESCRIPTION = 4
    SPEAKING = 5
    HEARTBEAT_ACK = 6
    RESUME = 7
    HELLO = 8
    RESUMED = 9
    CLIENTS_CONNECT = 11
    CLIENT_DISCONNECT = 13
    DAVE_TRANSITION_READY = 23
    DAVE_MLS_KEY_PACKAGE = 26
    DAVE_MLS_COMMIT_WELCOME = 28
    DAVE_MLS_INVALID_COMMIT_WELCOME = 31


# DAVE ops a client may send (JSON or binary): with `dave_protocol_version: 0` in every
# SESSION_DESCRIPTION no client should, and one that does anyway is ignored, not closed.
_DAVE_TEXT_OPS = frozenset({Op.DAVE_TRANSITION_READY, Op.DAVE_MLS_INVALID_COMMIT_WELCOME})
_DAVE_BINARY_OPS = frozenset({Op.DAVE_MLS_KEY_PACKAGE, Op.DAVE_MLS_COMMIT_WELCOME})


@dataclass(frozen=True, slots=True)
class Identify:
    guild_id: int
    user_id: int
    session_id: str
    token: str

    def __repr__(self) -> str:  # never the token
        return f"Identify(guild_id={self.guild_id}, user_id={self.user_id})"


@dataclass(frozen=True, slots=True)
class Resume:
    guild_id: int
    session_id: str
    token: str
    seq_ack: int  # -1: no numbered message received

    def __repr__(self) -> str:
        return f"Resume(guild_id={self.guild_id}, seq_ack={self.seq_ack})"


@dataclass(frozen=True, slots=True)
class SelectProtocol:
    protocol: str
    mode: str
    # Where the client receives audio, as its IP discovery told it: the SFU binds the SSRC
    # there (core/sfu.py, Sfu.bind). A client's address is never logged.
    address: str = field(repr=False)
    port: int = field(repr=False)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    nonce: int
    seq_ack: int | None  # v8 only


@dataclass(frozen=True, slots=True)
class Speaking:
    speaking: int  # the flags bitmask (Microphone 1, Soundshare 2, Priority 4)


ClientMessage = Identify | Resume | SelectProtocol | Heartbeat | Speaking


def parse(message: str | bytes) -> ClientMessage | None:
    """A client's message; None for one that is ignored (a DAVE op)."""
    if isinstance(message, bytes):
        # Binary messages carry DAVE's MLS ops: the op is the first byte (client to server
        # messages have no sequence number).
        if message and message[0] in _DAVE_BINARY_OPS:
            return None
        raise FailedToDecode("binary messages are DAVE's, which this server does not do")
    if len(message) > MAX_PAYLOAD_BYTES:
        raise FailedToDecode(f"messages are limited to {MAX_PAYLOAD_BYTES} bytes")
    try:
        payload = orjson.loads(message)
    except orjson.JSONDecodeError:
        raise FailedToDecode("not JSON") from None
    if not isinstance(payload, dict):
        raise FailedToDecode("expected a JSON object")
    op = payload.get("op")
    if not _is_int(op):
        raise FailedToDecode("expected an integer op")
    d = payload.get("d")
    if op == Op.HEARTBEAT:
        return _heartbeat(d)
    if op == Op.IDENTIFY:
        body = _object(d)
        return Identify(
            guild_id=_server_id(body),
            user_id=_snowflake(body, "user_id"),
            session_id=_text(body, "session_id"),
            token=_text(body, "token"),
        )
    if op == Op.RESUME:
        body = _object(d)
        seq_ack = body.get("seq_ack", -1)  # before v8 there is none
        if not _is_int(seq_ack) or seq_ack < -1:
            raise BadRequest("seq_ack must be an integer")
        return Resume(
            guild_id=_server_id(body),
            session_id=_text(body, "session_id"),
            token=_text(body, "token"),
            seq_ack=seq_ack,
        )
    if op == Op.SELECT_PROTOCOL:
        body = _object(d)
        data = _object(body.get("data"))
        port = data.get("port")
        if not _is_int(port) or not 0 < port <= 65535:
            raise BadRequest("data.port must be a port number")
        return SelectProtocol(
            protocol=_text(body, "protocol"),
            mode=_text(data, "mode"),
            address=_ipv4(data, "address"),
            port=port,
        )
    if op == Op.SPEAKING:
        speaking = _object(d).get("speaking")
        if isinstance(speaking, bool):  # before v4 it was a boolean
            speaking = int(speaking)
        if not _is_int(speaking) or not 0 <= speaking <= 0xFF:
            raise BadRequest("speaking must be a flags integer")
        return Speaking(speaking)
    if op in _DAVE_TEXT_OPS:
        return None
    raise UnknownOpcode(f"op {op} is not sent by clients")


def _heartbeat(d: object) -> Heartbeat:
    # v8: {"t": nonce, "seq_ack": n}; before v8 the nonce alone.
    if _is_int(d):
        return Heartbeat(d, None)
    body = _object(d)
    nonce, seq_ack = body.get("t"), body.get("seq_ack")
    if not _is_int(nonce):
        raise BadRequest("d.t must be an integer nonce")
    if seq_ack is not None and (not _is_int(seq_ack) or seq_ack < -1):
        raise BadRequest("d.seq_ack must be an integer")
    return Heartbeat(nonce, seq_ack)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _object(d: object) -> dict[str, object]:
    if not isinstance(d, dict):
        raise BadRequest("d must be an object")
    return d


def _text(body: dict[str, object], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_TEXT:
        raise BadRequest(f"{key} must be a string of 1 to {_MAX_TEXT} characters")
    return value


def _ipv4(body: dict[str, object], key: str) -> str:
    # What IP discovery answers is an IPv4 address: anything else names no UDP path.
    value = _text(body, key)
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise BadRequest(f"{key} must be an IPv4 address") from None


def _snowflake(body: dict[str, object], key: str) -> int:
    value = body.get(key)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        value = int(value)
    if not _is_int(value) or not 0 < value <= _MAX_SNOWFLAKE:
        raise BadRequest(f"{key} must be a snowflake")
    return value


def _server_id(body: dict[str, object]) -> int:
    # A server_id that is a string or number but no snowflake names no server: 4011. One of
    # another type (or missing) is a malformed request: 4020.
    value = body.get("server_id")
    if isinstance(value, str | int) and not isinstance(value, bool):
        try:
            return _snowflake(body, "server_id")
        except BadRequest:
            raise ServerNotFound() from None
    raise BadRequest("server_id must be a snowflake")


# What the server sends. Numbered messages carry `seq` (v8, "Buffered Resume"); HELLO, the
# heartbeat ACK and RESUMED answer this socket alone and are never replayed, so carry none.


def hello(heartbeat_interval_ms: int) -> str:
    return _dumps({"op": Op.HELLO, "d": {"heartbeat_interval": heartbeat_interval_ms}})


def heartbeat_ack(nonce: int, version: int) -> str:
    # v8 echoes {"t": nonce}; before v8 the nonce alone.
    return _dumps({"op": Op.HEARTBEAT_ACK, "d": {"t": nonce} if version >= 8 else nonce})


def resumed() -> str:
    return _dumps({"op": Op.RESUMED, "d": None})


def numbered(op: Op, d: object, seq: int) -> str:
    return _dumps({"op": op, "d": d, "seq": seq})


def ready(ssrc: int, ip: str, port: int, modes: tuple[str, ...]) -> dict[str, object]:
    # The docs call READY's heartbeat_interval erroneous (HELLO's counts); neither library
    # reads it, so it is left out.
    return {"ssrc": ssrc, "ip": ip, "port": port, "modes": list(modes)}


def session_description(mode: str, key: bytes) -> dict[str, object]:
    # Trioxide does not do DAVE: version 0 tells both libraries to send plain transport-
    # encrypted audio, and they then never send DAVE ops.
    return {"mode": mode, "secret_key": list(key), "dave_protocol_version": 0}


def speaking(user_id: int, ssrc: int, flags: int) -> dict[str, object]:
    return {"user_id": str(user_id), "ssrc": ssrc, "speaking": flags}


def clients_connect(user_ids: list[int]) -> dict[str, object]:
    return {"user_ids": [str(user_id) for user_id in user_ids]}


def client_disconnect(user_id: int) -> dict[str, object]:
    return {"user_id": str(user_id)}


def _dumps(payload: dict[str, object]) -> str:
    return orjson.dumps(payload).decode()
