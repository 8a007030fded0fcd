"""The protocol on one connection, from HELLO to close: heartbeats, the IDENTIFY deadline, the
payload rate limit, and one handler per opcode.

A conversation sees the node only through `Node`, a narrow interface, and ends by raising:
gateway/close.py turns what it raised into the close code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import orjson
import trio

from core.domain.applications import granted_privileged_intents
from core.errors import ClientError
from core.events import PRIVILEGED_INTENTS, Intent
from core.metrics import (
    GATEWAY_IDENTIFIES,
    GATEWAY_REPLAY_SIZE,
    GATEWAY_RESUMES,
)
from gateway import payloads
from gateway.close import (
    AlreadyAuthenticated,
    AuthenticationFailed,
    ClientClosed,
    DecodeError,
    DisallowedIntents,
    InvalidApiVersion,
    InvalidIntents,
    InvalidSeq,
    NotAuthenticated,
    RateLimited,
    Resumable,
    SessionTimedOut,
    UnknownOpcode,
)
from gateway.limits import CLOSE_FLUSH_S, MAX_PAYLOAD_BYTES, MEMBERS_PER_CHUNK, PAYLOADS_PER_MINUTE
from gateway.opcodes import Op, op_message
from gateway.session import note_slow_consumer
from gateway.websocket import FrameParser, Message, Opcode, ProtocolError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from core.fanout import Feed
    from core.presence import Shown
    from core.sessions import GuildStart, Identity, MemberRequest
    from gateway.connection import Connection
    from gateway.limits import GatewayLimits
    from gateway.session import Session

_VERSIONS = {"9", "10"}
_COMPRESSIONS = {"zlib-stream", "zstd-stream"}


class Node(Protocol):
    """What a conversation may ask of the node it runs on."""

    limits: GatewayLimits
    public_url: str
    privileged_intents: bool

    async def identity(self, token: str) -> Identity: ...

    async def start(
        self, identity: Identity, intents: int, shard: tuple[int, int], large: int
    ) -> tuple[Session, list[GuildStart]]: ...

    def started(
        self, session: Session, shard: tuple[int, int], large: int, *, floor: int
    ) -> None: ...

    async def find(self, session_id: str, identity: Identity, seq: int) -> Session | None: ...

    def dispatch(
        self, feeds: list[Feed], name: str, payload: bytes, *, keep: bool = True
    ) -> None: ...

    def set_presence(self, session: Session, status: str, activities: list[Any]) -> None: ...

    async def presences_of(self, guild_id: int, members: list[dict[str, Any]]) -> list[Shown]: ...

    async def members(
        self, user_id: int, request: MemberRequest
    ) -> tuple[list[dict[str, object]], list[int]]: ...

    async def update_voice_state(
        self, session: Session, request: payloads.VoiceStateRequest
    ) -> None: ...


class Conversation:
    __slots__ = ("_connection", "_node", "_parser", "_payload_times", "_query", "doing", "session")

    def __init__(self, node: Node, connection: Connection, query: dict[str, str]) -> None:
        self._node = node
        self._connection = connection
        self._query = query
        self._parser = FrameParser(MAX_PAYLOAD_BYTES)
        self._payload_times: list[float] = []
        self.session: Session | None = None
        self.doing: Op | None = None  # the opcode being handled, if the handler awaits

    def check_query(self) -> None:
        if self._query.get("v", "10") not in _VERSIONS:
            raise InvalidApiVersion
        encoding = self._query.get("encoding", "json")
        if encoding != "json":
            raise DecodeError(f"encoding {encoding!r} is not supported: use json")
        compress = self._query.get("compress")
        if compress in _COMPRESSIONS:
            self._connection.compress(compress)
        elif compress is not None:
            raise DecodeError(f"compress {compress!r} is not supported")

    def send(self, op: Op, d: object) -> None:
        data = op_message(op, d)
        if self.session is not None and self.session.feed.is_on(self._connection):
            self.session.write(data)
        else:
            self._connection.send(data)

    async def run(self, early: bytes) -> None:
        """Until the client leaves (returns) or the conversation must end (raises)."""
        limits = self._node.limits
        self.send(Op.HELLO, {"heartbeat_interval": limits.heartbeat_interval_ms})
        pending = self._parser.feed(early) if early else []
        del early  # not kept for the connection's life
        heard_at = trio.current_time()
        identify_by = heard_at + limits.identify_timeout_s
        asked = False  # for a heartbeat (op 1), since the last one
        while True:
            while pending:
                if await self._handle(pending.pop(0)):
                    heard_at, asked = trio.current_time(), False
            now = trio.current_time()
            if self.session is None and now >= identify_by:
                raise SessionTimedOut("Session timed out: identify sooner")
            if now >= heard_at + limits.heartbeat_deadline_s:
                raise Resumable("no heartbeat in time: resume")
            if not asked and now >= heard_at + limits.heartbeat_ask_s:
                # "The gateway may request a heartbeat" (Gateway docs): a client whose timer
                # slipped answers at once, before the deadline closes it.
                self.send(Op.HEARTBEAT, None)
                asked = True
            wake = heard_at + (limits.heartbeat_deadline_s if asked else limits.heartbeat_ask_s)
            if self.session is None:
                wake = min(wake, identify_by)
            with trio.move_on_at(wake):
                data = await self._connection.receive()
                if not data:
                    return
                pending = self._parser.feed(data)

    async def _handle(self, message: Message) -> bool:
        """Handles one frame; True when it was a heartbeat."""
        if message.opcode is Opcode.CLOSE:
            # Echoed back as the client sent it (1000 when it gave no code).
            payload = message.payload
            raise ClientClosed(int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1000)
        if message.opcode is Opcode.PING:
            self._connection.took(self._connection.send_frame(Opcode.PONG, message.payload))
            return False
        if message.opcode is Opcode.PONG:
            return False
        self._count_payload()
        op, d = payloads.parse_payload(message.payload)
        handler = _HANDLERS.get(op)
        if handler is None:
            raise UnknownOpcode
        needs_session, handle = handler
        if needs_session and self.session is None:
            raise NotAuthenticated
        self.doing = Op(op)
        await handle(self, d)
        self.doing = None
        return op == Op.HEARTBEAT

    async def await_close_reply(self) -> None:
        """After our close frame: reads until the client's close (or its leaving), so the
        client closes first and neither side is left with a half-closed socket."""
        with trio.move_on_after(CLOSE_FLUSH_S):
            while data := await self._connection.receive():
                try:
                    if any(m.opcode is Opcode.CLOSE for m in self._parser.feed(data)):
                        return
                except ProtocolError:
                    return

    def _count_payload(self) -> None:
        now = trio.current_time()
        self._payload_times = [t for t in self._payload_times if t > now - 60]
        self._payload_times.append(now)
        if len(self._payload_times) > PAYLOADS_PER_MINUTE:
            raise RateLimited

    # One handler per opcode.

    async def _heartbeat(self, d: object) -> None:
        """op 1: acknowledged; its `d` says what the client has, so what need not be kept."""
        seq = payloads.heartbeat_seq(d)
        if self.session is not None and seq is not None:
            self.session.feed.acknowledge(seq)
        self.send(Op.HEARTBEAT_ACK, None)

    async def _identify(self, d: object) -> None:
        """op 2: a new session, READY, and a GUILD_CREATE per guild."""
        if self.session is not None:
            raise AlreadyAuthenticated
        asked = payloads.identify(d)
        node = self._node
        identity = await node.identity(asked.token)
        if identity.bot and not node.privileged_intents:
            flags = int(str((identity.application or {}).get("flags", 0)))
            if asked.intents & PRIVILEGED_INTENTS & ~granted_privileged_intents(flags):
                raise DisallowedIntents
        shard = asked.shard or (0, 1)
        session, starts = await node.start(identity, asked.intents, shard, asked.large_threshold)
        session.attach(self._connection, sent=0)
        self.session = session
        ready: dict[str, object] = {
            "v": int(self._query.get("v", "10")),
            "user": identity.user,
            "guilds": [{"id": str(g), "unavailable": True} for g in session.guilds],
            "session_id": session.id,
            "resume_gateway_url": node.public_url,
            "session_type": "normal",
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
        }
        if asked.shard is not None:
            ready["shard"] = list(asked.shard)
        if identity.application is not None:
            ready["application"] = identity.application
        # Too big to journal for every session: a client resuming on another node from
        # before their end is told to identify again.
        feeds = [session.feed]
        node.dispatch(feeds, "READY", orjson.dumps(ready), keep=False)
        for start in starts:
            node.dispatch(feeds, "GUILD_CREATE", orjson.dumps(start.payload), keep=False)
        node.started(session, shard, asked.large_threshold, floor=session.feed.seq)
        node.set_presence(session, asked.status, asked.activities)
        GATEWAY_IDENTIFIES.labels(outcome="ok").inc()

    async def _presence_update(self, d: object) -> None:
        """op 3."""
        presence = payloads.presence(d)
        if presence is None:
            raise DecodeError("PRESENCE_UPDATE is malformed")
        assert self.session is not None
        self._node.set_presence(self.session, *presence)

    async def _voice_state_update(self, d: object) -> None:
        """op 4: join, move or leave a voice channel, or change one's own mute and deafen.
        Nothing for a guild the session is not in, as from Discord, nor for a DM call."""
        asked = payloads.voice_state_update(d)
        assert self.session is not None
        if asked is not None and asked.guild_id in self.session.guilds:
            await self._node.update_voice_state(self.session, asked)

    async def _resume(self, d: object) -> None:
        """op 6: the session carries on here, with every dispatch the client missed."""
        if self.session is not None:
            raise AlreadyAuthenticated
        asked = payloads.resume(d)
        node = self._node
        try:
            identity = await node.identity(asked.token)
        except ClientError:  # (Unauthorized is one)
            raise AuthenticationFailed from None
        session = await node.find(asked.session_id, identity, asked.seq)
        if session is None or session.user_id != identity.user_id:
            GATEWAY_RESUMES.labels(outcome="invalid").inc()
            self.send(Op.INVALID_SESSION, False)
            return
        if asked.seq > session.feed.seq:
            # Never sent: the client's count is wrong, and so would be anything replayed.
            raise InvalidSeq
        if session.feed.missed_since(asked.seq) is None:
            GATEWAY_RESUMES.labels(outcome="invalid").inc()
            self.send(Op.INVALID_SESSION, False)
            return
        session.close(Resumable.code, "resumed elsewhere")  # an old socket still open
        # Replay at the pace the client reads (this task may wait; fanout never does).
        # Meanwhile new dispatches only join the replay, so order holds; the session is
        # attached once nothing is left, with no wait in between.
        sent = asked.seq
        limits = node.limits
        while missed := session.feed.missed_since(sent):
            for message in missed:
                if self._connection.queued > limits.max_queued_bytes // 2:
                    with trio.move_on_after(limits.heartbeat_deadline_s):
                        await self._connection.flushed()
                    if self._connection.queued > limits.max_queued_bytes // 2:
                        note_slow_consumer()
                        raise Resumable("slow consumer: resume")
                self._connection.send(message)
            sent += len(missed)
        if missed is None:  # a flood pushed out what was not yet replayed
            raise Resumable("fell too far behind")
        session.attach(self._connection, sent)
        self.session = session
        node.dispatch([session.feed], "RESUMED", b"{}")
        GATEWAY_RESUMES.labels(outcome="ok").inc()
        GATEWAY_REPLAY_SIZE.observe(sent - asked.seq)

    async def _request_guild_members(self, d: object) -> None:
        """op 8: GUILD_MEMBERS_CHUNK dispatches, up to 1,000 members each."""
        session = self.session
        assert session is not None
        asked = payloads.request_guild_members(d)
        request = asked.request
        if (
            request.user_ids is None
            and not request.query
            and not (session.intents & Intent.GUILD_MEMBERS)
        ):
            raise InvalidIntents("the whole member list needs GUILD_MEMBERS")
        if request.guild_id not in session.guilds:
            return  # not theirs: nothing, as from Discord
        node = self._node
        members, not_found = await node.members(session.user_id, request)
        chunks = [
            members[i : i + MEMBERS_PER_CHUNK] for i in range(0, len(members), MEMBERS_PER_CHUNK)
        ] or [[]]
        for index, chunk in enumerate(chunks):
            payload: dict[str, object] = {
                "guild_id": str(request.guild_id),
                "members": chunk,
                "chunk_index": index,
                "chunk_count": len(chunks),
            }
            if index == 0 and not_found:
                payload["not_found"] = [str(i) for i in not_found]
            if asked.presences:
                payload["presences"] = await node.presences_of(request.guild_id, chunk)
            if asked.nonce is not None:
                payload["nonce"] = asked.nonce
            node.dispatch([session.feed], "GUILD_MEMBERS_CHUNK", orjson.dumps(payload))

    async def _request_soundboard_sounds(self, d: object) -> None:
        """op 31: a SOUNDBOARD_SOUNDS dispatch per guild asked for that the session is in
        (none for others, as from Discord); empty until soundboards exist."""
        session = self.session
        assert session is not None
        for guild_id in dict.fromkeys(payloads.request_soundboard_sounds(d)):
            if guild_id in session.guilds:
                payload = {"guild_id": str(guild_id), "soundboard_sounds": []}
                self._node.dispatch([session.feed], "SOUNDBOARD_SOUNDS", orjson.dumps(payload))

    async def _request_channel_info(self, d: object) -> None:
        """op 43: CHANNEL_INFO for a guild the session is in (nothing for others). No voice
        channel here has a status or a session under way, so none is listed."""
        session = self.session
        assert session is not None
        guild_id = payloads.request_channel_info(d)
        if guild_id in session.guilds:
            payload = {"guild_id": str(guild_id), "channels": []}
            self._node.dispatch([session.feed], "CHANNEL_INFO", orjson.dumps(payload))

    async def _ignore(self, d: object) -> None:
        """An opcode Discord documents as sent by the gateway (0, 7, 9, 10, 11): meaningless
        from a client, so ignored rather than closed as unknown."""


_Handler = tuple[bool, "Callable[[Conversation, object], Awaitable[None]]"]
# Each opcode of Discord's table (Gateway Opcodes), and 43, which libraries send: whether it
# needs a session, and its handler. Only other numbers close 4001.
_HANDLERS: dict[int, _Handler] = {
    **{
        op: (False, Conversation._ignore)
        for op in (Op.DISPATCH, Op.RECONNECT, Op.INVALID_SESSION, Op.HELLO, Op.HEARTBEAT_ACK)
    },
    Op.HEARTBEAT: (False, Conversation._heartbeat),
    Op.IDENTIFY: (False, Conversation._identify),
    Op.PRESENCE_UPDATE: (True, Conversation._presence_update),
    Op.VOICE_STATE_UPDATE: (True, Conversation._voice_state_update),
    Op.RESUME: (False, Conversation._resume),
    Op.REQUEST_GUILD_MEMBERS: (True, Conversation._request_guild_members),
    Op.REQUEST_SOUNDBOARD_SOUNDS: (True, Conversation._request_soundboard_sounds),
    Op.REQUEST_CHANNEL_INFO: (True, Conversation._request_channel_info),
}
