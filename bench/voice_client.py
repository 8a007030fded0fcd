"""A voice participant's signalling, as a bot does it: op 4 on its main gateway session, then
the voice gateway (v8, over TLS) — IDENTIFY, READY, IP discovery from the participant's own
UDP socket, SELECT_PROTOCOL, SESSION_DESCRIPTION — and both connections kept alive (heartbeats,
everything the server says read and let go) while the generator uses the socket."""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import trio
from trio_websocket import ConnectionClosed, HandshakeError, connect_websocket_url

from bench.gateway_client import GatewayError, GatewaySession
from bench.target import BenchError

if TYPE_CHECKING:
    import socket
    import ssl

    from trio_websocket import WebSocketConnection

MODES = ("aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize")
DISCOVERY_BYTES = 74
_DISCOVERY = struct.Struct(">HHI64sH")  # type, length (70), SSRC, address, port
_DISCOVERY_TIMEOUT_S = 5.0
_SIGNALLING_TIMEOUT_S = 15.0

# Voice gateway opcodes (v8)
IDENTIFY, SELECT_PROTOCOL, READY, HEARTBEAT, SESSION_DESCRIPTION, SPEAKING = 0, 1, 2, 3, 4, 5
HELLO = 8


def discovery_request(ssrc: int) -> bytes:
    return _DISCOVERY.pack(1, 70, ssrc, b"", 0)


def read_discovery(answer: bytes, ssrc: int) -> tuple[str, int]:
    """The address and port a discovery answer says the server saw."""
    if len(answer) != DISCOVERY_BYTES:
        raise BenchError(f"IP discovery answered {len(answer)} bytes, not {DISCOVERY_BYTES}")
    kind, length, answered_ssrc, address, port = _DISCOVERY.unpack(answer)
    if (kind, length, answered_ssrc) != (2, 70, ssrc):
        raise BenchError(f"IP discovery answered type {kind}, length {length}, another SSRC")
    return address.split(b"\0", 1)[0].decode(), port


async def discover(sock: socket.socket, ssrc: int, server: tuple[str, int]) -> tuple[str, int]:
    """IP discovery from `sock`, which stays blocking for the generator: its timeout is set for
    the exchange only, in a worker thread."""

    def exchange() -> bytes:
        sock.settimeout(_DISCOVERY_TIMEOUT_S)
        try:
            sock.sendto(discovery_request(ssrc), server)
            while True:
                answer, source = sock.recvfrom(2048)
                if source == server:
                    return answer
        except TimeoutError:
            raise BenchError("IP discovery went unanswered") from None
        finally:
            sock.settimeout(None)

    return read_discovery(await trio.to_thread.run_sync(exchange), ssrc)


@dataclass(frozen=True)
class Joined:
    """What op 4 brought: the voice state's session and the VOICE_SERVER_UPDATE."""

    session_id: str
    token: str
    endpoint: str


async def join_channel(
    gateway: GatewaySession,
    user_id: str,
    guild_id: str,
    channel_id: str,
    *,
    self_mute: bool,
    self_deaf: bool,
) -> Joined:
    """Op 4, then the two dispatches it brings to this session."""
    await gateway.send(
        4,
        {
            "guild_id": guild_id,
            "channel_id": channel_id,
            "self_mute": self_mute,
            "self_deaf": self_deaf,
        },
    )
    state: dict[str, Any] | None = None
    server: dict[str, Any] | None = None
    with trio.move_on_after(_SIGNALLING_TIMEOUT_S):
        while state is None or server is None:
            dispatch = await gateway.next_dispatch()
            d = dispatch.d
            if dispatch.name == "VOICE_STATE_UPDATE" and d.get("user_id") == user_id:
                state = d
            elif dispatch.name == "VOICE_SERVER_UPDATE" and d.get("guild_id") == guild_id:
                server = d
    if state is None or server is None:
        raise BenchError("op 4 brought no VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE in 15 s")
    if not server.get("endpoint"):
        raise BenchError("VOICE_SERVER_UPDATE named no endpoint: no voice node is running")
    return Joined(str(state["session_id"]), str(server["token"]), str(server["endpoint"]))


