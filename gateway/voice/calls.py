"""The calls this node serves: every voice session by user, by resume key and by channel, the
SFU routes that go with them, and what one session's change tells the others in its call.

One channel is served by one node (the Voice service assigns it), so a call's members are all
here and its relays are in-process. Everything is synchronous and never blocks: the node's
hooks (VoiceNode.changed, call_ended) and the conversations call in between their awaits, and
each change reaches the SFU before its next packet is forwarded.

Relays, in Discord's words (Voice Connections docs):
- a newcomer gets READY, then CLIENTS_CONNECT naming who is already there, then each of their
  last SPEAKING (so it maps SSRCs to users before any packet can reach it: it has no key yet);
  the others get CLIENTS_CONNECT naming the newcomer;
- a SPEAKING goes to the others with the speaker's user_id and SSRC;
- a leave (for good: not a dropped socket within the resume window) sends CLIENT_DISCONNECT.
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from typing import TYPE_CHECKING

from core.domain.voice import MODES
from gateway.voice import close, payloads
from gateway.voice.payloads import Op
from gateway.voice.session import VoiceSession

if TYPE_CHECKING:
    from collections.abc import Iterator

    from core.domain.voice import VoiceState
    from core.sfu import Sfu
    from gateway.voice.limits import VoiceLimits
    from gateway.voice.session import Link

_KEY_BYTES = 32


class Granting:
    """IDENTIFYs of one user waiting for their grant, and the latest change told meanwhile."""

    __slots__ = ("count", "latest")

    def __init__(self) -> None:
        self.count = 0
        self.latest: VoiceState | None = None


class Calls:
    """Every voice session of this node. Implements the node's side of VoiceNode."""

    def __init__(self, sfu: Sfu, ip: str, port: int, limits: VoiceLimits) -> None:
        self._sfu = sfu
        self._ip = ip  # sent in READY: the IPv4 address clients send their packets to
        self._port = port
        self._limits = limits
        self._by_user: dict[tuple[int, int], VoiceSession] = {}
        self._by_resume: dict[tuple[int, str], VoiceSession] = {}
        self._by_ssrc: dict[int, VoiceSession] = {}
        self._channels: dict[int, dict[int, VoiceSession]] = {}  # channel → ssrc → session
        self._granting: dict[tuple[int, int], Granting] = {}  # (guild, user) → IDENTIFYs waiting

    @property
    def sessions(self) -> list[VoiceSession]:
        return list(self._by_ssrc.values())

    def members(self, channel_id: int) -> list[VoiceSession]:
        return list(self._channels.get(channel_id, {}).values())

    # A session's life.

    @contextmanager
    def granting(self, guild_id: int, user_id: int) -> Iterator[Granting]:
        """While an IDENTIFY waits for its grant: the state it reads may be older than a
        change the node is told of meanwhile (there is no session to apply it to yet), so
        the latest such change is kept, for `join` to apply after it."""
        key = (guild_id, user_id)
        waiting = self._granting.setdefault(key, Granting())
        waiting.count += 1
        try:
            yield waiting
        finally:
            waiting.count -= 1
            if not waiting.count:
                del self._granting[key]

    def join(
        self, state: VoiceState, version: int, link: Link, waited: Granting | None = None
    ) -> VoiceSession:
        """A new session for a granted IDENTIFY, in its call and in the SFU; READY and the
        call's members sent; then the latest change told while it `waited` for its grant,
        if any (deliveries come in order: one newer than it still comes after). A session
        the user already had here is ended first (it identified again: a move, or a
        reconnect that did not resume)."""
        old = self._by_user.get((state.guild_id, state.user_id))
        if old is not None:
            self.end(old, close.SUPERSEDED)
        session = VoiceSession(state, self._new_ssrc(), version, self._limits)
        self._by_user[(session.guild_id, session.user_id)] = session
        self._by_resume[(session.guild_id, session.session_id)] = session
        self._by_ssrc[session.ssrc] = session
        self._sfu.add(session.ssrc, session.channel_id, speaks=session.speaks, hears=session.hears)
        session.attach(link)
        session.send(Op.READY, payloads.ready(session.ssrc, self._ip, self._port, MODES))
        self._enter(session)
        if waited is not None and waited.latest is not None:
            self.changed(waited.latest)
        return session

    def select(self, session: VoiceSession, mode: str, address: str, port: int) -> None:
        """SELECT_PROTOCOL: the SSRC bound to the UDP address and port the client declared,
        and a fresh key for `mode` (validated by the caller), in the SFU first, then
        SESSION_DESCRIPTION."""
        key = secrets.token_bytes(_KEY_BYTES)
        self._sfu.bind(session.ssrc, address, port)
        self._sfu.set_key(session.ssrc, mode, key)
        session.mode, session.key = mode, key
        self.describe(session)

    def describe(self, session: VoiceSession) -> None:
        """SESSION_DESCRIPTION with the session's mode and key, if it has them: after
        SELECT_PROTOCOL, and again after a RESUME, as discord.py waits for a key on each new
        socket (VoiceConnectionState._handshake_websocket) and @discordjs/voice ignores one
        once Ready."""
        if session.mode is not None and session.key is not None:
            session.send(
                Op.SESSION_DESCRIPTION, payloads.session_description(session.mode, session.key)
            )

    def speaking(self, session: VoiceSession, flags: int) -> None:
        """A SPEAKING relayed to the others, if it changes the speaker's flags (each
        listener keeps at most one per speaker waiting: session.py)."""
        if flags == session.speaking:
            return
        session.speaking = flags
        self._tell_speaking(session)

    def resumable(self, guild_id: int, session_id: str) -> VoiceSession | None:
        return self._by_resume.get((guild_id, session_id))

    def end(self, session: VoiceSession, asked: tuple[int, str] | None = None) -> None:
        """The session leaves for good: out of the SFU and its call (CLIENT_DISCONNECT to the
        others), its socket (if any) asked to close with `asked`. Idempotent."""
        if session.ended:
            return
        session.ended = True
        if asked is not None and session.link is not None:
            session.link.ask_close(*asked)
        self._sfu.remove(session.ssrc)
        self._leave(session)
        del self._by_ssrc[session.ssrc]
        if self._by_user.get((session.guild_id, session.user_id)) is session:
            del self._by_user[(session.guild_id, session.user_id)]
        if self._by_resume.get((session.guild_id, session.session_id)) is session:
            del self._by_resume[(session.guild_id, session.session_id)]

    def expire(self, now: float) -> None:
        """Ends the sessions whose socket dropped longer than the resume window ago."""
        window = self._limits.resume_window_s
        for session in self.sessions:
            if session.detached_at is not None and now - session.detached_at > window:
                self.end(session)

    def drain(self) -> None:
        """This node is going away: every session ends, its socket closed 1001 (both
        libraries then join again, through a node that is still there)."""
        for session in self.sessions:
            self.end(session, close.DRAINING)

    # VoiceNode: voice state changes, from the Voice service.

    def changed(self, state: VoiceState) -> None:
        """Applies a voice state change to the user's session here, if it has one: leaving
        (or a join from another main gateway session) closes it 4014; a move re-routes it;
        server and self mute/deaf and suppress set what the SFU lets it send and hear."""
        waiting = self._granting.get((state.guild_id, state.user_id))
        if waiting is not None:
            waiting.latest = state
        session = self._by_user.get((state.guild_id, state.user_id))
        if session is None:
            return
        if state.channel_id is None or state.session_id != session.session_id:
            self.end(session, close.DISCONNECTED)
            return
        if state.speaks != session.speaks or state.hears != session.hears:
            session.speaks, session.hears = state.speaks, state.hears
            self._sfu.set_flags(session.ssrc, speaks=state.speaks, hears=state.hears)
        if state.channel_id != session.channel_id:
            self._move(session, state.channel_id)

    def call_ended(self, guild_id: int, channel_id: int) -> None:
        """The channel was deleted: its sessions close 4022."""
        for session in self.members(channel_id):
            if session.guild_id == guild_id:
                self.end(session, close.CALL_TERMINATED)

    # Routing.

    def _move(self, session: VoiceSession, channel_id: int) -> None:
        # The SFU moves it first: from here its packets reach the new channel only. The
        # client also gets a fresh VOICE_SERVER_UPDATE and may reconnect with its new token.
        self._sfu.move(session.ssrc, channel_id)
        self._leave(session)
        session.channel_id = channel_id
        self._enter(session)
        self._tell_speaking(session)

    def _tell_speaking(self, session: VoiceSession) -> None:
        if session.speaking is None:
            return
        relayed = payloads.speaking(session.user_id, session.ssrc, session.speaking)
        for other in self.members(session.channel_id):
            if other is not session:
                other.send(Op.SPEAKING, relayed, speaker=session.ssrc)

    def _enter(self, session: VoiceSession) -> None:
        members = self._channels.setdefault(session.channel_id, {})
        present = list(members.values())
        members[session.ssrc] = session
        if not present:
            return
        session.send(Op.CLIENTS_CONNECT, payloads.clients_connect([m.user_id for m in present]))
        for member in present:
            if member.speaking is not None:
                session.send(
                    Op.SPEAKING,
                    payloads.speaking(member.user_id, member.ssrc, member.speaking),
                    speaker=member.ssrc,
                )
        arrived = payloads.clients_connect([session.user_id])
        for member in present:
            member.send(Op.CLIENTS_CONNECT, arrived)

    def _leave(self, session: VoiceSession) -> None:
        members = self._channels.get(session.channel_id, {})
        members.pop(session.ssrc, None)
        if not members:
            self._channels.pop(session.channel_id, None)
            return
        gone = payloads.client_disconnect(session.user_id)
        for member in members.values():
            member.send(Op.CLIENT_DISCONNECT, gone)

    def _new_ssrc(self) -> int:
        # Random, non-zero, unique on this node (the SFU routes by it).
        while True:
            ssrc = secrets.randbits(32)
            if ssrc and ssrc not in self._by_ssrc:
                return ssrc
