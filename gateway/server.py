"""The gateway: Discord Gateway v10 over our own WebSocket layer, and the fanout of committed
events to the sessions that may see them.

One task per connection reads and answers the client; writes never wait (gateway/connection.py).
One fanout task takes event batches from the bus, finds each event's audience (guild members
who can view the channel, by the native permission engine over the guild's cached snapshot;
the intents they asked for) and hands every recipient its frame without awaiting.
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
import trio

from core.bus import Batch, SeenIds
from core.domain.applications import granted_privileged_intents
from core.domain.permissions import Permission
from core.errors import ClientError, ShardingRequired, Unauthorized
from core.events import ALL_INTENTS, PRIVILEGED_INTENTS, EventName, Intent, needed_intent
from core.fanout import deliver
from core.sessions import (
    DEFAULT_LARGE_THRESHOLD,
    MAX_GUILDS_PER_SHARD,
    MAX_LARGE_THRESHOLD,
    MemberRequest,
)
from core.store import direct, outbox
from core.store import guilds as guild_store
from core.store.outbox import Published
from core.store.redis import RedisError
from gateway.connection import Connection
from gateway.journal import Journal, SessionRecord
from gateway.presence import MemoryBoard, Presences, RedisBoard, parse_presence
from gateway.session import (
    RESUME_WINDOW_S,
    Close,
    Op,
    Session,
    new_feed,
    op_message,
    start_writers,
)
from gateway.websocket import (
    MAX_HANDSHAKE_BYTES,
    FrameParser,
    HandshakeError,
    Message,
    Opcode,
    ProtocolError,
    handshake_end,
    http_refusal,
    parse_handshake,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence

    from core.access import GuildSnapshot
    from core.domain.permissions import ChannelPermissions, GuildMembers
    from core.fanout import Feed
    from core.services import Services
    from core.sessions import GuildStart, Identity
    from core.store.database import Connection as DbConnection
    from gateway.presence import Change, Shown

    _PresenceWork = Callable[[], Awaitable[Change | None]]

_log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 41_250
MAX_PAYLOAD_BYTES = 4096  # a client payload over this closes the connection with 4002
PAYLOADS_PER_MINUTE = 120
MEMBERS_PER_CHUNK = 1000
HANDSHAKE_TIMEOUT_S = 10.0
MAX_QUEUED_BYTES = 1 << 20  # per connection: past this the client is a slow consumer
CLOSE_FLUSH_S = 2.0  # how long a closing connection's last frames get to leave
# How long a RESUME on this node waits for the session's node to let it go (or be seen dead:
# gateway/journal.py's NODE_TTL_MS) before telling the client to identify again.
TAKEOVER_TIMEOUT_S = 5.0
_VERSIONS = {"9", "10"}
_COMPRESSIONS = {"zlib-stream", "zstd-stream"}
_MESSAGE_EVENTS = {EventName.MESSAGE_CREATE, EventName.MESSAGE_UPDATE}
_MESSAGE_CONTENT = int(Intent.MESSAGE_CONTENT)  # a plain int: Flag arithmetic costs µs
_GUILD_PRESENCES = int(Intent.GUILD_PRESENCES)
_PRESENCE_BATCH = 128  # presence changes announced together, at most


@dataclass(frozen=True, slots=True)
class GatewayLimits:
    """The protocol's clock and the per-connection queue bound; tests shrink them."""

    heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS
    resume_window_s: float = RESUME_WINDOW_S
    max_queued_bytes: int = MAX_QUEUED_BYTES
    # From HELLO to IDENTIFY or RESUME, whatever the heartbeats; past it, close 4009. Long
    # enough for a sharded bot waiting for its identify slot (discord.py waits 5 s a shard
    # after connecting), short enough that a connection never identifying holds nothing long.
    identify_timeout_s: float = 60.0
    max_guilds_per_shard: int = MAX_GUILDS_PER_SHARD

    @property
    def heartbeat_deadline_s(self) -> float:
        # One interval plus a quarter for the client's jitter and the network.
        return self.heartbeat_interval_ms * 1.25 / 1000

    @property
    def heartbeat_ask_s(self) -> float:
        # Late enough that a client on time has heartbeated already (no extra round trip),
        # early enough that one asked has time to answer before the deadline.
        return self.heartbeat_interval_ms * 1.1 / 1000


class _Closed(Exception):
    """Ends a conversation: with our close code, or echoing the client's."""

    def __init__(self, code: int, reason: str, *, by_client: bool = False) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.by_client = by_client


