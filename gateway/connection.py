"""One client's socket: reads awaited by its session task, writes that never wait.

The sending side is native (core/fanout.py): fanout writes every recipient's frame straight to
the kernel in one call per event, and only what the kernel will not take now is queued. A
connection with a queue gets a writer task for as long as the queue lasts, not for its whole
life, so an idle connection costs no task. A queue over its bound means a consumer too slow to
keep up: it is closed (4000) and its client RESUMEs, rather than slowing anyone else down.
"""

from __future__ import annotations

import trio

from core.fanout import SENT_BACKLOGGED, SENT_REFUSED, Outlet


class Connection(Outlet):
    __slots__ = ("_flushed", "_writers")

    def __new__(cls, fd: int, max_queued_bytes: int, writers: trio.Nursery) -> Connection:
        return super().__new__(cls, fd, max_queued_bytes)

    def __init__(self, fd: int, max_queued_bytes: int, writers: trio.Nursery) -> None:
        self._writers = writers  # where writer tasks run: they outlive no connection
        self._flushed: trio.Event | None = None  # set while a writer runs

    async def receive(self) -> bytes:
        """The next bytes from the client; b"" when it has gone."""
        while (data := self.read()) is None:
            await trio.lowlevel.wait_readable(self.fileno)
        return data

    def took(self, sent: int) -> bool:
        """Starts the writer if `sent` (a SENT_* code) says the queue has just begun; False
        if the bytes were refused (closed, or the queue full)."""
        if sent == SENT_BACKLOGGED:
            self.start_writer()
        return sent != SENT_REFUSED

    def send(self, message: bytes) -> bool:
        """One gateway message, through the connection's compression."""
        return self.took(self.send_message(message))

    def send_bytes(self, data: bytes) -> bool:
        """Bytes as they are: HTTP, before the upgrade."""
        return self.took(self.send_raw(data))

    def close(self, code: int, reason: str = "") -> int:
        """A close frame after the whole frames queued, then no more."""
        sent = super().close(code, reason)
        self.took(sent)
        return sent

    def start_writer(self) -> None:
        if self._flushed is None:
            self._flushed = trio.Event()
            self._writers.start_soon(self._write_queue)

    async def _write_queue(self) -> None:
        flushed = self._flushed
        assert flushed is not None
        try:
            while not self.flush():
                await trio.lowlevel.wait_writable(self.fileno)
        except (trio.ClosedResourceError, OSError):
            pass  # the connection was shut meanwhile
        finally:
            self._flushed = None
            flushed.set()

    async def flushed(self) -> None:
        """Returns once everything queued so far has gone to the kernel (or failed)."""
        if self._flushed is not None:
            await self._flushed.wait()

    def shut(self) -> None:
        """Closes the socket, waking any task waiting on it."""
        trio.lowlevel.notify_closing(self.fileno)
        self.shutdown()
