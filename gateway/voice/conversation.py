"""The voice protocol on one socket, from HELLO to close: heartbeats, the IDENTIFY deadline,
and one handler per op (Voice Connections docs, v8).

A conversation sees its node only through `Node`. It runs three tasks beside its reader (the
writer draining its link, the heartbeat clock, and a watch for a close the node asks of it);
the first to end the conversation says how, and the others are cancelled. Then the session is
settled: kept for a RESUME after a drop, or out of its call for good, and the socket closed.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import TYPE_CHECKING, Protocol

import trio
from trio_websocket import ConnectionClosed

from core.domain.voice import MODES
from core.faults import report_fault
from gateway.voice import payloads
from gateway.voice.close import (
    CLIENT_ENDS_KEEPING_SESSION,
    KEEPS_SESSION,
    AlreadyAuthenticated,
    AuthenticationFailed,
    Closing,
    Draining,
    NotAuthenticated,
    RateLimited,
    SessionNoLongerValid,
    UnknownEncryptionMode,
    UnknownProtocol,
    VoiceClose,
    close_for,
)
from gateway.voice.payloads import Heartbeat, Identify, Resume, SelectProtocol, Speaking
from gateway.voice.session import Link

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from trio_websocket import WebSocketConnection

    from core.domain.voice import VoiceState
    from gateway.voice.calls import Calls
    from gateway.voice.limits import VoiceLimits
    from gateway.voice.payloads import ClientMessage
    from gateway.voice.session import VoiceSession

CLOSE_S = 2.0  # how long a closing handshake may take before the socket is just dropped


class Node(Protocol):
    """What a conversation may ask of the voice node it runs on."""

    limits: VoiceLimits
    calls: Calls
    links: set[Link]  # every open socket's, so that a drain reaches those not yet in a call
    draining: bool

    async def grant(
        self, guild_id: int, user_id: int, session_id: str, token: str
    ) -> VoiceState | None: ...


class Conversation:
    def __init__(self, node: Node, ws: WebSocketConnection, version: int) -> None:
        self._node = node
        self._calls = node.calls
        self._limits = node.limits
        self._ws = ws
        self._version = version
        self._link = Link(node.limits)
        self._payload_times: deque[float] = deque()  # when each of the last minute's came
        self.session: VoiceSession | None = None
        self._last_beat = trio.current_time()
        self._scope = trio.CancelScope()
        self._ended = False
        self._closing: tuple[int, str] | None = None  # ours; None: the client's doing
        self._client_code: int | None = None  # the code the client closed with, if any

    async def run(self) -> None:
        """Converses until either side ends it; closes the socket (or finds it closed) on
        return. Cancel-safe: a cancelled conversation leaves its session for a RESUME."""
        self._node.links.add(self._link)
        try:
            self._link.write(payloads.hello(self._limits.heartbeat_interval_ms))
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                nursery.start_soon(self._guarded, self._write)
                nursery.start_soon(self._guarded, self._watch)
                nursery.start_soon(self._guarded, self._expect_heartbeats)
                await self._guarded(self._read)
        finally:
            self._node.links.discard(self._link)
            self._link.close()  # what the node writes to this link from now on is dropped
            self._settle()
        if self._closing is not None:
            with trio.move_on_after(CLOSE_S), contextlib.suppress(ConnectionClosed):
                await self._ws.aclose(*self._closing)

    def _end(self, closing: tuple[int, str] | None) -> None:
        """The first ending wins: `closing` is ours (code, reason), or None when the client
        closed or went away."""
        if not self._ended:
            self._ended = True
            self._closing = closing
            self._scope.cancel()

    async def _guarded(self, task: Callable[[], Awaitable[None]]) -> None:
        # One boundary for the conversation's tasks: the protocol's ends close with their
        # code; a fault of ours is reported and closes 4015, which keeps the session.
        try:
            await task()
        except Closing as closing:
            self._end(close_for(closing))
        except ConnectionClosed as closed:
            reason = closed.reason
            self._client_code = None if reason is None else reason.code
            self._end(None)
        except Exception as error:
            report_fault("voice-connection", error)
            self._end(close_for(error))

    def _settle(self) -> None:
        """After the socket: a drop (no close frame, or one without a status code, which
        @discordjs/voice resumes after) or a resumable close of ours keeps the session for a
        RESUME; any other end takes it out of its call and the SFU at once (close.py says
        why). A session the node ended, or another socket took over, is left alone."""
        session = self.session
        if session is None or session.ended or session.link is not self._link:
            return
        if self._closing is None:
            code = self._client_code
            keep = code is None or code in CLIENT_ENDS_KEEPING_SESSION
        else:
            keep = self._closing[0] in KEEPS_SESSION
        if keep:
            session.detach(self._link, trio.current_time())
        else:
            self._calls.end(session)

    # The tasks.

    async def _read(self) -> None:
        while True:
            raw = await self._ws.get_message()
            self._count_payload()
            message = payloads.parse(raw)
            if message is not None:
                await self._handle(message)

    def _count_payload(self) -> None:
        """Closes 4021 past the per-minute payload limit (whatever the payloads are)."""
        now = trio.current_time()
        times = self._payload_times
        while times and times[0] <= now - 60:
            times.popleft()
        times.append(now)
        if len(times) > self._limits.payloads_per_minute:
            raise RateLimited()

    async def _write(self) -> None:
        while True:
            await self._ws.send_message(await self._link.next())

    async def _watch(self) -> None:
        self._end(await self._link.wait_asked())

    async def _expect_heartbeats(self) -> None:
        """Closes 4009 when no heartbeat came for 1.5 intervals, or no IDENTIFY or RESUME
        within the identify timeout. Only the WebSocket counts: a bot that sends no packets
        stays connected."""
        opened = trio.current_time()
        while True:
            deadline = self._last_beat + self._limits.heartbeat_deadline_s
            if self.session is None:
                deadline = min(deadline, opened + self._limits.identify_timeout_s)
            if trio.current_time() >= deadline:
                self._end((VoiceClose.SESSION_TIMEOUT, "Session timeout"))
                return
            await trio.sleep_until(deadline)

    # One handler per op.

    async def _handle(self, message: ClientMessage) -> None:
        if isinstance(message, Heartbeat):
            self._heartbeat(message)
        elif isinstance(message, Identify):
            await self._identify(message)
        elif isinstance(message, Resume):
            await self._resume(message)
        elif self.session is None:
            raise NotAuthenticated()
        elif isinstance(message, SelectProtocol):
            self._select(self.session, message)
        elif isinstance(message, Speaking):
            self._calls.speaking(self.session, message.speaking)

    def _heartbeat(self, heartbeat: Heartbeat) -> None:
        """op 3 → op 6 with the client's nonce; v8's `seq_ack` frees the replay."""
        self._last_beat = trio.current_time()
        self._link.write(payloads.heartbeat_ack(heartbeat.nonce, self._version))
        if self.session is not None and heartbeat.seq_ack is not None:
            self.session.acknowledge(heartbeat.seq_ack)

    async def _identify(self, identify: Identify) -> None:
        """op 0 → READY, once the Voice service grants the token: this node serves the
        user's channel, for this main gateway session, with the latest token."""
        if self.session is not None:
            raise AlreadyAuthenticated()
        with self._calls.granting(identify.guild_id, identify.user_id) as waited:
            state = await self._node.grant(
                identify.guild_id, identify.user_id, identify.session_id, identify.token
            )
            if state is None:
                raise AuthenticationFailed()
            if self._node.draining:  # (it began while the grant was read)
                raise Draining()
            self.session = self._calls.join(state, self._version, self._link, waited)

    async def _resume(self, resume: Resume) -> None:
        """op 7 → RESUMED and the numbered messages after `seq_ack`, with the session's SSRC,
        key and UDP path as they were. The token must be the user's latest (a client that
        joined again before resuming, as discord.py does, brings the new one)."""
        if self.session is not None:
            raise AlreadyAuthenticated()
        held = self._calls.resumable(resume.guild_id, resume.session_id)
        if held is None:
            raise SessionNoLongerValid()
        state = await self._node.grant(
            resume.guild_id, held.user_id, resume.session_id, resume.token
        )
        if state is None or held.ended or self._node.draining:
            raise SessionNoLongerValid()
        missed = held.missed(resume.seq_ack)
        if missed is None:  # part of it is gone: the client joins again
            self._calls.end(held)
            raise SessionNoLongerValid()
        held.attach(self._link)  # (a socket still holding it is told to go)
        held.acknowledge(resume.seq_ack)
        self._link.write(payloads.resumed())
        for text in missed:
            self._link.write(text)
        self.session = held
        self._calls.describe(held)  # the key again, numbered after what was missed

    def _select(self, session: VoiceSession, select: SelectProtocol) -> None:
        """op 1 → SESSION_DESCRIPTION with a fresh key, set in the SFU first."""
        if select.protocol != "udp":
            raise UnknownProtocol()
        if select.mode not in MODES:
            raise UnknownEncryptionMode()
        self._calls.select(session, select.mode, select.address, select.port)
