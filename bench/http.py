"""A lean HTTP/1.1 client for load generation: one keep-alive connection, one request at a
time, just enough parsing for JSON APIs. Far cheaper per request than a full client, so the
load generator is not what a benchmark measures."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
import trio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> object:
        # orjson: a history page's 30 KB parse in a tenth of the time, which the timings count.
        return orjson.loads(self.body)


class Connection:
    def __init__(self, stream: trio.SocketStream, host: str, port: int) -> None:
        self._stream = stream
        self._host = host
        self._port = port
        self._buffer = b""
        self._closing = False  # the server said it closes after its answer

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: object = None
    ) -> Answer:
        if self._closing:  # servers cap requests per connection (hypercorn: 1,000); reconnect
            await self._reconnect()
        payload = b"" if body is None else orjson.dumps(body)
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self._host}:{self._port}",
            f"Content-Length: {len(payload)}",
        ]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        try:
            await self._stream.send_all(request)
            head = await self._read_until(b"\r\n\r\n")
        except (trio.BrokenResourceError, ConnectionError):
            # An idle keep-alive connection the server closed meanwhile: nothing of this
            # request was answered, so it is sent once more on a new connection.
            await self._reconnect()
            await self._stream.send_all(request)
            head = await self._read_until(b"\r\n\r\n")
        status_line, *header_lines = head.split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        for line in header_lines:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                self._closing = True
        return Answer(status, await self._read_exactly(length))

    async def _reconnect(self) -> None:
        await self._stream.aclose()
        self._stream = await trio.open_tcp_stream(self._host, self._port)
        self._buffer, self._closing = b"", False

    async def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    async def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self._buffer += chunk
        body, self._buffer = self._buffer[:size], self._buffer[size:]
        return body


@asynccontextmanager
async def connect(host: str, port: int) -> AsyncIterator[Connection]:
    connection = Connection(await trio.open_tcp_stream(host, port), host, port)
    try:
        yield connection
    finally:
        await connection.aclose()