class Gateway:
    def __init__(self, services: Services, limits: GatewayLimits | None = None) -> None:
        self._services = services
        self._settings = services.settings
        self._limits = limits or GatewayLimits()
        self._sessions: dict[str, Session] = {}
        self._by_guild: dict[int, set[Session]] = {}
        self._by_user: dict[int, set[Session]] = {}
        self._audiences: dict[int, _GuildAudience] = {}  # guild id → who sees what there
        self._seen = SeenIds()
        self._takeovers: dict[str, _Takeover] = {}
        # With several nodes (Redis), what each session was sent is journaled there first, and
        # presences are kept there for every node to see.
        redis = services.redis
        window = self._limits.resume_window_s
        self.journal = None if redis is None else Journal(redis, window)
        self._presences = (
            Presences(MemoryBoard(), "local")
            if redis is None or self.journal is None
            else Presences(RedisBoard(redis, int(window * 2) + 1), self.journal.node)
        )
        # Presence changes, in the order sessions make them (op 3 is rate limited with every
        # other payload, so this queue is bounded by the connections' own limits).
        self._presence_changes: trio.MemorySendChannel[_PresenceWork]
        self._presence_changes, self._presence_work = trio.open_memory_channel(math.inf)
        self.public_url = ""  # known once listening

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
                    await background.start(self._fanout)
                    background.start_soon(self._keep_presences)
                    background.start_soon(self._forget_expired_sessions)
                    for listener in listeners:
                        background.start_soon(self._accept, listener, connections)
                    _log.info("gateway listening", extra={"url": url})
                    task_status.started(url)
                    await shutdown.wait()
                    background.cancel_scope.cancel()
                for listener in listeners:
                    listener.socket.close()  # stop accepting
                if self.journal is not None:
                    # Fanout has stopped: once the journal has the rest, other nodes may take
                    # this node's sessions over without waiting for it.
                    await self.journal.retire()
                reconnect = op_message(Op.RECONNECT, None)
                for session in list(self._sessions.values()):
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

    # One connection.

    async def _serve_stream(self, stream: trio.SocketStream, writers: trio.Nursery) -> None:
        # Take the socket from Trio's stream: from here the gateway does its own reads and
        # writes (writes without awaiting, for fanout).
        connection = Connection(stream.socket.detach(), self._limits.max_queued_bytes, writers)
        try:
            session = await self._converse(connection)
            if session is not None and session.feed.is_on(connection):
                session.feed.detach(trio.current_time())
            with trio.move_on_after(CLOSE_FLUSH_S):
                await connection.flushed()
        finally:
            connection.shut()

    async def _converse(self, connection: Connection) -> Session | None:
        """The conversation on one connection; returns the session it ended with."""
        upgraded = await self._upgrade(connection)
        if upgraded is None:
            return None
        query, early = upgraded
        conversation = _Conversation(self, connection, query)
        try:
            conversation.check_query()
            await conversation.run(early)
        except _Closed as closed:
            if conversation.session is not None and closed.code in (1000, 1001):
                self._end(conversation.session)  # a clean close ends the session
            connection.close(closed.code, closed.reason)  # (an echo, if the client closed)
            if not closed.by_client:
                await conversation.await_close_reply()
        except ProtocolError as error:
            code = Close.DECODE_ERROR if error.code == 1009 else error.code
            connection.close(code, error.reason)
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
        try:
            handshake = parse_handshake(buffer[:end])
            origin = handshake.headers.get("origin")
            if origin is not None and origin.rstrip("/") not in self._settings.allowed_origins:
                raise HandshakeError(403, "origin not allowed")
        except HandshakeError as error:
            connection.send_bytes(http_refusal(error.status, error.reason))
            return None
        connection.send_bytes(handshake.response())
        return handshake.query, buffer[end:]

    # Sessions.

    async def identify(
        self,
        identity: Identity,
        intents: int,
        shard: tuple[int, int],
        large: int,
    ) -> tuple[Session, list[GuildStart]]:
        """A new session, registered for fanout, and the guilds it starts with (with the
        presences of their members online, for a session that asked for them)."""
        try:
            starts = await self._services.sessions.guilds(
                identity.user_id, large, shard, self._limits.max_guilds_per_shard
            )
        except ShardingRequired:
            raise _Closed(Close.SHARDING_REQUIRED, "Sharding required") from None
        if intents & Intent.GUILD_PRESENCES:
            for start in starts:
                members = start.payload["members"]
                assert isinstance(members, list)
                start.payload["presences"] = await self.presences_of(start.guild_id, members)
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
        self._register(session)  # (nothing awaited after the guilds were read but presences)
        return session, starts

    # Presence.

    def set_presence(
        self, session: Session, status: str, activities: list[dict[str, object]]
    ) -> None:
        change = partial(
            self._presences.set,
            session.user_id,
            session.id,
            tuple(session.guilds),
            status,
            activities,
        )
        self._presence_changes.send_nowait(change)

    async def presences_of(self, guild_id: int, members: list[dict[str, Any]]) -> list[Shown]:
        """The presences of the guild's `members` (member objects) who are online."""
        user_ids = [int(member["user"]["id"]) for member in members]
        online = await self._presences.online(user_ids)
        return [
            {"user": {"id": str(u)}, "guild_id": str(guild_id)} | online[u]
            for u in user_ids
            if u in online
        ]

    async def _keep_presences(self) -> None:
        """Makes the presence changes sessions asked for and announces them on the bus, for
        every node; now and then sweeps away the presences of nodes gone silent."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._sweep_presences)
            async for change in self._presence_work:
                # What else is waiting goes out with it, in one bus publish: a thousand sessions
                # identifying at once are a thousand changes.
                pending = [change]
                while len(pending) < _PRESENCE_BATCH:
                    try:
                        pending.append(self._presence_work.receive_nowait())
                    except trio.WouldBlock:
                        break
                made: list[Change] = []
                for work in pending:
                    try:
                        if (one := await work()) is not None:
                            made.append(one)
                    except RedisError as error:  # Redis away: presence is ephemeral
                        _log.warning(
                            "presence not kept", extra={"error_type": type(error).__name__}
                        )
                try:  # (one by one, each change was a bus entry and a fanout of its own)
                    await self._announce(made)
                except RedisError as error:
                    _log.warning(
                        "presence not announced", extra={"error_type": type(error).__name__}
                    )

    async def _sweep_presences(self) -> None:
        window = self._limits.resume_window_s
        while True:
            try:
                live = [user_id for user_id, sessions in self._by_user.items() if sessions]
                if changes := await self._presences.sweep(live, window):
                    await self._announce(changes)
            except RedisError as error:
                _log.warning("presence sweep failed", extra={"error_type": type(error).__name__})
            await trio.sleep(window / 4)

    async def _announce(self, changes: list[Change]) -> None:
        if not changes:
            return
        events = [
            Published(secrets.randbits(62), EventName.PRESENCE_UPDATE, None, None, (), c.to_bus())
            for c in changes
        ]
        await self._services.bus.publish(events)

    def _show_presence(self, change: dict[str, object], among: list[Session] | None) -> None:
        """PRESENCE_UPDATE, per guild, to the sessions there that asked for presences."""
        guild_ids = change.pop("guild_ids")
        assert isinstance(guild_ids, list)
        for guild_id in guild_ids:
            gid = int(guild_id)
            sessions = (
                self._by_guild.get(gid, ())
                if among is None
                else [s for s in among if gid in s.guilds]
            )
            feeds = [s.feed for s in sessions if s.intents & _GUILD_PRESENCES]
            if feeds:
                payload = orjson.dumps({"guild_id": guild_id} | change)
                self.dispatch(feeds, "PRESENCE_UPDATE", payload)

    def started(
        self, session: Session, shard: tuple[int, int], large_threshold: int, *, floor: int
    ) -> None:
        """Another node could carry the session on for a client that has had `floor`."""
        if self.journal is not None:
            record = SessionRecord(
                self.journal.node,
                session.feed.number,
                session.user_id,
                session.intents,
                shard,
                large_threshold,
                floor,
            )
            self.journal.stage_session(session.id, record)

    def session(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def dispatch(
        self,
        feeds: list[Feed],
        name: str,
        payload: bytes,
        event_id: int | None = None,
        *,
        keep: bool = True,
    ) -> None:
        """One dispatch to every feed, numbered, framed and written in one native call; with
        several nodes, written once the journal has it. `keep=False` (READY, the first
        GUILD_CREATEs): not kept for a RESUME once sent, here or on another node; a client
        resuming from before it is told to identify again (op 9)."""
        if not feeds:
            return
        journal = self.journal
        mark = 0 if journal is None else journal.next_mark()
        now = trio.current_time()
        sent, backlogged = deliver(feeds, name, payload, event_id, mark, now, keep=keep)
        if journal is not None:
            journal.stage(feeds, sent, name, payload, event_id, keep=keep)
        start_writers(backlogged)

    def _register(self, session: Session) -> None:
        self._sessions[session.id] = session
        self._by_user.setdefault(session.user_id, set()).add(session)
        for guild_id in session.guilds:
            self._join(session, guild_id)

    def _unregister(self, session: Session) -> bool:
        if self._sessions.pop(session.id, None) is None:
            return False
        self._by_user.get(session.user_id, set()).discard(session)
        for guild_id in session.guilds:
            self._leave(session, guild_id)
        return True

    def _join(self, session: Session, guild_id: int) -> None:
        self._by_guild.setdefault(guild_id, set()).add(session)
        self._audiences.pop(guild_id, None)

    def _leave(self, session: Session, guild_id: int) -> None:
        self._by_guild.get(guild_id, set()).discard(session)
        self._audiences.pop(guild_id, None)

    def _end(self, session: Session) -> None:
        session.ended = True
        if session.id in self._sessions:
            ending = partial(
                self._presences.end, session.user_id, session.id, tuple(session.guilds)
            )
            self._presence_changes.send_nowait(ending)
        if self._unregister(session) and self.journal is not None:
            self.journal.stage_end(session.id)

    async def _forget_expired_sessions(self) -> None:
        while True:
            await trio.sleep(self._limits.resume_window_s / 4)
            window = self._limits.resume_window_s
            now = trio.current_time()
            for session in list(self._sessions.values()):
                detached_for = session.feed.detached_for(now)
                if detached_for is not None and detached_for > window:
                    self._end(session)

    # Fanout.

    async def _fanout(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with self._services.bus.subscribe() as batches:
            task_status.started()
            async for batch in batches:
                for moving in self._takeovers.values():
                    if moving.reached.is_set():
                        moving.batches.append(batch)
                    elif any(event.id == moving.event_id for event in batch.events):
                        moving.reached.set()  # the batches after this one are its to deliver
                await self.deliver(batch.events)
                if self.journal is not None:
                    self.journal.position = batch.position  # after: its dispatches are staged

    async def deliver(self, batch: Sequence[Published]) -> None:
        events = [event for event in batch if self._seen.first_time(event.id)]
        await self._deliver(events, among=None)

    async def _deliver(self, events: Sequence[Published], among: list[Session] | None) -> None:
        """Delivers `events` to their audience: every session here, or only those `among`."""
        guild_ids = {e.guild_id for e in events if e.guild_id is not None}
        if among is None:
            guild_ids &= self._by_guild.keys()
        dm_channels = {
            e.channel_id
            for e in events
            if e.guild_id is None and e.channel_id is not None and not e.user_ids
        }
        if not events:
            return
        cache = self._services.access
        snapshots: dict[int, GuildSnapshot] = {}
        if among is None:
            # Live events carry their guild's version as the relay read it, after they
            # committed: the snapshot is usually cached, and then no read is needed here.
            for gid, version in _carried_versions(events, guild_ids).items():
                if (found := cache.cached(gid, version)) is not None:
                    snapshots[gid] = found
        unread = guild_ids - snapshots.keys()

        def read(connection: DbConnection) -> tuple[dict[int, GuildSnapshot], dict[int, list[int]]]:
            # Read after the events committed: a permission change committed before an event
            # is in the snapshot that event is checked against. (A replay reads the current
            # versions, so a session that lost access meanwhile gets nothing it no longer may.)
            versions = guild_store.access_versions(connection, list(unread))
            loaded = {gid: cache.snapshot(connection, gid, v) for gid, v in versions.items()}
            return loaded, {c: direct.recipients(connection, c) for c in dm_channels}

        recipients: dict[int, list[int]] = {}
        if unread or dm_channels:
            loaded, recipients = await self._services.db.autocommit(read)
            snapshots |= loaded
        for event in events:
            self._deliver_one(event, snapshots, recipients, among)

    def _deliver_one(
        self,
        event: Published,
        snapshots: dict[int, GuildSnapshot],
        recipients: dict[int, list[int]],
        among: list[Session] | None,
    ) -> None:
        if event.name is EventName.SESSIONS_REVOKED:
            self._close_revoked(orjson.loads(event.payload), among)
            return
        if event.name is EventName.SESSION_MOVED:
            if among is None:
                self._release(orjson.loads(event.payload))
            return
        if event.name is EventName.PRESENCE_UPDATE:
            self._show_presence(orjson.loads(event.payload), among)
            return
        needed = needed_intent(event.name, in_guild=event.guild_id is not None)
        audience = self._audience(event, snapshots, recipients, among, needed)
        for payload, feeds in _EventView(event).split(audience):
            self.dispatch(feeds, event.name, payload, event.id)
        self._follow(event, among)

    def _sessions_of(self, user_id: int, among: list[Session] | None) -> Iterable[Session]:
        if among is None:
            return self._by_user.get(user_id, ())
        return [s for s in among if s.user_id == user_id]

    def _audience(
        self,
        event: Published,
        snapshots: dict[int, GuildSnapshot],
        recipients: dict[int, list[int]],
        among: list[Session] | None,
        needed: int,
    ) -> _Recipients:
        """Who receives `event`: the sessions that may see it and asked for it (`needed`)."""
        if event.user_ids:
            sessions = [s for u in event.user_ids for s in self._sessions_of(u, among)]
            return _Recipients.of(sessions, needed)
        if event.guild_id is None:
            users = recipients.get(event.channel_id or 0, [])
            return _Recipients.of([s for u in users for s in self._sessions_of(u, among)], needed)
        guild_id = event.guild_id
        snapshot = snapshots.get(guild_id)
        if snapshot is None:
            return _NOBODY
        audience = self._audiences.get(guild_id) if among is None else None
        if audience is None or audience.snapshot is not snapshot:
            members = (
                list(self._by_guild.get(guild_id, ()))
                if among is None
                else [s for s in among if guild_id in s.guilds]
            )
            audience = _GuildAudience(snapshot, guild_id, members)
            if among is None:
                self._audiences[guild_id] = audience
        members = audience.sessions
        if not members:
            return _NOBODY
        if event.name is EventName.GUILD_AUDIT_LOG_ENTRY_CREATE:
            wanted = int(Permission.VIEW_AUDIT_LOG)
            auditors = [
                s
                for s in members
                if snapshot.engine.resolve(s.user_id, s.guilds.get(event.guild_id, [])) & wanted
            ]
            return _Recipients.of(auditors, needed)
        if event.channel_id is None:
            return _Recipients.of(members, needed)
        if event.name in _CHANNEL_EVENTS:
            # The channel as the event describes it: a deleted channel is no longer in the
            # snapshot, and its last viewers are the ones to tell.
            return _Recipients.of(audience.viewers(_described_channel(event, snapshot)), needed)
        found = snapshot.channels.get(event.channel_id)
        if found is None:
            return _NOBODY
        return audience.recipients(found.layout, event.channel_id, needed)

    def _close_revoked(self, revoked: dict[str, object], among: list[Session] | None) -> None:
        """Ends the sessions of logins that ended, or of a bot whose token was reset."""
        user_id = revoked.get("user_id")
        listed = revoked.get("session_ids") or []
        assert isinstance(listed, list)
        login_ids = {int(i) for i in listed}
        if user_id is not None:
            ending = list(self._sessions_of(int(str(user_id)), among))
        else:
            candidates = self._sessions.values() if among is None else among
            ending = [s for s in candidates if s.identity.login_session_id in login_ids]
        for session in ending:
            session.close(Close.AUTHENTICATION_FAILED, "Authentication failed")
            self._end(session)

    def _release(self, moved: dict[str, object]) -> None:
        """Another node is taking one of our sessions over: from this event on it is theirs."""
        session = self._sessions.get(str(moved.get("session_id")))
        if session is None or self.journal is None or moved.get("node") == self.journal.node:
            return
        session.close(Close.UNKNOWN_ERROR, "resumed on another node")
        self._unregister(session)
        self.journal.stage_release(session.id)

    def _follow(self, event: Published, among: list[Session] | None) -> None:
        """What an event changes in the sessions themselves, after it is delivered."""
        if event.guild_id is None:
            return
        guild_id = event.guild_id
        if event.name is EventName.GUILD_CREATE and event.user_ids:
            members = orjson.loads(event.payload).get("members", [])
            for user_id in event.user_ids:
                roles = next(
                    (
                        [int(r) for r in m.get("roles", [])]
                        for m in members
                        if m.get("user", {}).get("id") == str(user_id)
                    ),
                    [],
                )
                for session in self._sessions_of(user_id, among):
                    session.guilds[guild_id] = roles
                    if among is None:
                        self._join(session, guild_id)
        elif event.name is EventName.GUILD_DELETE:
            leaving = (
                [s for u in event.user_ids for s in self._sessions_of(u, among)]
                if event.user_ids
                else list(self._by_guild.get(guild_id, ()) if among is None else among)
            )
            for session in leaving:
                session.guilds.pop(guild_id, None)
                self._leave(session, guild_id)
        elif event.name is EventName.GUILD_MEMBER_UPDATE:
            member = orjson.loads(event.payload)
            user_id = int(member["user"]["id"])
            for session in self._sessions_of(user_id, among):
                if guild_id in session.guilds:
                    session.guilds[guild_id] = [int(r) for r in member.get("roles", [])]
            self._audiences.pop(guild_id, None)  # roles decide who sees what

    # Taking a session over from another node.

    async def take_over(self, session_id: str, identity: Identity, seq: int) -> Session | None:
        """Carries on a session another node had, for a client RESUMEing here from `seq`.

        The node it was on either lets it go (it is alive) or has stopped (dead or drained);
        either way its journal then holds everything it sent the session. This node announces
        the move on the bus: every batch after the announcement is this node's to deliver,
        every one before the old node's. For a node that died, what it never handled (from the
        last position its journal names to the announcement) is delivered from the bus. None
        when the session cannot be carried on whole: the client is told to identify (op 9).
        """
        journal = self.journal
        assert journal is not None
        record = await journal.record_of(session_id)
        if (
            session_id in self._takeovers
            or record is None
            or record.node == journal.node
            or record.user_id != identity.user_id
            or seq < record.floor
        ):
            return None
        moving = _Takeover(event_id=secrets.randbits(62))
        self._takeovers[session_id] = moving
        try:
            return await self._take_over(session_id, identity, seq, record, moving)
        finally:
            del self._takeovers[session_id]

    async def _take_over(
        self,
        session_id: str,
        identity: Identity,
        seq: int,
        record: SessionRecord,
        moving: _Takeover,
    ) -> Session | None:
        journal = self.journal
        assert journal is not None
        announcement = Published(
            moving.event_id,
            EventName.SESSION_MOVED,
            None,
            None,
            (),
            orjson.dumps({"session_id": session_id, "node": journal.node}),
        )
        moved_at = await self._services.bus.publish([announcement])
        released = await journal.wait_for_release(record.node, session_id, TAKEOVER_TIMEOUT_S)
        with trio.move_on_after(TAKEOVER_TIMEOUT_S):
            await moving.reached.wait()
        if released is None or not moving.reached.is_set():
            return None
        log = await journal.node_log(record.node)
        sent = log.sessions.get(record.number, [])
        known = max([record.floor, *(logged.seq for logged in sent)])
        missed = [logged for logged in sent if logged.seq > seq]
        if [logged.seq for logged in missed] != list(range(seq + 1, known + 1)):
            return None  # the client is ahead of the journal, or some of it is gone
        wanted = [logged.event_id for logged in missed if logged.event_id is not None]
        events = await self._services.db.autocommit(lambda c: outbox.by_ids(c, wanted))
        by_id = {event.id: event for event in events}
        if len(by_id) < len(set(wanted)):
            return None  # outside the outbox's retention
        try:
            starts = await self._services.sessions.guilds(
                identity.user_id,
                record.large_threshold,
                record.shard,
                self._limits.max_guilds_per_shard,
            )
        except ShardingRequired:
            return None  # it joined guilds meanwhile: identify again, with more shards
        session = Session(
            id=session_id,
            identity=identity,
            intents=record.intents,
            guilds={s.guild_id: s.role_ids for s in starts},
            feed=new_feed(journal.next_number(), held=True),
        )
        # What the old node sent after `seq`, numbered as it was: kept here too, so that a
        # further move finds it in this node's journal.
        session.feed.start_at(seq)
        for logged in missed:
            if logged.dispatch is not None:
                self.dispatch([session.feed], *logged.dispatch)
            else:
                assert logged.event_id is not None
                event = by_id[logged.event_id]
                payload = _EventView(event).payload_for(session)
                self.dispatch([session.feed], event.name, payload, event.id)
        session.feed.set_recorded(known)  # the old node's journal has these already
        # Then what nobody delivered: for a dead node, from where its journal ends to the
        # announcement; and the batches this node took in since the announcement.
        backlog = (
            [] if released else await self._services.bus.between(log.position or (0, 0), moved_at)
        )
        delivered = {logged.event_id for logged in sent}
        taken = 0
        while True:
            backlog += moving.batches[taken:]
            taken = len(moving.batches)
            if not backlog:
                break
            events = [e for b in backlog for e in b.events if e.id not in delivered]
            delivered.update(event.id for event in events)
            backlog = []
            await self._deliver(events, among=[session])
            if session.ended:  # its login was revoked meanwhile
                return None
        # Nothing awaited since the last look at `moving.batches`: from here fanout has it.
        self._register(session)
        self.started(session, record.shard, record.large_threshold, floor=seq)
        self._presence_changes.send_nowait(
            partial(self._presences.adopt, session.user_id, session.id)
        )
        return session


@dataclass(eq=False)
class _Takeover:
    """A session this node is taking over: the batches that arrive after its announcement."""

    event_id: int  # the announcement's
    reached: trio.Event = field(default_factory=trio.Event)
    batches: list[Batch] = field(default_factory=list)


class _EventView:
    """One event as each session may see it. Discord's rule: without MESSAGE_CONTENT a bot
    sees guild messages blank, but for its own and those that mention it. The blank copy is
    made once per event, and only if some session needs it."""

    def __init__(self, event: Published) -> None:
        self._event = event
        self._ruled = event.name in _MESSAGE_EVENTS and event.guild_id is not None
        self._readers: set[int] | None = None  # who sees content regardless
        self._blank = b""

    def split(self, recipients: _Recipients) -> list[tuple[bytes, list[Feed]]]:
        """The recipients' feeds grouped by the payload each sees."""
        if not self._ruled or not recipients.ruled:
            return [(self._event.payload, recipients.feeds)]
        blank = {s for s in recipients.ruled if s.user_id not in self._content_readers()}
        if not blank:
            return [(self._event.payload, recipients.feeds)]
        return [
            (self._event.payload, [s.feed for s in recipients.sessions if s not in blank]),
            (self._blank, [s.feed for s in blank]),
        ]

    def payload_for(self, session: Session) -> bytes:
        if not (self._ruled and session.identity.bot and not session.intents & _MESSAGE_CONTENT):
            return self._event.payload
        return self._event.payload if session.user_id in self._content_readers() else self._blank

    def _content_readers(self) -> set[int]:
        if self._readers is None:
            message = orjson.loads(self._event.payload)
            self._readers = {int(m["id"]) for m in message.get("mentions", [])}
            self._readers.add(int(message.get("author", {}).get("id", 0)))
            message.update(content="", embeds=[], attachments=[], components=[])
            self._blank = orjson.dumps(message)
        return self._readers


