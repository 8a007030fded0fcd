"""Fanout: committed events from the bus to every session here that may see them.

One task takes event batches from the bus, finds each event's audience (gateway/audience.py)
and hands every recipient its frame in native calls that never wait (core/fanout.py). A large
audience goes in chunks, with the Trio thread free between them. What an event changes in the
sessions themselves (a guild joined or left, roles, a revoked login) follows its delivery.

The boundary: a store outage while reading who may see a batch is retried (the batch waits;
the bus keeps the rest); any other fault loses one event for this node, logged and counted,
never the task.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING

import orjson
import trio

from core.bus import SeenIds
from core.domain.interactions import reveal_token
from core.domain.permissions import Permission
from core.domain.voice import reveal_voice_token
from core.events import EventName, Intent, needed_intent
from core.fanout import deliver
from core.faults import OUTAGES, Boundary, report_fault
from core.metrics import BUS_LAG, GATEWAY_DELIVERIES
from core.snowflakes import snowflake_seconds
from gateway.audience import (
    CHANNEL_EVENTS,
    NOBODY,
    EventView,
    GuildAudience,
    Recipients,
    carried_versions,
    described_channel,
)
from gateway.close import Close
from gateway.limits import DELIVERY_CHUNK
from gateway.session import start_writers

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from core.access import GuildSnapshot
    from core.bus import Batch, Bus
    from core.delivery import Delivery
    from core.delivery_log import Journal
    from core.domain.tokens import JwtKeys
    from core.events import Published
    from core.fanout import Feed
    from gateway.hub import Hub
    from gateway.session import Session

_GUILD_PRESENCES = int(Intent.GUILD_PRESENCES)
# Events whose ids are not snowflakes of their commit (made up by a gateway node or the voice
# service), never in the outbox: no lag, and journaled whole.
_NOT_COMMITTED = {
    EventName.PRESENCE_UPDATE,
    EventName.SESSION_MOVED,
    EventName.VOICE_STATE_UPDATE,
    EventName.VOICE_SERVER_UPDATE,
    EventName.VOICE_CALL_ENDED,
}


class Fanout:
    def __init__(
        self, hub: Hub, bus: Bus, delivery: Delivery, journal: Journal | None, keys: JwtKeys
    ) -> None:
        self._hub = hub
        self._keys = keys  # to derive interaction and voice tokens (reveal_*token)
        self._bus = bus
        self._delivery = delivery
        self._journal = journal
        self._seen = SeenIds()
        self._boundary = Boundary("fanout")  # one outage is logged once, however many batches
        self._lag = BUS_LAG.labels(node="local" if journal is None else journal.node)
        self.watchers: list[Callable[[Batch], None]] = []  # told of each batch before it goes

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
        resuming from before it is told to identify again (op 9). A VOICE_SERVER_UPDATE is
        given with its token sealed (core/domain/voice.py), and journaled so: the socket
        alone gets the token, revealed here (a replay from the journal comes through here
        too)."""
        if not feeds:
            return
        journal = self._journal
        mark = 0 if journal is None else journal.next_mark()
        now = trio.current_time()
        sending = payload
        if name == "VOICE_SERVER_UPDATE":
            sending = reveal_voice_token(payload, self._keys)
        sent, backlogged = deliver(feeds, name, sending, event_id, mark, now, keep=keep)
        GATEWAY_DELIVERIES.inc(len(feeds))
        if journal is not None:
            # An event the outbox has is journaled by id; one only the bus carried (voice,
            # presence) whole: another node replaying it could not read it back by id.
            outboxed = None if name in _NOT_COMMITTED else event_id
            journal.stage(feeds, sent, name, payload, outboxed, keep=keep)
        start_writers(backlogged)

    async def _dispatch_wide(
        self, feeds: list[Feed], name: str, payload: bytes, event_id: int | None
    ) -> bool:
        """dispatch(), DELIVERY_CHUNK recipients at a time; True if it let others run."""
        if len(feeds) <= DELIVERY_CHUNK:
            self.dispatch(feeds, name, payload, event_id)
            return False
        with nullcontext() if self._journal is None else self._journal.one_flush():
            for start in range(0, len(feeds), DELIVERY_CHUNK):
                if start:
                    await trio.lowlevel.checkpoint()
                self.dispatch(feeds[start : start + DELIVERY_CHUNK], name, payload, event_id)
        return True

    # The task.

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Delivers every batch the bus carries, until cancelled. Reports started once
        subscribed: a node started while Redis is away waits for it, rather than exit."""
        async with AsyncExitStack() as stack:
            while True:
                try:  # (subscribing reads Redis, to start from its newest entry)
                    batches = await stack.enter_async_context(self._bus.subscribe())
                    break
                except OUTAGES as error:
                    await trio.sleep(self._boundary.failed(error))
            self._boundary.succeeded()
            task_status.started()
            async for batch in batches:
                for watch in self.watchers:
                    watch(batch)
                await self._deliver_batch(batch)
                if self._journal is not None:
                    self._journal.position = batch.position  # after: its dispatches are staged
                committed = [e.id for e in batch.events if e.name not in _NOT_COMMITTED]
                if committed:  # how long the newest event took from its commit to here
                    self._lag.set(max(0.0, time.time() - snowflake_seconds(max(committed))))

    async def _deliver_batch(self, batch: Batch) -> None:
        events = [event for event in batch.events if self._seen.first_time(event.id)]
        while True:
            try:
                await self.deliver(events, among=None)
            except OUTAGES as error:  # nothing of the batch went yet: it waits, in order
                await trio.sleep(self._boundary.failed(error))
            else:
                self._boundary.succeeded()
                return

    # Delivery.

    async def deliver(self, events: Sequence[Published], among: list[Session] | None) -> None:
        """Delivers `events` to their audience: every session here, or only those `among`."""
        if not events:
            return
        guild_ids = {e.guild_id for e in events if e.guild_id is not None}
        if among is None:
            guild_ids &= self._hub.by_guild.keys()
        dm_channels = {
            e.channel_id
            for e in events
            if e.guild_id is None and e.channel_id is not None and not e.user_ids
        }
        snapshots: dict[int, GuildSnapshot] = {}
        if among is None:
            # Live events carry their guild's version as the relay read it, after they
            # committed: the snapshot is usually cached, and then no read is needed here.
            for gid, version in carried_versions(events, guild_ids).items():
                if (found := self._delivery.cached(gid, version)) is not None:
                    snapshots[gid] = found
        unread = guild_ids - snapshots.keys()
        recipients: dict[int, list[int]] = {}
        if unread or dm_channels:
            # (A replay reads the current versions, so a session that lost access meanwhile
            # gets nothing it no longer may.)
            loaded, recipients = await self._delivery.audiences(unread, dm_channels)
            snapshots |= loaded
        for event in events:
            try:
                await self._deliver_one(event, snapshots, recipients, among)
            except Exception as error:  # the boundary: this event, here; never the task
                report_fault("fanout", error, event_id=event.id)

    async def _deliver_one(
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
        if event.name is EventName.VOICE_SERVER_UPDATE:
            self._give_voice_server(orjson.loads(event.payload), among)
            return
        if event.name is EventName.VOICE_CALL_ENDED:
            return  # for voice nodes (core/voice.py), not sessions
        needed = needed_intent(event.name, in_guild=event.guild_id is not None)
        generation = self._hub.generation
        view = self.view(event)
        given: set[int] = set()
        yielded = False
        for payload, feeds in view.split(
            self._audience(event, snapshots, recipients, among, needed)
        ):
            yielded |= await self._dispatch_wide(feeds, event.name, payload, event.id)
            given.update(map(id, feeds))
        if yielded and self._hub.generation != generation:
            # Sessions arrived while the Trio thread was let go: those the event is for get it.
            audience = self._audience(event, snapshots, recipients, among, needed)
            for payload, feeds in view.split(audience):
                self.dispatch(
                    [f for f in feeds if id(f) not in given], event.name, payload, event.id
                )
        self._follow(event, among)

    def view(self, event: Published) -> EventView:
        """The event as sessions see it. An INTERACTION_CREATE is stored without its token: it
        is derived here, on its way to the bot, live or replayed."""
        if event.name is EventName.INTERACTION_CREATE:
            event = replace(event, payload=reveal_token(event.payload, self._keys))
        return EventView(event)

    def _audience(
        self,
        event: Published,
        snapshots: dict[int, GuildSnapshot],
        recipients: dict[int, list[int]],
        among: list[Session] | None,
        needed: int,
    ) -> Recipients:
        """Who receives `event`: the sessions that may see it and asked for it (`needed`)."""
        hub = self._hub
        if event.user_ids:
            sessions = [s for u in event.user_ids for s in hub.sessions_of(u, among)]
            return Recipients.of(sessions, needed)
        if event.guild_id is None:
            users = recipients.get(event.channel_id or 0, [])
            return Recipients.of([s for u in users for s in hub.sessions_of(u, among)], needed)
        guild_id = event.guild_id
        snapshot = snapshots.get(guild_id)
        if snapshot is None:
            return NOBODY
        audience = hub.audiences.get(guild_id) if among is None else None
        if audience is None or audience.snapshot is not snapshot:
            audience = GuildAudience(snapshot, guild_id, hub.in_guild(guild_id, among))
            if among is None:
                hub.audiences[guild_id] = audience
        members = audience.sessions
        if not members:
            return NOBODY
        if event.name is EventName.GUILD_AUDIT_LOG_ENTRY_CREATE:
            wanted = int(Permission.VIEW_AUDIT_LOG)
            auditors = [
                s
                for s in members
                if snapshot.engine.resolve(s.user_id, s.guilds.get(guild_id, [])) & wanted
            ]
            return Recipients.of(auditors, needed)
        if event.channel_id is None:
            return Recipients.of(members, needed)
        if event.name in CHANNEL_EVENTS:
            # The channel as the event describes it: a deleted channel is no longer in the
            # snapshot, and its last viewers are the ones to tell.
            return Recipients.of(audience.viewers(described_channel(event, snapshot)), needed)
        found = snapshot.channels.get(event.channel_id)
        if found is None:
            return NOBODY
        return audience.recipients(found.layout, event.channel_id, needed)

    def _show_presence(self, change: dict[str, object], among: list[Session] | None) -> None:
        """PRESENCE_UPDATE, per guild, to the sessions there that asked for presences."""
        guild_ids = change.pop("guild_ids")
        assert isinstance(guild_ids, list)
        for guild_id in guild_ids:
            sessions = self._hub.in_guild(int(guild_id), among)
            feeds = [s.feed for s in sessions if s.intents & _GUILD_PRESENCES]
            if feeds:
                payload = orjson.dumps({"guild_id": guild_id} | change)
                self.dispatch(feeds, "PRESENCE_UPDATE", payload)

    def _give_voice_server(self, server: dict[str, object], among: list[Session] | None) -> None:
        """VOICE_SERVER_UPDATE to the one session that joined or was moved, not the user's
        others (each session has its own voice state)."""
        session = self._hub.session(str(server.pop("session_id")))
        if session is not None and (among is None or session in among):
            self.dispatch([session.feed], "VOICE_SERVER_UPDATE", orjson.dumps(server))

    def _close_revoked(self, revoked: dict[str, object], among: list[Session] | None) -> None:
        """Ends the sessions of logins that ended, or of a bot whose token was reset."""
        user_id = revoked.get("user_id")
        listed = revoked.get("session_ids") or []
        assert isinstance(listed, list)
        login_ids = {int(i) for i in listed}
        if user_id is not None:
            kept = revoked.get("kept")  # the new token's: its sessions stay
            ending = [
                s
                for s in self._hub.sessions_of(int(str(user_id)), among)
                if kept is None or s.identity.token_fingerprint != kept
            ]
        else:
            candidates = self._hub.sessions.values() if among is None else among
            ending = [s for s in candidates if s.identity.login_session_id in login_ids]
        for session in ending:
            session.close(Close.AUTHENTICATION_FAILED, "Authentication failed")
            self._hub.end(session)

    def _release(self, moved: dict[str, object]) -> None:
        """Another node is taking one of our sessions over: from this event on it is theirs."""
        session = self._hub.session(str(moved.get("session_id")))
        journal = self._journal
        if session is None or journal is None or moved.get("node") == journal.node:
            return
        session.close(Close.UNKNOWN_ERROR, "resumed on another node")
        self._hub.unregister(session)
        journal.stage_release(session.id)

    def _follow(self, event: Published, among: list[Session] | None) -> None:
        """What an event changes in the sessions themselves, after it is delivered."""
        if event.guild_id is None:
            return
        guild_id = event.guild_id
        hub = self._hub
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
                for session in hub.sessions_of(user_id, among):
                    session.guilds[guild_id] = roles
                    if among is None:
                        hub.join(session, guild_id)
        elif event.name is EventName.GUILD_DELETE:
            leaving = (
                [s for u in event.user_ids for s in hub.sessions_of(u, among)]
                if event.user_ids
                else hub.in_guild(guild_id, among)
            )
            for session in leaving:
                session.guilds.pop(guild_id, None)
                hub.leave(session, guild_id)
        elif event.name is EventName.GUILD_MEMBER_UPDATE:
            member = orjson.loads(event.payload)
            user_id = int(member["user"]["id"])
            for session in hub.sessions_of(user_id, among):
                if guild_id in session.guilds:
                    session.guilds[guild_id] = [int(r) for r in member.get("roles", [])]
            hub.audiences.pop(guild_id, None)  # roles decide who sees what
