"""A TCP relay in front of the voice gateway, so a test can abort a library's voice socket.

The voice gateway sends its public endpoint (TRIOXIDE_PUBLIC_VOICE_ENDPOINT) to clients; a test
that points it at this relay gets every voice WebSocket through here, TLS untouched. `abort`
resets one of them on both sides (SO_LINGER 0: an RST, no close handshake), which the client
sees exactly as the server's socket dying under it (close 1006), and the server as the client's
socket dying. UDP media does not pass through here: READY names the SFU's own address."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from functools import partial

import trio

_CHUNK_BYTES = 65536


@dataclass
class _Link:
    client: trio.SocketStream
    server: trio.SocketStream
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)


class Relay:
    def __init__(self, listening: socket.socket) -> None:
        """`listening`: a bound, listening loopback socket (bound before the server starts, so
        its port can be the server's public voice endpoint)."""
        self._listener = trio.SocketListener(trio.socket.from_stdlib_socket(listening))
        self.links: list[_Link] = []
        self._linked = trio.Condition()

    async def serve(
        self,
        target: tuple[str, int],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Relays each accepted connection to `target` until cancelled."""
        async with trio.open_nursery() as nursery:
            task_status.started()
            while True:
                client = await self._listener.accept()
                nursery.start_soon(self._relay, client, target)

    async def linked(self, count: int) -> _Link:
        """Waits until `count` connections have been relayed; the `count`th."""
        async with self._linked:
            while len(self.links) < count:
                await self._linked.wait()
        return self.links[count - 1]

    def abort(self, link: _Link) -> None:
        for stream in (link.client, link.server):
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        link.scope.cancel()

    async def _relay(self, client: trio.SocketStream, target: tuple[str, int]) -> None:
        server = await trio.open_tcp_stream(*target)
        link = _Link(client, server)
        async with self._linked:
            self.links.append(link)
            self._linked.notify_all()
        with link.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(partial(_pump, client, server, nursery.cancel_scope))
                nursery.start_soon(partial(_pump, server, client, nursery.cancel_scope))
        # Closing after SO_LINGER 0 resets; after a clean end it closes normally.
        with trio.CancelScope(shield=True):
            await client.aclose()
            await server.aclose()


async def _pump(source: trio.SocketStream, sink: trio.SocketStream, both: trio.CancelScope) -> None:
    """Copies until either side ends, then ends the other direction too."""
    try:
        while chunk := await source.receive_some(_CHUNK_BYTES):
            await sink.send_all(chunk)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    both.cancel()