@dataclass(frozen=True, slots=True)
class _Recipients:
    """An event's audience, ready to dispatch to: the sessions, their feeds, and the bots among
    them without MESSAGE_CONTENT (who may see a guild message blank). Kept per channel and
    intent by _GuildAudience, so a busy channel's events cost no per-session Python."""

    sessions: list[Session]
    feeds: list[Feed]
    ruled: list[Session]

    @classmethod
    def of(cls, sessions: Iterable[Session], needed: int) -> _Recipients:
        chosen = [s for s in sessions if s.intents & needed] if needed else list(sessions)
        ruled = [s for s in chosen if s.identity.bot and not s.intents & _MESSAGE_CONTENT]
        return cls(chosen, [s.feed for s in chosen], ruled)


_NOBODY = _Recipients([], [], [])


@dataclass(eq=False, slots=True)
class _GuildAudience:
    """A guild's sessions on this node, resolved in bulk against one snapshot of its roles,
    and who of them can view each channel: one native call per channel, kept until the
    snapshot, the sessions or their roles change (the gateway then drops it)."""

    snapshot: GuildSnapshot
    sessions: list[Session]
    members: GuildMembers
    by_channel: dict[int, list[Session]]
    prepared: dict[tuple[int, int], _Recipients]  # by channel id and intent needed

    def __init__(self, snapshot: GuildSnapshot, guild_id: int, sessions: list[Session]) -> None:
        self.snapshot = snapshot
        self.sessions = sessions
        self.members = snapshot.engine.members(
            [(s.user_id, s.guilds.get(guild_id, []), False) for s in sessions]
        )
        self.by_channel = {}
        self.prepared = {}

    def recipients(self, layout: ChannelPermissions, channel_id: int, needed: int) -> _Recipients:
        """viewers(), of those who asked for what needs `needed`; kept."""
        key = (channel_id, needed)
        if (found := self.prepared.get(key)) is None:
            found = self.prepared[key] = _Recipients.of(self.viewers(layout, channel_id), needed)
        return found

    def viewers(self, layout: ChannelPermissions, channel_id: int | None = None) -> list[Session]:
        """The sessions that can view the channel laid out as `layout`; kept by `channel_id`."""
        if channel_id is not None and (found := self.by_channel.get(channel_id)) is not None:
            return found
        can_view = self.members.who_has(int(Permission.VIEW_CHANNEL), layout)
        found = [s for s, can in zip(self.sessions, can_view, strict=True) if can]
        if channel_id is not None:
            self.by_channel[channel_id] = found
        return found


