"""The presence pump: makes the presence changes sessions ask for (core/presence.py keeps the
board) and announces what others now see, on the bus, for every node.

Bounded without ever blocking a connection: at most one change waits per session, a later one
replacing it (what counts is the presence a session ends with, not every step to it). So a
thousand sessions identifying at once are at most a thousand waiting changes, announced in
batches of _BATCH with one bus publish each.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import trio

from core.events import EventName, Published
from core.faults import Boundary, report_fault

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from core.bus import Bus
    from core.presence import Change, Presences, Shown
    from gateway.hub import Hub
    from gateway.session import Session

    _Work = Callable[[], Awaitable[Change | None]]

_BATCH = 128  # presence changes announced together, at most


class PresencePump:
    def __init__(self, bus: Bus, presences: Presences, resume_window_s: float) -> None:
        self._bus = bus
        self._window_s = resume_window_s
        self._presences = presences
        self._waiting: dict[str, _Work] = {}  # session id → its latest change, in order
        self._wake = trio.Event()

    def set(self, session: Session, status: str, activities: list[dict[str, object]]) -> None:
        guild_ids = tuple(session.guilds)
        presences, user_id, session_id = self._presences, session.user_id, session.id

        async def change() -> Change | None:
            return await presences.set(user_id, session_id, guild_ids, status, activities)

        self._offer(session.id, change)

    def end(self, session: Session) -> None:
        guild_ids = tuple(session.guilds)
        presences, user_id, session_id = self._presences, session.user_id, session.id

        async def change() -> Change | None:
            return await presences.end(user_id, session_id, guild_ids)

        self._offer(session.id, change)

    def adopt(self, session: Session) -> None:
        """A session taken over from another node: its presence is this node's now."""
        presences, user_id, session_id = self._presences, session.user_id, session.id

        async def change() -> Change | None:
            await presences.adopt(user_id, session_id)
            return None

        self._offer(session.id, change)

    @property
    def waiting(self) -> int:
        """Changes waiting to be made: at most one per session."""
        return len(self._waiting)

    def _offer(self, session_id: str, work: _Work) -> None:
        self._waiting.pop(session_id, None)  # the newest goes last: order is kept
        self._waiting[session_id] = work
        self._wake.set()

    async def presences_of(self, guild_id: int, members: list[dict[str, Any]]) -> list[Shown]:
        """The presences of the guild's `members` (member objects) who are online."""
        user_ids = [int(member["user"]["id"]) for member in members]
        online = await self._presences.online(user_ids)
        return [
            {"user": {"id": str(u)}, "guild_id": str(guild_id)} | online[u]
            for u in user_ids
            if u in online
        ]

    async def run(self, hub: Hub) -> None:
        """Makes and announces the waiting changes; now and then sweeps away the presences of
        nodes gone silent. Until cancelled: a fault loses one batch of presences (ephemeral by
        design), never the pump."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._sweep, hub)
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                while self._waiting:
                    batch = list(self._waiting.items())[:_BATCH]
                    for session_id, _ in batch:
                        del self._waiting[session_id]
                    await self._make([work for _, work in batch])

    async def _make(self, batch: list[_Work]) -> None:
        made: list[Change] = []
        for work in batch:
            try:
                if (one := await work()) is not None:
                    made.append(one)
            except Exception as error:  # the boundary: this presence is lost, not the pump
                report_fault("presence", error)
        try:  # (one by one, each change was a bus entry and a fanout of its own)
            await self._announce(made)
        except Exception as error:
            report_fault("presence", error)

    async def _sweep(self, hub: Hub) -> None:
        boundary = Boundary("presence-sweep")
        while True:
            try:
                if changes := await self._presences.sweep(hub.live_user_ids(), self._window_s):
                    await self._announce(changes)
            except Exception as error:  # tried again next time round
                boundary.failed(error)
            else:
                boundary.succeeded()
            await trio.sleep(self._window_s / 4)

    async def _announce(self, changes: list[Change]) -> None:
        if not changes:
            return
        events = [
            Published(secrets.randbits(62), EventName.PRESENCE_UPDATE, None, None, (), c.to_bus())
            for c in changes
        ]
        await self._bus.publish(events)
