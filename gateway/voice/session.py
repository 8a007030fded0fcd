"""One voice session, and the socket that carries it.

A session is what a RESUME gets back: its SSRC, mode and key (so the SFU keeps its UDP path),
its place in the call, and the messages the client has not acknowledged: those written to a
socket (numbered as they are written, kept for a replay) and those waiting to be written. A
link is one socket's hold on it: its own replies, which its writer sends first, and the close
the node may ask of it. Everything here is synchronous: the node's hooks and other sessions
call in without waiting.

Bounds (limits.py): a SPEAKING waiting for a socket is replaced by its speaker's next one, so
what waits is the call's joins and leaves and one SPEAKING per speaker; more than max_queued
waiting for an attached socket means the client is too slow, asked to go 4015 and resume with
everything still here (max_queued < max_replay). A session that fell further behind than
max_replay cannot resume (4006) and joins again.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import TYPE_CHECKING

import trio

from gateway.voice import close, payloads

if TYPE_CHECKING:
    from core.domain.voice import VoiceState
    from gateway.voice.limits import VoiceLimits
    from gateway.voice.payloads import Op


class Link:
    """One socket: its own replies waiting to be written (HELLO, heartbeat ACKs, RESUMED and
    a replay), the session it carries, and the close asked of it (first wins)."""

    __slots__ = ("_asked", "_closed", "_max_replies", "_replies", "_wake", "asked", "session")

    def __init__(self, limits: VoiceLimits) -> None:
        self._replies: deque[str] = deque()
        # A RESUME's replay and the heartbeat ACKs the payload limit lets through fit.
        self._max_replies = limits.max_replay + limits.max_queued
        self._wake = trio.Event()
        self._closed = False
        self._asked = trio.Event()
        self.asked: tuple[int, str] | None = None
        self.session: VoiceSession | None = None  # set by VoiceSession.attach

    def write(self, text: str) -> None:
        """Queues a reply of this socket's own (never numbered) without waiting."""
        if self._closed:
            return  # its writer has gone: the socket is closing already
        self._replies.append(text)
        if len(self._replies) > self._max_replies:
            self.ask_close(*close.SLOW)
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def next(self) -> str:
        """The next text to write: a reply of its own first, then its session's next
        message (numbered now)."""
        while True:
            if self._replies:
                return self._replies.popleft()
            if self.session is not None:
                text = self.session.take(self)
                if text is not None:
                    return text
            self._wake = trio.Event()
            await self._wake.wait()

    def close(self) -> None:
        """Its writer has stopped: what is written to it from now on is dropped."""
        self._closed = True
        self._replies.clear()

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
        self._max_queued = limits.max_queued
        self._seq = 0  # the last number given (to a message written to a socket)
        self._replay: deque[tuple[int, str]] = deque()  # written, not yet acknowledged
        self._floor = 0  # every message numbered above this is still in the replay
        # Waiting for a socket, in order; a SPEAKING keyed by its speaker's SSRC (its next
        # one replaces it, at the end), anything else by a number of its own.
        self._waiting: OrderedDict[object, tuple[Op, object]] = OrderedDict()
        self._keys = 0
        self._lost = False  # something it was sent is gone: it cannot resume

    def __repr__(self) -> str:  # ids only: never the key
        return f"VoiceSession(guild_id={self.guild_id}, user_id={self.user_id})"

    def send(self, op: Op, d: object, *, speaker: int | None = None) -> None:
        """Queues a message for the client without waiting. A SPEAKING names its `speaker`'s
        SSRC: it replaces that speaker's SPEAKING still waiting, if any."""
        key: object
        if speaker is None:
            self._keys += 1
            key = self._keys
        else:
            key = ("speaking", speaker)
            self._waiting.pop(key, None)
        self._waiting[key] = (op, d)
        if len(self._waiting) > self._max_replay:  # long gone, or a link that never drains
            self._lost = True
            self._waiting.clear()
        link = self.link
        if link is not None:
            if len(self._waiting) > self._max_queued:
                link.ask_close(*close.SLOW)  # it resumes: everything is still here
            link.wake()

    def take(self, link: Link) -> str | None:
        """The next waiting message, numbered, for `link` to write (None: nothing waits, or
        `link` no longer carries this session). Kept for a replay until acknowledged."""
        if self.link is not link or not self._waiting:
            return None
        _, (op, d) = self._waiting.popitem(last=False)
        self._seq += 1
        text = payloads.numbered(op, d, self._seq)
        if self.version >= 8:  # ("Buffered Resume" is v8's)
            self._replay.append((self._seq, text))
            if len(self._replay) > self._max_replay:
                self._floor = self._replay.popleft()[0]
        return text

    def acknowledge(self, seq_ack: int) -> None:
        """The client has every message up to `seq_ack`: they need no replay."""
        while self._replay and self._replay[0][0] <= seq_ack:
            self._floor = self._replay.popleft()[0]

    def missed(self, seq_ack: int) -> list[str] | None:
        """The written messages a RESUME acknowledging `seq_ack` did not get, in order (those
        still waiting follow them); None when some of them are no longer kept, or `seq_ack`
        names one never sent. Before v8 clients acknowledge nothing and get nothing replayed."""
        if self._lost:
            return None
        if self.version < 8:
            return []
        if seq_ack > self._seq or max(seq_ack, 0) < self._floor:
            return None
        return [text for seq, text in self._replay if seq > seq_ack]

    def attach(self, link: Link) -> None:
        """`link` carries the session from now on; a link still holding it is told to go."""
        old = self.link
        if old is not None and old is not link:
            old.ask_close(*close.SUPERSEDED)
            old.session = None
        self.link = link
        link.session = self
        self.detached_at = None
        link.wake()

    def detach(self, link: Link, now: float) -> None:
        """`link`'s socket dropped: the session waits for a RESUME (unless another socket
        took it over meanwhile)."""
        if self.link is link:
            self.link = None
            link.session = None
            self.detached_at = now