def _carried_versions(events: Sequence[Published], guild_ids: set[int]) -> dict[int, int]:
    """The newest access_version the events carry for each of `guild_ids` that all of that
    guild's events carry one for (an event from an older node may not)."""
    versions: dict[int, int] = {}
    lacking: set[int] = set()
    for event in events:
        if event.guild_id not in guild_ids:
            continue
        if event.access_version is None:
            lacking.add(event.guild_id)
        else:
            versions[event.guild_id] = max(versions.get(event.guild_id, 0), event.access_version)
    return {gid: v for gid, v in versions.items() if gid not in lacking}


_CHANNEL_EVENTS = {EventName.CHANNEL_CREATE, EventName.CHANNEL_UPDATE, EventName.CHANNEL_DELETE}


def _described_channel(event: Published, snapshot: GuildSnapshot) -> ChannelPermissions:
    channel = orjson.loads(event.payload)
    overwrites = [
        (int(o["id"]), int(o["type"]), int(o["allow"]), int(o["deny"]))
        for o in channel.get("permission_overwrites", [])
    ]
    return snapshot.engine.channel(overwrites, text=channel.get("type") in (0, 5))


def _member_request(d: object) -> MemberRequest | None:
    """op 8's `d`, checked: a guild id, and user_ids or a query; None when malformed."""
    if not isinstance(d, dict):
        return None
    guild_id, query, limit, user_ids = (
        d.get("guild_id"),
        d.get("query"),
        d.get("limit", 0),
        d.get("user_ids"),
    )
    if isinstance(guild_id, list):  # Discord accepts one guild per request now
        guild_id = guild_id[0] if len(guild_id) == 1 else None
    nonce = d.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or len(nonce.encode()) > 32):
        return None
    if (query is None) == (user_ids is None):  # one or the other
        return None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        return None
    try:
        if isinstance(user_ids, (str, int)):
            user_ids = [user_ids]
        return MemberRequest(
            guild_id=int(str(guild_id)),
            query=None if query is None else str(query),
            limit=limit,
            user_ids=None if user_ids is None else [int(str(u)) for u in user_ids],
        )
    except (TypeError, ValueError):
        return None


