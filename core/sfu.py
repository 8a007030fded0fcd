"""The SFU: Discord voice over UDP, forwarded by a native thread. The only module that names it.

The voice gateway tells it who is in which channel, with which key and mode, who speaks and
who hears; the media thread forwards each speaker's packets to the other listeners of its
channel, re-encrypted with each listener's key. Every call here is synchronous and
non-blocking: it queues a change the thread applies before it forwards any packet that
arrived after the call.

The thread should live as long as `open_sfu`'s context. If it ends before (a panic: a bug),
no media flows: open_sfu reports the fault once (boundary "sfu"), cancels the context's body
and raises MediaThreadEnded, inside an exception group like any nursery's error. The voice
gateway does not catch it, so it ends the process's roles (trioxide/server.py) and the
process exits: a voice node without media must be restarted, not kept up half-working.
"""

from __future__ import annotations

import ipaddress
import socket
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

import trio

from core.faults import report_fault
from core.metrics import VOICE_BYTES, VOICE_DROPPED, VOICE_EVENTS, VOICE_PACKETS
from trioxide_native import SfuHandle

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

__all__ = ["MediaThreadEnded", "Sfu", "open_sfu"]


class MediaThreadEnded(RuntimeError):
    """The SFU's media thread ended while its `open_sfu` context was still open."""


class Sfu:
    """The running SFU. An unknown SSRC is a no-op for every change but `add` (a race with a
    leave is normal); `add` of a known SSRC replaces it."""

    __slots__ = ("_handle", "port")

    def __init__(self, handle: SfuHandle) -> None:
        self._handle = handle
        self.port: int = handle.port
        """The bound UDP port."""

    @property
    def running(self) -> bool:
        """Whether the media thread runs (until open_sfu's exit, unless it died)."""
        return self._handle.running

    def add(self, ssrc: int, channel_id: int, *, speaks: bool, hears: bool) -> None:
        """A participant, at voice READY. It has no UDP address until `bind`, and sends and
        hears nothing before `set_key`."""
        self._handle.add(ssrc, channel_id, speaks=speaks, hears=hears)

    def bind(self, ssrc: int, host: str, port: int) -> None:
        """The address and port the client declared in SELECT_PROTOCOL. Discovery requests
        naming the SSRC (from anyone) only make their sources candidates; this binds the
        declared address if it is one, else the most recent candidate (a client behind a NAT
        declares its local address). With no candidate yet, the first discovery from exactly
        the declared address binds it. Later, a packet that authenticates with the SSRC's key
        from another address rebinds it there (counted in `rebinds`). A host that is not an
        IPv4 address, or a port outside 1-65535, declares nothing usable."""
        self._handle.bind(ssrc, host, port if 0 < port < 65536 else 0)

    def set_key(self, ssrc: int, mode: str, key: bytes) -> None:
        """The mode and secret key of SESSION_DESCRIPTION. ValueError for a mode other than
        "aead_aes256_gcm_rtpsize" and "aead_xchacha20_poly1305_rtpsize", or a key that is not
        32 bytes (nothing changes then)."""
        self._handle.set_key(ssrc, mode, key)

    def set_flags(self, ssrc: int, *, speaks: bool, hears: bool) -> None:
        """`speaks`: its packets are forwarded (not muted nor suppressed); `hears`: it gets the
        others' (not deafened)."""
        self._handle.set_flags(ssrc, speaks=speaks, hears=hears)

    def move(self, ssrc: int, channel_id: int) -> None:
        """It now speaks to and hears `channel_id` (key and address are kept)."""
        self._handle.move(ssrc, channel_id)

    def remove(self, ssrc: int) -> None:
        self._handle.remove(ssrc)

    def address(self, ssrc: int) -> tuple[str, int] | None:
        """The `(ip, port)` it is bound to (see `bind`); None until the thread has bound it."""
        return self._handle.address(ssrc)

    def counters(self) -> dict[str, int]:
        """packets_in, bytes_in, packets_out, bytes_out, discovery_answers, rebinds, io_errors
        and dropped_<reason> (see `trioxide_native.SfuHandle.counters`)."""
        return self._handle.counters()


async def _ipv4(host: str) -> str:
    """`host` as an IPv4 address: itself if it is one, else its first IPv4 address."""
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    try:
        found = await trio.socket.getaddrinfo(host, None, family=socket.AF_INET)
    except socket.gaierror:
        found = []
    for *_, address in found:
        return str(address[0])
    raise OSError(f"{host!r} has no IPv4 address: the SFU binds IPv4 only")


_EVENTS = ("discovery_answers", "rebinds", "io_errors")


@contextmanager
def _metrics(sfu: Sfu) -> Iterator[None]:
    """The SFU's counters on /metrics while it runs (a scrape reads them once per metric)."""

    def read(metric: str) -> Callable[[], dict[tuple[str, ...], float]]:
        return lambda: _split(sfu.counters())[metric]

    with (
        VOICE_PACKETS.track(read("packets")),
        VOICE_BYTES.track(read("bytes")),
        VOICE_DROPPED.track(read("dropped")),
        VOICE_EVENTS.track(read("events")),
    ):
        yield


def _split(counters: dict[str, int]) -> dict[str, dict[tuple[str, ...], float]]:
    split: dict[str, dict[tuple[str, ...], float]] = {
        "packets": {},
        "bytes": {},
        "dropped": {},
        "events": {},
    }
    for name, value in counters.items():
        kind, _, label = name.partition("_")
        if kind in ("packets", "bytes") and label in ("in", "out"):
            split[kind][(label,)] = value
        elif kind == "dropped":
            split["dropped"][(label,)] = value
        elif name in _EVENTS:
            split["events"][(name,)] = value
    return split


async def _watch(handle: SfuHandle) -> None:
    """Returns only by cancellation (open_sfu's exit): if the thread ends first, reports it
    once and raises MediaThreadEnded."""
    await trio.lowlevel.wait_readable(handle.ended_fd)
    try:
        await trio.to_thread.run_sync(handle.join)  # it has ended: returns at once
    except RuntimeError as panic:
        ended = MediaThreadEnded("the SFU media thread panicked")
        ended.__cause__ = panic
    else:
        ended = MediaThreadEnded("the SFU media thread stopped")
    report_fault("sfu", ended)
    raise ended


@asynccontextmanager
async def open_sfu(host: str, port: int) -> AsyncIterator[Sfu]:
    """Binds UDP host:port (port 0: any free one), starts the media thread, and stops and
    joins it on exit (in a worker thread: the Trio loop never blocks). Watches the thread
    meanwhile: see the module's docstring for a thread that ends early. As with any nursery,
    an error raised in the body leaves wrapped in an exception group."""
    handle = SfuHandle(await _ipv4(host), port)
    sfu = Sfu(handle)
    try:
        async with trio.open_nursery() as watching:
            watching.start_soon(_watch, handle)
            with _metrics(sfu):
                yield sfu
            watching.cancel_scope.cancel()
    finally:
        handle.close()
        # The thread stops after the batch in hand: shielded, so a cancelled caller still
        # leaves no thread behind.
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(handle.join)
