"""Voice: who is in which voice channel, and which voice node serves it.

Voice states live on the voice board (core/voice_states.py). Every change is announced on the
bus directly, never through the outbox (ephemeral, like presence): VOICE_STATE_UPDATE to the
guild's sessions that asked for voice states, VOICE_SERVER_UPDATE to the one session that
joined or was moved, and our own VOICE_CALL_ENDED when a channel is deleted. The voice nodes
of this process (gateway/voice/) are told of a change made here before the call making it
returns; those of other processes learn it from the bus (`serve_node`). Tokens never go on the
bus but inside VOICE_SERVER_UPDATE, to the session they are for; so a node told of another
process's change gets the state with an empty token (grant() reads the board).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections import OrderedDict
from typing import TYPE_CHECKING

import orjson
import trio

from core.domain.voice import VoiceNode, VoiceState
from core.events import EventName, Published
from core.faults import OUTAGES, Boundary, report_fault
from core.voice_states import NODE_REFRESH_S

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.access import AccessCache
    from core.bus import Bus
    from core.store.database import Database
    from core.voice_states import VoiceBoard

_log = logging.getLogger(__name__)

_OWN_IDS_KEPT = 4096  # ids of events published here, so that serve_node skips them


class Voice:
    def __init__(self, db: Database, access: AccessCache, bus: Bus, board: VoiceBoard) -> None:
        self._db = db
        self._access = access
        self._bus = bus
        self._board = board
        self._nodes: list[VoiceNode] = []  # served in this process
        self._own_ids: OrderedDict[int, None] = OrderedDict()

    # The voice gateway's side.

    async def serve_node(
        self, node: VoiceNode, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Registers `node` (the board: name → endpoint, kept alive), tells it of every voice
        change made in any process (local ones synchronously, before the call making the change
        returns; remote ones from the bus), until cancelled; unregisters on the way out."""
        await self._board.register(node.name, node.endpoint)
        try:
            async with self._bus.subscribe() as batches, trio.open_nursery() as nursery:
                nursery.start_soon(self._keep_alive, node)
                self._nodes.append(node)
                task_status.started()
                async for batch in batches:
                    for event in batch.events:
                        self._tell_remote(node, event)
        finally:
            if node in self._nodes:
                self._nodes.remove(node)
            with trio.CancelScope(shield=True), trio.move_on_after(NODE_REFRESH_S):
                try:
                    await self._board.unregister(node.name)
                except OUTAGES as error:  # it goes silent, and is no longer offered
                    report_fault("voice-node", error)

    async def grant(
        self, guild_id: int, user_id: int, session_id: str, token: str, *, node: str | None = None
    ) -> VoiceState | None:
        """The state a voice IDENTIFY stands for: None when there is no such state, it is
        another session's, the token is wrong or stale (a later join or move replaced it), or
        the channel is served by a node other than the caller's (`node`; by default any node
        of this process)."""
        found = await self._board.of_user([guild_id], user_id)
        state = found[0] if found else None
        if (
            state is None
            or state.channel_id is None
            or state.session_id != session_id
            or not hmac.compare_digest(state.token.encode(), token.encode())
        ):
            return None
        serving = await self._board.node_of(state.channel_id)
        mine = {node} if node is not None else {n.name for n in self._nodes}
        return state if serving in mine else None

    async def _keep_alive(self, node: VoiceNode) -> None:
        boundary = Boundary("voice-node")
        while True:
            await trio.sleep(NODE_REFRESH_S)
            try:
                await self._board.register(node.name, node.endpoint)
            except OUTAGES as error:
                boundary.failed(error)
            else:
                boundary.succeeded()

    def _tell_remote(self, node: VoiceNode, event: Published) -> None:
        if event.id in self._own_ids:
            return  # made here: told already
        try:
            if event.name is EventName.VOICE_STATE_UPDATE:
                node.changed(_from_wire(orjson.loads(event.payload)))
            elif event.name is EventName.VOICE_CALL_ENDED and event.channel_id is not None:
                assert event.guild_id is not None
                node.call_ended(event.guild_id, event.channel_id)
        except Exception as error:  # the boundary: this node misses this change, no more
            report_fault("voice-node", error)

    def _tell_local(self, states: Sequence[VoiceState]) -> None:
        for node in list(self._nodes):
            for state in states:
                try:
                    node.changed(state)
                except Exception as error:
                    report_fault("voice-node", error)

    def _note_own(self, event_id: int) -> None:
        self._own_ids[event_id] = None
        while len(self._own_ids) > _OWN_IDS_KEPT:
            self._own_ids.popitem(last=False)

    async def _announce(self, events: Sequence[Published]) -> None:
        for event in events:
            self._note_own(event.id)
        await self._bus.publish(events)


def new_token() -> str:
    return secrets.token_hex(16)


def _from_wire(wire: dict[str, object]) -> VoiceState:
    """A state as another process announced it (VOICE_STATE_UPDATE): without its token."""
    channel_id = wire.get("channel_id")
    stamp = wire.get("request_to_speak_timestamp")
    return VoiceState(
        guild_id=int(str(wire["guild_id"])),
        channel_id=None if channel_id is None else int(str(channel_id)),
        user_id=int(str(wire["user_id"])),
        session_id=str(wire["session_id"]),
        token="",
        deaf=bool(wire["deaf"]),
        mute=bool(wire["mute"]),
        self_deaf=bool(wire["self_deaf"]),
        self_mute=bool(wire["self_mute"]),
        suppress=bool(wire["suppress"]),
        request_to_speak_timestamp=None if stamp is None else str(stamp),
    )