class _Conversation:
    """The protocol on one connection, from HELLO to close."""

    __slots__ = ("_connection", "_gateway", "_parser", "_payload_times", "_query", "session")

    def __init__(self, gateway: Gateway, connection: Connection, query: dict[str, str]) -> None:
        self._gateway = gateway
        self._connection = connection
        self._query = query
        self._parser = FrameParser(MAX_PAYLOAD_BYTES)
        self._payload_times: list[float] = []
        self.session: Session | None = None

    def check_query(self) -> None:
        version = self._query.get("v", "10")
        if version not in _VERSIONS:
            raise _Closed(Close.INVALID_API_VERSION, "Invalid API version")
        encoding = self._query.get("encoding", "json")
        if encoding != "json":
            raise _Closed(Close.DECODE_ERROR, f"encoding {encoding!r} is not supported: use json")
        compress = self._query.get("compress")
        if compress in _COMPRESSIONS:
            self._connection.compress(compress)
        elif compress is not None:
            raise _Closed(Close.DECODE_ERROR, f"compress {compress!r} is not supported")

    def send(self, op: Op, d: object) -> None:
        data = op_message(op, d)
        if self.session is not None and self.session.feed.is_on(self._connection):
            self.session.write(data)
        else:
            self._connection.send(data)

    async def run(self, early: bytes) -> None:
        limits = self._gateway._limits
        self.send(Op.HELLO, {"heartbeat_interval": limits.heartbeat_interval_ms})
        pending = self._parser.feed(early) if early else []
        del early  # not kept for the connection's life
        heard_at = trio.current_time()
        identify_by = heard_at + limits.identify_timeout_s
        asked = False  # for a heartbeat (op 1), since the last one
        while True:
            while pending:
                message = pending.pop(0)
                if await self._handle(message):
                    heard_at, asked = trio.current_time(), False
            now = trio.current_time()
            if self.session is None and now >= identify_by:
                raise _Closed(Close.SESSION_TIMED_OUT, "Session timed out: identify sooner")
            if now >= heard_at + limits.heartbeat_deadline_s:
                raise _Closed(Close.UNKNOWN_ERROR, "no heartbeat in time: resume")
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
            # Echoed back as the client sent it (1005: it gave no code).
            code = int.from_bytes(message.payload[:2], "big") if len(message.payload) >= 2 else 1000
            raise _Closed(code, "", by_client=True)
        if message.opcode is Opcode.PING:
            self._connection.took(self._connection.send_frame(Opcode.PONG, message.payload))
            return False
        if message.opcode is Opcode.PONG:
            return False
        self._count_payload()
        try:
            payload = orjson.loads(message.payload)
            op = payload["op"]
            if not isinstance(op, int) or isinstance(op, bool):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise _Closed(Close.DECODE_ERROR, "Error while decoding payload") from None
        d = payload.get("d")
        if op == Op.HEARTBEAT:
            if self.session is not None and isinstance(d, int) and not isinstance(d, bool):
                self.session.feed.acknowledge(d)
            self.send(Op.HEARTBEAT_ACK, None)
            return True
        if op == Op.IDENTIFY:
            await self._identify(d)
        elif op == Op.RESUME:
            await self._resume(d)
        elif op in (Op.PRESENCE_UPDATE, Op.VOICE_STATE_UPDATE, Op.REQUEST_GUILD_MEMBERS):
            if self.session is None:
                raise _Closed(Close.NOT_AUTHENTICATED, "Not authenticated")
            if op == Op.REQUEST_GUILD_MEMBERS:
                await self._request_members(self.session, d)
            elif op == Op.PRESENCE_UPDATE:
                presence = parse_presence(d)
                if presence is None:
                    raise _Closed(Close.DECODE_ERROR, "PRESENCE_UPDATE is malformed")
                self._gateway.set_presence(self.session, *presence)
        else:
            raise _Closed(Close.UNKNOWN_OPCODE, "Unknown opcode")
        return False

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
            raise _Closed(Close.RATE_LIMITED, "You are being rate limited.")

    async def _identify(self, d: object) -> None:
        if self.session is not None:
            raise _Closed(Close.ALREADY_AUTHENTICATED, "Already authenticated")
        if not isinstance(d, dict) or not isinstance(d.get("token"), str):
            raise _Closed(Close.DECODE_ERROR, "IDENTIFY needs a token")
        intents = d.get("intents")
        if (
            not isinstance(intents, int)
            or isinstance(intents, bool)
            or intents & ~ALL_INTENTS
            or intents < 0
        ):
            raise _Closed(Close.INVALID_INTENTS, "Invalid intent(s)")
        shard = d.get("shard", [0, 1])
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(n, int) for n in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            raise _Closed(Close.INVALID_SHARD, "Invalid shard")
        large = d.get("large_threshold", DEFAULT_LARGE_THRESHOLD)
        if (
            not isinstance(large, int)
            or not DEFAULT_LARGE_THRESHOLD <= large <= MAX_LARGE_THRESHOLD
        ):
            large = DEFAULT_LARGE_THRESHOLD
        try:
            identity = await self._gateway._services.sessions.identify(d["token"])
        except Unauthorized:
            raise _Closed(Close.AUTHENTICATION_FAILED, "Authentication failed") from None
        if identity.bot and not self._gateway._settings.privileged_intents:
            flags = int(str((identity.application or {}).get("flags", 0)))
            if intents & PRIVILEGED_INTENTS & ~granted_privileged_intents(flags):
                raise _Closed(Close.DISALLOWED_INTENTS, "Disallowed intent(s)")
        presence = parse_presence(d.get("presence") or {})
        if presence is None:
            raise _Closed(Close.DECODE_ERROR, "IDENTIFY's presence is malformed")
        session, starts = await self._gateway.identify(
            identity, intents, (shard[0], shard[1]), large
        )
        session.attach(self._connection, sent=0)
        self.session = session
        ready: dict[str, object] = {
            "v": int(self._query.get("v", "10")),
            "user": identity.user,
            "guilds": [{"id": str(g), "unavailable": True} for g in session.guilds],
            "session_id": session.id,
            "resume_gateway_url": self._gateway.public_url,
            "session_type": "normal",
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
        }
        if d.get("shard") is not None:
            ready["shard"] = shard
        if identity.application is not None:
            ready["application"] = identity.application
        # Too big to journal for every session: a client resuming on another node from
        # before their end is told to identify again.
        feeds = [session.feed]
        self._gateway.dispatch(feeds, "READY", orjson.dumps(ready), keep=False)
        for start in starts:
            self._gateway.dispatch(feeds, "GUILD_CREATE", orjson.dumps(start.payload), keep=False)
        self._gateway.started(session, (shard[0], shard[1]), large, floor=session.feed.seq)
        self._gateway.set_presence(session, *presence)

    async def _request_members(self, session: Session, d: object) -> None:
        """op 8: GUILD_MEMBERS_CHUNK dispatches, up to 1,000 members each."""
        request = _member_request(d)
        if request is None:
            raise _Closed(Close.DECODE_ERROR, "REQUEST_GUILD_MEMBERS is malformed")
        if (
            request.user_ids is None
            and not request.query
            and not (session.intents & Intent.GUILD_MEMBERS)
        ):
            raise _Closed(Close.INVALID_INTENTS, "the whole member list needs GUILD_MEMBERS")
        nonce = d.get("nonce") if isinstance(d, dict) else None
        if request.guild_id not in session.guilds:
            return  # not theirs: nothing, as from Discord
        members, not_found = await self._gateway._services.sessions.members(
            session.user_id, request
        )
        chunks = [
            members[i : i + MEMBERS_PER_CHUNK] for i in range(0, len(members), MEMBERS_PER_CHUNK)
        ]
        chunks = chunks or [[]]
        for index, chunk in enumerate(chunks):
            payload: dict[str, object] = {
                "guild_id": str(request.guild_id),
                "members": chunk,
                "chunk_index": index,
                "chunk_count": len(chunks),
            }
            if index == 0 and not_found:
                payload["not_found"] = [str(i) for i in not_found]
            if d.get("presences") if isinstance(d, dict) else False:
                payload["presences"] = await self._gateway.presences_of(request.guild_id, chunk)
            if isinstance(nonce, str):
                payload["nonce"] = nonce
            self._gateway.dispatch([session.feed], "GUILD_MEMBERS_CHUNK", orjson.dumps(payload))

    async def _resume(self, d: object) -> None:
        if self.session is not None:
            raise _Closed(Close.ALREADY_AUTHENTICATED, "Already authenticated")
        if (
            not isinstance(d, dict)
            or not isinstance(d.get("token"), str)
            or not isinstance(d.get("session_id"), str)
            or not isinstance(d.get("seq"), int)
        ):
            raise _Closed(Close.DECODE_ERROR, "RESUME needs token, session_id and seq")
        try:
            identity = await self._gateway._services.sessions.identify(d["token"])
        except (Unauthorized, ClientError):
            raise _Closed(Close.AUTHENTICATION_FAILED, "Authentication failed") from None
        session = self._gateway.session(d["session_id"])
        if session is None and self._gateway.journal is not None:
            session = await self._gateway.take_over(d["session_id"], identity, d["seq"])
        if session is None or session.user_id != identity.user_id:
            self.send(Op.INVALID_SESSION, False)
            return
        if d["seq"] > session.feed.seq:
            # Never sent: the client's count is wrong, and so would be anything replayed.
            raise _Closed(Close.INVALID_SEQ, "Invalid seq")
        if session.feed.missed_since(d["seq"]) is None:
            self.send(Op.INVALID_SESSION, False)
            return
        session.close(Close.UNKNOWN_ERROR, "resumed elsewhere")  # an old socket still open
        # Replay at the pace the client reads (this task may wait; fanout never does).
        # Meanwhile new dispatches only join the replay, so order holds; the session is
        # attached once nothing is left, with no wait in between.
        sent = d["seq"]
        while missed := session.feed.missed_since(sent):
            for message in missed:
                if self._connection.queued > self._gateway._limits.max_queued_bytes // 2:
                    with trio.move_on_after(self._gateway._limits.heartbeat_deadline_s):
                        await self._connection.flushed()
                    if self._connection.queued > self._gateway._limits.max_queued_bytes // 2:
                        raise _Closed(Close.UNKNOWN_ERROR, "slow consumer: resume")
                self._connection.send(message)
            sent += len(missed)
        if missed is None:  # a flood pushed out what was not yet replayed
            raise _Closed(Close.UNKNOWN_ERROR, "fell too far behind")
        session.attach(self._connection, sent)
        self.session = session
        self._gateway.dispatch([session.feed], "RESUMED", b"{}")
