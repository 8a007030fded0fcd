"""One client's socket: reads awaited by its session task, writes that never wait.

Fanout calls `send` for every recipient of an event without awaiting: the bytes go straight to
the kernel, and only what the kernel will not take now is queued for this connection's writer
task. A queue over its bound means a consumer too slow to keep up: `send` says so, and the
session closes it (4000) so the client RESUMEs, rather than slowing anyone else down.
"""

from __future__ import annotations

import contextlib
import socket
from collections import deque

import trio

from gateway.websocket import close_frame

_RECEIVE_BYTES = 65536


class Connection:
    def __init__(self, sock: socket.socket, max_queued_bytes: int) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._max_queued = max_queued_bytes
        self._pending: deque[bytes] = deque()  # the head may be the tail of a frame
        self._head_started = False  # part of the head frame is already on the wire
        self._queued = 0
        self._wake = trio.Event()
        self._flushed = trio.Event()
        self._flushed.set()
        self.open = True  # False once the socket failed or a close was sent

    @property
    def queued(self) -> int:
        """Bytes waiting for the writer task."""
        return self._queued

    # Reading: only the session task reads.

    async def receive(self) -> bytes:
        """The next bytes from the client; b"" when it has gone."""
        while True:
            try:
                return self._sock.recv(_RECEIVE_BYTES)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self._sock)
            except OSError:
                self.open = False
                return b""

    # Writing: anyone, without awaiting.

    def send(self, data: bytes) -> bool:
        """Writes `data` now, or queues what the kernel will not take. False if the
        connection is closed or its queue would pass its bound (nothing is queued then)."""
        if not self.open:
            return False
        if not self._pending:
            try:
                sent = self._sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.open = False
                return False
            if sent == len(data):
                return True
            self._head_started = sent > 0
            data = data[sent:]
        if self._queued + len(data) > self._max_queued:
            return False
        self._pending.append(data)
        self._queued += len(data)
        self._flushed = trio.Event() if self._flushed.is_set() else self._flushed
        self._wake.set()
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Sends a close frame after whatever whole frames are queued, then no more. A frame
        already partly sent is finished first, so the stream stays well formed."""
        if not self.open:
            return
        if not self.send(close_frame(code, reason)):
            self._replace_queue_with_close(code, reason)
        self.open = False

    def _replace_queue_with_close(self, code: int, reason: str) -> None:
        # The queue is full: drop every frame not yet started, keep a started one's tail.
        kept = [self._pending[0]] if self._pending and self._head_started else []
        self._pending = deque([*kept, close_frame(code, reason)])
        self._queued = sum(len(part) for part in self._pending)
        self._wake.set()

    async def writer(self) -> None:
        """Drains the queue as the socket takes it; runs for the connection's life."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._pending:
                await trio.lowlevel.wait_writable(self._sock)
                head = self._pending[0]
                try:
                    sent = self._sock.send(head)
                except BlockingIOError:
                    continue
                except OSError:
                    self.open = False
                    self._pending.clear()
                    break
                self._queued -= sent
                if sent == len(head):
                    self._pending.popleft()
                    self._head_started = False
                else:
                    self._pending[0] = head[sent:]
                    self._head_started = True
            self._flushed.set()

    async def flushed(self) -> None:
        """Returns once everything queued so far has gone to the kernel (or failed)."""
        await self._flushed.wait()

    def shutdown(self) -> None:
        with contextlib.suppress(OSError):  # the peer may have gone already
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
