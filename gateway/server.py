"""The gateway: Discord Gateway v10 over our own WebSocket layer.

It listens, accepts, and gives each connection its conversation (gateway/conversation.py)
inside one boundary: whatever goes wrong on a connection ends that connection alone, with the
close code gateway/close.py picks, logged once and counted. It owns the node's parts (the hub
of sessions, the fanout, the presence pump, the journal and takeovers with several nodes) and
drains on shutdown: stops accepting, tells every session to reconnect (op 7) and gives the
connections the shutdown grace.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

import trio

from core.config import browser_origins
from core.delivery_log import Journal
from core.errors import ClientError, ShardingRequired
from core.events import Intent
from core.faults import Boundary, is_outage, report_fault
from core.metrics import (
    CONTENT_TYPE,
    GATEWAY_CLOSES,
    GATEWAY_IDENTIFIES,
    GATEWAY_RESUMES,
    GATEWAY_SESSIONS,
    GATEWAY_SLOW_CONSUMER_CLOSES,
    REGISTRY,
)
from core.presence import open_presences
from gateway.close import ClientClosed, Close, Closing, Resumable, close_for
from gateway.connection import Connection
from gateway.conversation import Conversation
from gateway.fanout import Fanout
from gateway.hub import Hub
from gateway.limits import CLOSE_FLUSH_S, HANDSHAKE_TIMEOUT_S, MAX_STAGED, GatewayLimits
from gateway.opcodes import Op, op_message
from gateway.presence_pump import PresencePump
from gateway.session import Session, new_feed, slow_consumers, start_writers
from gateway.takeover import Takeovers
from gateway.websocket import (
    MAX_HANDSHAKE_BYTES,
    HandshakeError,
    ProtocolError,
    handshake_end,
    http_answer,
    http_refusal,
    parse_handshake,
)

if TYPE_CHECKING:
    from core.fanout import Feed
    from core.presence import Shown
    from core.services import Services
    from core.sessions import GuildStart, Identity, MemberRequest
    from gateway.payloads import VoiceStateRequest

_log = logging.getLogger(__name__)

# Re-exported for tests and tools that size the gateway.
__all__ = ["Gateway", "GatewayLimits"]


class Gateway:
    """One gateway node. Implements conversation.Node for its connections."""

    def __init__(self, services: Services, limits: GatewayLimits | None = None) -> None:
        self._services = services
        settings = services.settings
        self._settings = settings
        self._origins = browser_origins(settings)
        self.limits = limits or GatewayLimits(bus_outage_close_s=settings.bus_outage_close_s)
        self.privileged_intents = settings.privileged_intents
        self.public_url = ""  # known once listening
        self.hub = Hub(self._ended)
        # With several nodes (Redis), what each session was sent is journaled there first,
        # and presences are kept there for every node to see.
        redis = services.redis
        window = self.limits.resume_window_s
        self.journal = None if redis is None else Journal(redis, window, start_writers)
        self.fanout = Fanout(
            self.hub, services.bus, services.delivery, self.journal, services.accounts.keys
        )
        node = None if self.journal is None else self.journal.node
        # Sessions ended for good whose voice states are yet to end (hub.end is synchronous).
        self._voice_ends: list[tuple[str, int, tuple[int, ...]]] = []
        self._voice_ended = trio.Event()
        self.presence = PresencePump(services.bus, open_presences(redis, node, window), window)
        self._takeovers = (
            None
            if self.journal is None
            else Takeovers(
                services,
                self.journal,
                self.hub,
                self.fanout,
                self.presence,
                self.limits.max_guilds_per_shard,
            )
        )

    async def serve(
        self, shutdown: trio.Event, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listens until `shutdown`, then drains: stops accepting, tells every connected
        session to reconnect (op 7; it RESUMEs elsewhere) and gives the connections the
        shutdown grace to close. Reports the bound ws:// URL once listening."""
        address = self._settings.gateway_addr
        listeners = await trio.open_tcp_listeners(address.port, host=address.host)
        host, port = listeners[0].socket.getsockname()[:2]
        url = f"ws://{host}:{port}"
        self.public_url = self._settings.public_gateway_url or url
        try:
            async with trio.open_nursery() as connections:
                async with trio.open_nursery() as background:
                    if self.journal is not None:
                        await background.start(self.journal.run)
                        background.start_soon(self._close_held_up)
                    await background.start(self.fanout.run)
                    background.start_soon(self.presence.run, self.hub)
                    background.start_soon(self._forget_expired_sessions)
                    background.start_soon(self._end_voice_states)
                    if self.journal is not None:
                        background.start_soon(self._sweep_voice_states, self.journal.node)
                    for listener in listeners:
                        background.start_soon(self._accept, listener, connections)
                    _log.info("gateway listening", extra={"url": url})
                    task_status.started(url)
                    with (
                        GATEWAY_SESSIONS.track(self._sessions_by_state),
                        GATEWAY_SLOW_CONSUMER_CLOSES.track(slow_consumers),
                    ):
                        await shutdown.wait()
                    background.cancel_scope.cancel()
                for listener in listeners:
                    listener.socket.close()  # stop accepting
                if self.journal is not None:
                    # Fanout has stopped: once the journal has the rest, other nodes may take
                    # this node's sessions over without waiting for it.
                    await self.journal.retire()
                reconnect = op_message(Op.RECONNECT, None)
                for session in list(self.hub.sessions.values()):
                    session.write(reconnect)
                    session.close(Close.UNKNOWN_ERROR, "reconnect: this node is draining")
                connections.cancel_scope.deadline = (
                    trio.current_time() + self._settings.shutdown_grace_s
                )
        finally:
            for listener in listeners:
                listener.socket.close()  # idempotent; also when cancelled
        _log.info("gateway drained")

    async def _accept(self, listener: trio.SocketListener, connections: trio.Nursery) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:  # out of descriptors, say: the listener itself is fine
                _log.warning("accept failed", extra={"error_type": type(error).__name__})
                await trio.sleep(0.1)
                continue
            connections.start_soon(self._serve_stream, stream, connections)

    # One connection, inside its boundary.

    async def _serve_stream(self, stream: trio.SocketStream, writers: trio.Nursery) -> None:
        """Closes the socket on return, whatever happened on it. Nothing raised here reaches
        another connection: this task's failure would end the node's nursery."""
        try:
            # Take the socket from Trio's stream: from here the gateway does its own reads and
            # writes (writes without awaiting, for fanout).
            connection = Connection(stream.socket.detach(), self.limits.max_queued_bytes, writers)
        except OSError as error:  # the peer reset it already
            report_fault("gateway-accept", error)
            return
        try:
            session = await self._converse(connection)
            if session is not None and session.feed.is_on(connection):
                session.feed.detach(trio.current_time())
            with trio.move_on_after(CLOSE_FLUSH_S):
                await connection.flushed()
        except Exception as error:  # a fault of ours: this connection ends, nothing else
            report_fault("gateway-connection", error)
        finally:
            connection.shut()

    async def _converse(self, connection: Connection) -> Session | None:
        """The conversation on one connection; returns the session it ended with."""
        upgraded = await self._upgrade(connection)
        if upgraded is None:
            return None
        query, early = upgraded
        conversation = Conversation(self, connection, query)
        try:
            conversation.check_query()
            await conversation.run(early)
        except ClientClosed as closed:
            if conversation.session is not None and closed.code in (1000, 1001):
                self.hub.end(conversation.session)  # a clean close ends the session
            connection.close(closed.echo)
        except Exception as error:
            if not isinstance(error, _PROTOCOL):
                report_fault("gateway-connection", error)  # a fault or an outage: counted
            code, reason = close_for(error, has_session=conversation.session is not None)
            if conversation.doing in (Op.IDENTIFY, Op.RESUME):
                outcomes = (
                    GATEWAY_IDENTIFIES if conversation.doing is Op.IDENTIFY else GATEWAY_RESUMES
                )
                outcomes.labels(outcome=_outcome(error)).inc()
            GATEWAY_CLOSES.labels(code=str(code)).inc()
            connection.close(code, reason)
            await conversation.await_close_reply()
        return conversation.session

    async def _upgrade(self, connection: Connection) -> tuple[dict[str, str], bytes] | None:
        """The WebSocket handshake: the query and any bytes after it, or None when refused.
        (Its own frame, so the request's bytes and headers are not kept for the connection's
        life: an idle session is mostly what it keeps.)"""
        buffer = b""
        with trio.move_on_after(HANDSHAKE_TIMEOUT_S):
            while (end := handshake_end(buffer)) < 0 and len(buffer) < MAX_HANDSHAKE_BYTES:
                data = await connection.receive()
                if not data:
                    return None
                buffer += data
        if end < 0:
            connection.send_bytes(http_refusal(400, "no WebSocket handshake"))
            return None
        if (metrics := _metrics_answer(buffer[:end])) is not None:
            connection.send_bytes(metrics)
            return None
        try:
            handshake = parse_handshake(buffer[:end])
            origin = handshake.headers.get("origin")
            if origin is not None and origin.rstrip("/") not in self._origins:
                raise HandshakeError(403, "origin not allowed")
        except HandshakeError as error:
            connection.send_bytes(http_refusal(error.status, error.reason))
            return None
        connection.send_bytes(handshake.response())
        return handshake.query, buffer[end:]

    # conversation.Node: what a conversation asks of this node.

    async def identity(self, token: str) -> Identity:
        return await self._services.sessions.identify(token)

    async def start(
        self, identity: Identity, intents: int, shard: tuple[int, int], large: int
    ) -> tuple[Session, list[GuildStart]]:
        """A new session, registered for fanout, and the guilds it starts with (with the
        presences of their members online, for a session that asked for them)."""
        if self.journal is not None and self.journal.pending > MAX_STAGED:
            # Redis has been away long enough for this much to wait: a new session would
            # only add to it (its READY waits too). The client retries; memory stays bounded.
            raise Resumable("events delayed: resume")
        starts = await self._services.sessions.guilds(
            identity.user_id, large, shard, self.limits.max_guilds_per_shard
        )
        if intents & Intent.GUILD_PRESENCES:
            for start in starts:
                members = start.payload["members"]
                assert isinstance(members, list)
                start.payload["presences"] = await self.presence.presences_of(
                    start.guild_id, members
                )
        if intents & Intent.GUILD_VOICE_STATES:
            voice_states = await self._services.voice.states_of([s.guild_id for s in starts])
            for start in starts:
                start.payload["voice_states"] = voice_states.get(start.guild_id, [])
        journal = self.journal
        session = Session(
            id=secrets.token_hex(16),
            identity=identity,
            intents=intents,
            guilds={start.guild_id: start.role_ids for start in starts},
            feed=new_feed(
                0 if journal is None else journal.next_number(), held=journal is not None
            ),
        )
        self.hub.register(session)  # (nothing awaited after the guilds were read but presences)
        return session, starts

    def started(self, session: Session, shard: tuple[int, int], large: int, *, floor: int) -> None:
        if self._takeovers is not None:
            self._takeovers.record(session, shard, large, floor)

    async def find(self, session_id: str, identity: Identity, seq: int) -> Session | None:
        """The session a RESUME names: here, or taken over from another node."""
        session = self.hub.session(session_id)
        if session is None and self._takeovers is not None:
            session = await self._takeovers.take_over(session_id, identity, seq)
            if session is not None and self.journal is not None:
                await self._adopt_voice_states(session, self.journal.node)
        return session

    async def _adopt_voice_states(self, session: Session, node: str) -> None:
        """A session taken over keeps its voice states: this node holds them now, so that
        the sweep of the node it left does not end them. A fault costs that alone: the
        session is resumed still, its states possibly swept later."""
        try:
            await self._services.voice.adopt(
                session.id, session.user_id, tuple(session.guilds), node
            )
        except Exception as error:
            report_fault("voice-adopt", error)

    def dispatch(self, feeds: list[Feed], name: str, payload: bytes, *, keep: bool = True) -> None:
        self.fanout.dispatch(feeds, name, payload, keep=keep)

    def set_presence(self, session: Session, status: str, activities: list[Any]) -> None:
        self.presence.set(session, status, activities)

    async def presences_of(self, guild_id: int, members: list[dict[str, Any]]) -> list[Shown]:
        return await self.presence.presences_of(guild_id, members)

    async def members(
        self, user_id: int, request: MemberRequest
    ) -> tuple[list[dict[str, object]], list[int]]:
        return await self._services.sessions.members(user_id, request)

    async def update_voice_state(self, session: Session, request: VoiceStateRequest) -> None:
        await self._services.voice.request(
            session.id,
            session.user_id,
            request.guild_id,
            request.channel_id,
            self_mute=request.self_mute,
            self_deaf=request.self_deaf,
            holder=None if self.journal is None else self.journal.node,
        )

    def _sessions_by_state(self) -> dict[tuple[str, ...], float]:
        connected = sum(1 for s in self.hub.sessions.values() if s.connection is not None)
        return {("connected",): connected, ("detached",): len(self.hub.sessions) - connected}

    # Sessions' ends.

    def _ended(self, session: Session, registered: bool) -> None:
        if registered:
            self.presence.end(session)
            if self.journal is not None:
                self.journal.stage_end(session.id)
            self._voice_ends.append((session.id, session.user_id, tuple(session.guilds)))
            self._voice_ended.set()

    async def _end_voice_states(self) -> None:
        """Ends the voice states of sessions that ended for good (a resumable drop keeps
        them). A fault loses the ends of one session (its states stay until the key expires),
        never the task."""
        while True:
            await self._voice_ended.wait()
            self._voice_ended = trio.Event()
            ends, self._voice_ends = self._voice_ends, []
            holder = None if self.journal is None else self.journal.node
            for session_id, user_id, guild_ids in ends:
                try:
                    await self._services.voice.end_session(session_id, user_id, guild_ids, holder)
                except Exception as error:
                    report_fault("voice-session-end", error)

    async def _sweep_voice_states(self, node: str) -> None:
        """With several nodes: keeps this node's voice states alive on the board, and ends
        those of nodes silent for a resume window (as presences are swept): a node that died
        leaves no one in voice for long. Faults are retried next time round."""
        boundary = Boundary("voice-sweep")
        window = self.limits.resume_window_s
        while True:
            try:
                await self._services.voice.sweep(node, window)
            except Exception as error:
                boundary.failed(error)
            else:
                boundary.succeeded()
            await trio.sleep(window / 4)

    async def _forget_expired_sessions(self) -> None:
        window = self.limits.resume_window_s
        while True:
            await trio.sleep(window / 4)
            now = trio.current_time()
            for session in list(self.hub.sessions.values()):
                detached_for = session.feed.detached_for(now)
                if detached_for is not None and detached_for > window:
                    self.hub.end(session)

    async def _close_held_up(self) -> None:
        """While Redis is away the journal cannot take dispatches, so held sessions get
        nothing: past the outage deadline they are closed resumably (4000) rather than left
        waiting without a word. A client resumes, here or elsewhere, and gets everything it
        missed once Redis is back; memory stays bounded by the sessions' own replay bounds."""
        journal = self.journal
        assert journal is not None
        deadline_s = self.limits.bus_outage_close_s
        while True:
            await trio.sleep(min(1.0, deadline_s / 4))
            stalled, now = journal.stalled_since, trio.current_time()
            if stalled is None or now - stalled < deadline_s:
                continue
            for session in list(self.hub.sessions.values()):
                if (
                    session.connection is not None
                    and session.feed.recorded_seq < session.feed.seq
                    and now - session.attached_at >= deadline_s  # (a resumed one gets its time)
                ):
                    session.close(Close.UNKNOWN_ERROR, "events delayed: resume")


# Ends that are the protocol working, not faults.
_PROTOCOL = (Closing, ProtocolError, ClientError, ShardingRequired)


def _outcome(error: Exception) -> str:
    """How an IDENTIFY or RESUME that ended the connection went, for the metrics."""
    if isinstance(error, _PROTOCOL):
        return "refused"
    return "unavailable" if is_outage(error) else "fault"


def _metrics_answer(head: bytes) -> bytes | None:
    """The answer to `GET /metrics` on the gateway's listener (Prometheus scrapes each node
    where it listens); None for anything else."""
    if not head.startswith(b"GET /metrics "):
        return None
    return http_answer(200, REGISTRY.render(), CONTENT_TYPE)
