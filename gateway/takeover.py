"""Taking a session over from another node, for a client that RESUMEs here (several nodes,
sharing Redis).

The node the session was on either lets it go (it is alive) or has stopped (dead or drained);
either way its journal (core/delivery_log.py) then holds everything it sent the session. This
node announces the move on the bus: every batch after the announcement is this node's to
deliver, every one before the old node's. For a node that died, what it never handled (from
the last position its journal names to the announcement) is delivered from the bus. A session
that cannot be carried on whole is refused (the client identifies again, op 9), never carried
on in part.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson
import trio

from core.delivery_log import SessionRecord
from core.errors import ShardingRequired
from core.events import EventName, Published
from gateway.limits import TAKEOVER_TIMEOUT_S
from gateway.session import Session, new_feed

if TYPE_CHECKING:
    from core.bus import Batch
    from core.delivery_log import Journal
    from core.services import Services
    from core.sessions import Identity
    from gateway.fanout import Fanout
    from gateway.hub import Hub
    from gateway.presence_pump import PresencePump


@dataclass(eq=False)
class _Moving:
    """A session this node is taking over: the batches that arrive after its announcement."""

    event_id: int  # the announcement's
    reached: trio.Event = field(default_factory=trio.Event)
    batches: list[Batch] = field(default_factory=list)


class Takeovers:
    def __init__(
        self,
        services: Services,
        journal: Journal,
        hub: Hub,
        fanout: Fanout,
        presence: PresencePump,
        max_guilds_per_shard: int,
    ) -> None:
        self._services = services
        self._journal = journal
        self._hub = hub
        self._fanout = fanout
        self._presence = presence
        self._max_guilds = max_guilds_per_shard
        self._moving: dict[str, _Moving] = {}
        fanout.watchers.append(self._watch)

    def _watch(self, batch: Batch) -> None:
        """Each batch fanout takes in, before it delivers it."""
        for moving in self._moving.values():
            if moving.reached.is_set():
                moving.batches.append(batch)
            elif any(event.id == moving.event_id for event in batch.events):
                moving.reached.set()  # the batches after this one are its to deliver

    def record(self, session: Session, shard: tuple[int, int], large: int, floor: int) -> None:
        """Another node could carry the session on for a client that has had `floor`."""
        record = SessionRecord(
            self._journal.node,
            session.feed.number,
            session.user_id,
            session.intents,
            shard,
            large,
            floor,
        )
        self._journal.stage_session(session.id, record)

    async def take_over(self, session_id: str, identity: Identity, seq: int) -> Session | None:
        """The session, carried on here for a client RESUMEing from `seq`; None when it cannot
        be carried on whole."""
        journal = self._journal
        record = await journal.record_of(session_id)
        if (
            session_id in self._moving
            or record is None
            or record.node == journal.node
            or record.user_id != identity.user_id
            or seq < record.floor
        ):
            return None
        moving = _Moving(event_id=secrets.randbits(62))
        self._moving[session_id] = moving
        try:
            return await self._take_over(session_id, identity, seq, record, moving)
        finally:
            del self._moving[session_id]

    async def _take_over(
        self,
        session_id: str,
        identity: Identity,
        seq: int,
        record: SessionRecord,
        moving: _Moving,
    ) -> Session | None:
        journal, services = self._journal, self._services
        announcement = Published(
            moving.event_id,
            EventName.SESSION_MOVED,
            None,
            None,
            (),
            orjson.dumps({"session_id": session_id, "node": journal.node}),
        )
        moved_at = await services.bus.publish([announcement])
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
        by_id = {event.id: event for event in await services.delivery.events(wanted)}
        if len(by_id) < len(set(wanted)):
            return None  # outside the outbox's retention
        try:
            starts = await services.sessions.guilds(
                identity.user_id, record.large_threshold, record.shard, self._max_guilds
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
                self._fanout.dispatch([session.feed], *logged.dispatch)
            else:
                assert logged.event_id is not None
                event = by_id[logged.event_id]
                payload = self._fanout.view(event).payload_for(session)
                self._fanout.dispatch([session.feed], event.name, payload, event.id)
        session.feed.set_recorded(known)  # the old node's journal has these already
        # Then what nobody delivered: for a dead node, from where its journal ends to the
        # announcement; and the batches this node took in since the announcement.
        backlog = [] if released else await services.bus.between(log.position or (0, 0), moved_at)
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
            await self._fanout.deliver(events, among=[session])
            if session.ended:  # its login was revoked meanwhile
                return None
        # Nothing awaited since the last look at `moving.batches`: from here fanout has it.
        self._hub.register(session)
        self.record(session, record.shard, record.large_threshold, floor=seq)
        self._presence.adopt(session)
        return session
