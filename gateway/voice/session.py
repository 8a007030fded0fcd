"""One voice session, and the socket that carries it.

A session is what a RESUME gets back: its SSRC, mode and key (so the SFU keeps its UDP path),
its place in the call, and the numbered messages the client has not acknowledged. A link is
one socket's hold on it: the queue its writer drains and the close the node may ask of it.
Everything here is synchronous: the node's hooks and other sessions call in without waiting.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import trio

from gateway.voice import close, payloads

if TYPE_CHECKING:
    from core.domain.voice import VoiceState
    from gateway.voice.limits import VoiceLimits
    from gateway.voice.payloads import Op


class Link:
    """One socket: what waits to be written to it, and the close asked of it (first wins)."""

    __slots__ = ("_asked", "_outbox", "asked")

    def __init__(self, outbox: trio.MemorySendChannel[str]) -> None:
        self._outbox = outbox
        self._asked = trio.Event()
        self.asked: tuple[int, str] | None = None

    def write(self, text: str) -> None:
        """Queues `text` without waiting. A client too slow to take it is asked to go (4015:
        it resumes, and the session's replay has what it missed)."""
        try:
            self._outbox.send_nowait(text)
        except trio.WouldBlock:
            self.ask_close(*close.SLOW)
        except trio.BrokenResourceError:
            pass  # its writer has gone: the socket is closing already

    def ask_close(self, code: int, reason: str) -> None:
        if self.asked is None:
            self.asked = (code, reason)
            self._asked.set()

    async def wait_asked(self) -> tuple[int, str]:
        await self._asked.wait()
        assert self.asked is not None
        return self.asked


class VoiceSession:
    """A user's voice connection to one call on this node, across its sockets."""

    def __init__(self, state: VoiceState, ssrc: int, version: int, limits: VoiceLimits) -> None:
        self.guild_id = state.guild_id
        self.user_id = state.user_id
        self.session_id = state.session_id  # the main gateway session's
        assert state.channel_id is not None
        self.channel_id: int = state.channel_id
        self.speaks = state.speaks
        self.hears = state.hears
        self.ssrc = ssrc
        self.version = version
        self.mode: str | None = None  # set by SELECT_PROTOCOL
        self.key: bytes | None = None
        self.speaking: int | None = None  # the flags of its last SPEAKING, None before one
        self.link: Link | None = None
        self.detached_at: float | None = None  # when its last socket dropped
        self.ended = False
        self._max_replay = limits.max_replay
        self._seq = 0  # the last number given
        self._replay: deque[tuple[int, str]] = deque()
        self._floor = 0  # every message numbered above this is still in the replay

    def __repr__(self) -> str:  # ids only: never the key
        return f"VoiceSession(guild_id={self.guild_id}, user_id={self.user_id})"

    def send(self, op: Op, d: object) -> None:
        """Numbers a message, keeps it for a RESUME, and writes it if a socket is attached."""
        self._seq += 1
        text = payloads.numbered(op, d, self._seq)
        self._replay.append((self._seq, text))
        if len(self._replay) > self._max_replay:
            self._floor = self._replay.popleft()[0]
        if self.link is not None:
            self.link.write(text)

    def acknowledge(self, seq_ack: int) -> None:
        """The client has every message up to `seq_ack`: they need no replay."""
        while self._replay and self._replay[0][0] <= seq_ack:
            self._floor = self._replay.popleft()[0]

    def missed(self, seq_ack: int) -> list[str] | None:
        """The messages a RESUME acknowledging `seq_ack` did not get, in order; None when
        some of them are no longer kept, or `seq_ack` names one never sent. Before v8
        clients acknowledge nothing and get nothing replayed ("Buffered Resume" is v8's)."""
        if self.version < 8:
            return []
        if seq_ack > self._seq or max(seq_ack, 0) < self._floor:
            return None
        return [text for seq, text in self._replay if seq > seq_ack]

    def attach(self, link: Link) -> None:
        """`link` carries the session from now on; a link still holding it is told to go."""
        if self.link is not None and self.link is not link:
            self.link.ask_close(*close.SUPERSEDED)
        self.link = link
        self.detached_at = None

    def detach(self, link: Link, now: float) -> None:
        """`link`'s socket dropped: the session waits for a RESUME (unless another socket
        took it over meanwhile)."""
        if self.link is link:
            self.link = None
            self.detached_at = now
