"""A gateway client for tests: a WebSocket driven by hand (tests/websocket.py) over a Trio TCP
stream, speaking the protocol so each test says exactly what a client sends."""

from __future__ import annotations

import json
import socket
import zlib
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import trio
from pyzstd import ZstdDecompressor
from wsproto import ConnectionType, WSConnection
from wsproto.events import Request

from core.events import ALL_INTENTS, PRIVILEGED_INTENTS
from tests.websocket import Closed, Refused, WebSocketClient

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["DEFAULT_INTENTS", "Closed", "GatewayClient", "Refused", "connect", "open_socket"]

# Every intent but the privileged ones, as most bots ask.
DEFAULT_INTENTS = ALL_INTENTS & ~PRIVILEGED_INTENTS


@dataclass
class GatewayClient(WebSocketClient[trio.SocketStream]):
    inflate: Any = None  # zlib-stream or zstd-stream: a streaming decompressor
    session_id: str = ""
    seq: int = 0

    async def receive(self) -> dict[str, Any]:
        raw = await self.get_message()
        if self.inflate is not None:
            assert isinstance(raw, bytes)
            if isinstance(self.inflate, ZstdDecompressor):
                assert not self.inflate.eof  # one frame for the connection's life
            else:
                assert raw.endswith(b"\x00\x00\xff\xff")  # each message ends a flush
            raw = self.inflate.decompress(raw)  # each message decodes whole, on arrival
        payload: dict[str, Any] = json.loads(raw)
        if payload.get("s") is not None:
            assert payload["s"] == self.seq + 1, (payload["s"], self.seq)
            self.seq = payload["s"]
        return payload

    async def identify(
        self, token: str, intents: int = DEFAULT_INTENTS, **extra: object
    ) -> dict[str, Any]:
        """IDENTIFY, then READY's `d`."""
        await self.send(2, {"token": token, "intents": intents, "properties": {}, **extra})
        ready = await self.dispatch("READY")
        self.session_id = ready["session_id"]
        return ready

    async def dispatch(self, name: str) -> dict[str, Any]:
        """The `d` of the next dispatch, which must be `name`."""
        payload = await self.receive()
        assert (payload["op"], payload["t"]) == (0, name), payload
        return payload["d"]  # type: ignore[no-any-return]

    async def next_named(self, name: str) -> dict[str, Any]:
        """The `d` of the next dispatch called `name`, skipping others."""
        while True:
            payload = await self.receive()
            if payload["op"] == 0 and payload["t"] == name:
                return payload["d"]  # type: ignore[no-any-return]


@asynccontextmanager
async def open_socket(
    url: str,
    query: str = "v=10&encoding=json",
    headers: list[tuple[str, str]] | None = None,
    receive_buffer: int | None = None,
) -> AsyncIterator[GatewayClient]:
    """A connected WebSocket, before the server's first message. `receive_buffer` pins the
    kernel's receive buffer (no autotuning), for a client that is meant to fall behind."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    if receive_buffer is not None:
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    async with stream:
        ws = WSConnection(ConnectionType.CLIENT)
        extra = [(name.encode(), value.encode()) for name, value in headers or []]
        request = Request(host=parts.netloc, target=f"/?{query}", extra_headers=extra)
        await stream.send_all(ws.send(request))
        client = GatewayClient(stream, ws, inflate=_decompressor(query))
        assert await client.get_message() == ""  # accepted
        yield client


def _decompressor(query: str) -> Any:
    if "compress=zlib-stream" in query:
        return zlib.decompressobj()
    if "compress=zstd-stream" in query:
        return ZstdDecompressor()
    return None


@asynccontextmanager
async def connect(
    url: str, query: str = "v=10&encoding=json", receive_buffer: int | None = None
) -> AsyncIterator[GatewayClient]:
    """A connected client that has had its HELLO."""
    async with open_socket(url, query, receive_buffer=receive_buffer) as client:
        hello = await client.receive()
        assert hello["op"] == 10, hello
        client.hello = hello["d"]
        yield client