@dataclass(eq=False)
class VoiceConnection:
    """A voice gateway connection past SESSION_DESCRIPTION."""

    ws: WebSocketConnection
    ssrc: int
    mode: str
    key: bytes
    server: tuple[str, int]  # the UDP address of READY
    heartbeat_interval_s: float
    seq: int = -1  # the last numbered message's seq, for seq_ack
    leaving: bool = False  # we close it: its end is not a loss

    async def send(self, op: int, d: object) -> None:
        await self.ws.send_message(orjson.dumps({"op": op, "d": d}).decode())

    async def receive(self) -> dict[str, Any]:
        message = orjson.loads(await self.ws.get_message())
        if not isinstance(message, dict):
            raise BenchError("the voice gateway sent JSON that is not an object")
        if isinstance(message.get("seq"), int):
            self.seq = message["seq"]
        return message

    async def expect(self, op: int) -> dict[str, Any]:
        """The `d` of the next message with `op`, others let go."""
        with trio.fail_after(_SIGNALLING_TIMEOUT_S):
            while True:
                message = await self.receive()
                if message.get("op") == op:
                    d: dict[str, Any] = message["d"]
                    return d


async def open_voice(
    nursery: trio.Nursery,
    joined: Joined,
    *,
    guild_id: str,
    user_id: str,
    sock: socket.socket,
    mode: str,
    ssl_context: ssl.SSLContext,
) -> VoiceConnection:
    """HELLO, IDENTIFY, READY, IP discovery from `sock`, SELECT_PROTOCOL, SESSION_DESCRIPTION;
    `sock` is left connected to the server's UDP address. The connection lives in `nursery`."""
    url = f"wss://{joined.endpoint}/?v=8"
    try:
        ws = await connect_websocket_url(nursery, url, ssl_context, message_queue_size=16)
    except (OSError, HandshakeError) as error:
        raise BenchError(f"cannot open the voice gateway at {joined.endpoint}: {error}") from None
    hello_first = orjson.loads(await ws.get_message())
    if hello_first.get("op") != HELLO:
        raise BenchError(f"the voice gateway opened with op {hello_first.get('op')}, not HELLO")
    interval_s = float(hello_first["d"]["heartbeat_interval"]) / 1000
    identify = {
        "server_id": guild_id,
        "user_id": user_id,
        "session_id": joined.session_id,
        "token": joined.token,
        "max_dave_protocol_version": 0,
    }
    await ws.send_message(orjson.dumps({"op": IDENTIFY, "d": identify}).decode())
    connection = VoiceConnection(ws, 0, mode, b"", ("", 0), interval_s)
    try:
        ready = await connection.expect(READY)
        if mode not in ready.get("modes", ()):
            raise BenchError(f"the voice gateway does not offer {mode}: {ready.get('modes')}")
        connection.ssrc = int(ready["ssrc"])
        connection.server = (str(ready["ip"]), int(ready["port"]))
        address, port = await discover(sock, connection.ssrc, connection.server)
        sock.connect(connection.server)
        data = {"address": address, "port": port, "mode": mode}
        await connection.send(SELECT_PROTOCOL, {"protocol": "udp", "data": data})
        described = await connection.expect(SESSION_DESCRIPTION)
    except ConnectionClosed as closed:
        raise BenchError(f"the voice gateway closed the connection ({closed.reason})") from None
    if described.get("mode") != mode or len(described.get("secret_key", ())) != 32:
        raise BenchError("SESSION_DESCRIPTION came without the mode asked or a 32-byte key")
    connection.key = bytes(described["secret_key"])
    return connection


async def keep_voice(connection: VoiceConnection, lost: list[str]) -> None:
    """Heartbeats at the interval HELLO gave and reads whatever comes, until cancelled; a
    connection the server closed is noted in `lost`."""

    async def beat() -> None:
        while True:
            await trio.sleep(connection.heartbeat_interval_s * 0.9)
            now_ms = int(time.time() * 1000)
            await connection.send(HEARTBEAT, {"t": now_ms, "seq_ack": connection.seq})

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(beat)
            while True:
                await connection.receive()
    except* ConnectionClosed as closed:
        if not connection.leaving:
            reason = getattr(closed.exceptions[0], "reason", None)
            lost.append(f"voice gateway closed {getattr(reason, 'code', None)}")


async def keep_gateway(session: GatewaySession, lost: list[str]) -> None:
    """The main gateway session's heartbeats, and its messages read and let go."""

    async def beat() -> None:
        while True:
            await trio.sleep(session.heartbeat_interval_s * 0.9)
            await session.send(1, session.seq or None)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(beat)
            while True:
                message = await session.next_message()
                if message.get("op") == 0:
                    session.seq = message.get("s") or session.seq
    except* (GatewayError, OSError, trio.BrokenResourceError) as error:
        lost.append(f"gateway: {error.exceptions[0]}")
