"""The WebSocket side the test clients of both gateways share: wsproto (a real WebSocket
implementation) driven by hand over a Trio stream (TCP for the main gateway, TLS for the voice
gateway), so each test says exactly what a client sends. What each protocol puts in its
messages is the subclasses' (tests/gateway/client.py, tests/voice/client.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import trio
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    TextMessage,
)

if TYPE_CHECKING:
    from wsproto import WSConnection

WAIT_S = 5

StreamT = TypeVar("StreamT", bound=trio.abc.Stream)


class Closed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class WebSocketClient(Generic[StreamT]):
    stream: StreamT
    ws: WSConnection
    hello: dict[str, Any] = field(default_factory=dict)
    close_code: int | None = None
    # How long a read may wait. On trio.testing.MockClock (timing tests) it counts mock
    # seconds, so those tests raise it past the protocol deadlines they wait for.
    wait_s: float = WAIT_S
    _parts: list[str | bytes] = field(default_factory=list)
    _ready: list[str | bytes] = field(default_factory=list)

    async def _pump(self) -> None:
        """Reads once from the stream and handles what arrived (a reset reads as 1006)."""
        try:
            data = await self.stream.receive_some()
        except trio.BrokenResourceError:
            data = b""
        if not data:
            raise Closed(self.close_code or 1006)
        self.ws.receive_data(bytes(data))
        for event in self.ws.events():
            if isinstance(event, Message):
                self._parts.append(event.data)
                if event.message_finished:
                    joined = b"".join(
                        p if isinstance(p, bytes) else p.encode() for p in self._parts
                    )
                    self._ready.append(
                        joined if isinstance(event, BytesMessage) else joined.decode()
                    )
                    self._parts = []
            elif isinstance(event, Ping):
                await self.stream.send_all(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.close_code = event.code
                if self.ws.state is ConnectionState.REMOTE_CLOSING:  # (else it answers ours)
                    await self.stream.send_all(self.ws.send(event.response()))
            elif isinstance(event, AcceptConnection | RejectConnection):
                self._ready.append("")  # marks the handshake's answer
                if isinstance(event, RejectConnection):
                    raise Refused(event.status_code)

    async def get_message(self) -> str | bytes:
        with trio.fail_after(self.wait_s):
            while not self._ready:
                if self.close_code is not None:
                    raise Closed(self.close_code)
                await self._pump()
        return self._ready.pop(0)

    async def send_text(self, text: str) -> None:
        await self.stream.send_all(self.ws.send(TextMessage(text)))

    async def send(self, op: int, d: object) -> None:
        await self.send_text(json.dumps({"op": op, "d": d}))

    async def close(self, code: int) -> None:
        await self.stream.send_all(self.ws.send(CloseConnection(code)))

    async def closed_with(self) -> int:
        """Reads until the server closes; its close code."""
        try:
            while True:
                await self.get_message()
        except Closed as closed:
            return closed.code
