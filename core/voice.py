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
import secrets
from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING

import orjson
import trio

from core.access import load_access
from core.domain.voice import VoiceNode, VoiceState, has_room, joins_suppressed, may_connect
from core.errors import (
    UnknownGuild,
)
from core.events import EventName, Published
from core.faults import OUTAGES, Boundary, report_fault
from core.store import members as member_store
from core.voice_states import NODE_REFRESH_S

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from core.access import Access, AccessCache
    from core.bus import Bus
    from core.domain.members import Member
    from core.store.database import Connection, Database
    from core.voice_states import VoiceBoard

_OWN_IDS_KEPT = 4096  # ids of events published here, so that serve_node skips them
_STAGE = 13  # ChannelType.GUILD_STAGE_VOICE
Wire = dict[str, object]
# "Not given" for a PATCH field that may be given as null.
KEEP: object = object()


class Voice:
    def __init__(self, db: Database, access: AccessCache, bus: Bus, board: VoiceBoard) -> None:
        self._db = db
        self._access = access
        self._bus = bus
        self.board = board
        self.nodes: list[VoiceNode] = []  # served in this process
        self._own_ids: OrderedDict[int, None] = OrderedDict()

    # The voice gateway's side.

    async def serve_node(
        self, node: VoiceNode, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Registers `node` (the board: name → endpoint, kept alive), tells it of every voice
        change made in any process (local ones synchronously, before the call making the change
        returns; remote ones from the bus), until cancelled; unregisters on the way out."""
        await self.board.register(node.name, node.endpoint)
        try:
            async with self._bus.subscribe() as batches, trio.open_nursery() as nursery:
                nursery.start_soon(self._keep_alive, node)
                self.nodes.append(node)
                task_status.started()
                async for batch in batches:
                    for event in batch.events:
                        self._tell_remote(node, event)
        finally:
            if node in self.nodes:
                self.nodes.remove(node)
            with trio.CancelScope(shield=True), trio.move_on_after(NODE_REFRESH_S):
                try:
                    await self.board.unregister(node.name)
                except OUTAGES as error:  # it goes silent, and is no longer offered
                    report_fault("voice-node", error)

    async def grant(
        self, guild_id: int, user_id: int, session_id: str, token: str, *, node: str | None = None
    ) -> VoiceState | None:
        """The state a voice IDENTIFY stands for: None when there is no such state, it is
        another session's, the token is wrong or stale (a later join or move replaced it), or
        the channel is served by a node other than the caller's (`node`; by default any node
        of this process)."""
        found = await self.board.of_user([guild_id], user_id)
        state = found[0] if found else None
        if (
            state is None
            or state.channel_id is None
            or state.session_id != session_id
            or not hmac.compare_digest(state.token.encode(), token.encode())
        ):
            return None
        serving = await self.board.node_of(state.channel_id)
        mine = {node} if node is not None else {n.name for n in self.nodes}
        return state if serving in mine else None

    # The main gateway's side.

    async def request(
        self,
        session_id: str,
        user_id: int,
        guild_id: int,
        channel_id: int | None,
        *,
        self_mute: bool,
        self_deaf: bool,
    ) -> None:
        """op 4: join, move, leave, or change one's own flags. An op 4 in the channel one is
        in that changes no flag is a re-join (libraries reconnect so): a fresh token and
        VOICE_SERVER_UPDATE again. A refusal (no such channel, no VIEW_CHANNEL or CONNECT, a
        full channel) does nothing and says nothing, as Discord does."""
        if channel_id is None:
            current = await self.current(guild_id, user_id)
            if current is not None:
                await self.leave(guild_id, [current])
            return
        found = await self._db.autocommit(
            lambda c: member_access(self._access, c, guild_id, user_id)
        )
        if found is None:
            return
        access, member = found
        channel = access.snapshot.channels.get(channel_id)
        permissions = access.in_channel(channel_id)
        if channel is None or not may_connect(channel.channel.type, permissions):
            return
        states = (await self.board.of_guilds([guild_id])).get(guild_id, {})
        current = states.get(user_id)
        staying = current is not None and current.channel_id == channel_id
        if (
            current is not None
            and staying
            and current.session_id == session_id
            and (current.self_mute, current.self_deaf) != (self_mute, self_deaf)
        ):
            changed = replace(current, self_mute=self_mute, self_deaf=self_deaf)
            await self.change([changed], {user_id: member.to_wire()}, access.snapshot.version)
            return
        others = sum(
            1 for s in states.values() if s.channel_id == channel_id and s.user_id != user_id
        )
        if not staying and not has_room(channel.channel.user_limit, others, permissions):
            return
        state = VoiceState(
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            session_id=session_id,
            token=new_token(),
            deaf=member.deaf,
            mute=member.mute,
            self_deaf=self_deaf,
            self_mute=self_mute,
            suppress=current.suppress
            if current and staying
            else joins_suppressed(channel.channel.type),
            request_to_speak_timestamp=(
                current.request_to_speak_timestamp if current and staying else None
            ),
        )
        await self.enter(state, current, member.to_wire(), access.snapshot.version)

    async def end_session(self, session_id: str, user_id: int, guild_ids: Collection[int]) -> None:
        """A main gateway session ended for good: its voice states end with it."""
        ending = [
            s for s in await self.board.of_user(guild_ids, user_id) if s.session_id == session_id
        ]
        for state in ending:
            await self.leave(state.guild_id, [state])

    async def states_of(self, guild_ids: Collection[int]) -> dict[int, list[Wire]]:
        """GUILD_CREATE's `voice_states` for each guild: the voice state objects, no member."""
        found = await self.board.of_guilds(guild_ids)
        return {g: [s.to_wire(None) for s in states.values()] for g, states in found.items()}

    # Changes.

    async def current(self, guild_id: int, user_id: int) -> VoiceState | None:
        found = await self.board.of_user([guild_id], user_id)
        return found[0] if found else None

    async def members(self, guild_id: int, user_ids: Sequence[int]) -> dict[int, Wire]:
        def read(connection: Connection) -> dict[int, Wire]:
            found = (member_store.member(connection, guild_id, u) for u in user_ids)
            return {m.user.id: m.to_wire() for m in found if m is not None}

        return await self._db.autocommit(read)

    async def enter(
        self, state: VoiceState, previous: VoiceState | None, member: Wire, version: int | None
    ) -> None:
        """A join, re-join or move: the state, and the voice server to connect to."""
        assert state.channel_id is not None
        endpoint = await self._serve(state.channel_id)
        await self.board.put(state)
        self._tell_local([state])
        server = {
            "session_id": state.session_id,  # (the fanout's, to find the session; not sent)
            "token": state.token,
            "guild_id": str(state.guild_id),
            "endpoint": endpoint,
        }
        await self.announce(
            [
                _state_event(state, member, version),
                Published(
                    secrets.randbits(62),
                    EventName.VOICE_SERVER_UPDATE,
                    None,
                    None,
                    (state.user_id,),
                    orjson.dumps(server),
                ),
            ]
        )
        if previous is not None and previous.channel_id not in (None, state.channel_id):
            await self._release_empty(state.guild_id, [previous.channel_id])

    async def change(
        self, states: Sequence[VoiceState], members: dict[int, Wire], version: int | None
    ) -> None:
        """Flags of states that stay where they are."""
        for state in states:
            await self.board.put(state)
        self._tell_local(states)
        await self.announce([_state_event(s, members.get(s.user_id), version) for s in states])

    async def leave(self, guild_id: int, states: Sequence[VoiceState]) -> None:
        for state in states:
            await self.board.remove(guild_id, state.user_id)
        left = [replace(s, channel_id=None, token="") for s in states]
        self._tell_local(left)
        members = await self.members(guild_id, [s.user_id for s in states])
        await self.announce([_state_event(s, members.get(s.user_id), None) for s in left])
        await self._release_empty(
            guild_id, [s.channel_id for s in states if s.channel_id is not None]
        )

    async def _serve(self, channel_id: int) -> str | None:
        """The endpoint of the node serving the channel, chosen now if none is (one of this
        process's, else any live one); None when no voice node is alive anywhere."""
        nodes = await self.board.nodes()
        if not nodes:
            return None
        current = await self.board.node_of(channel_id)
        if current in nodes:
            return nodes[current]
        local = [n.name for n in self.nodes if n.name in nodes]
        chosen = await self.board.assign(
            channel_id, local[0] if local else secrets.choice(sorted(nodes)), replacing=current
        )
        return nodes.get(chosen)

    async def _release_empty(self, guild_id: int, channel_ids: Collection[int]) -> None:
        states = (await self.board.of_guilds([guild_id])).get(guild_id, {})
        occupied = {s.channel_id for s in states.values()}
        for channel_id in set(channel_ids) - occupied:
            await self.board.release(channel_id)

    async def _keep_alive(self, node: VoiceNode) -> None:
        boundary = Boundary("voice-node")
        while True:
            await trio.sleep(NODE_REFRESH_S)
            try:
                await self.board.register(node.name, node.endpoint)
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
            elif event.name is EventName.VOICE_CALL_ENDED:
                ended = orjson.loads(event.payload)
                node.call_ended(int(ended["guild_id"]), int(ended["channel_id"]))
        except Exception as error:  # the boundary: this node misses this change, no more
            report_fault("voice-node", error)

    def _tell_local(self, states: Sequence[VoiceState]) -> None:
        for node in list(self.nodes):
            for state in states:
                try:
                    node.changed(state)
                except Exception as error:
                    report_fault("voice-node", error)

    def _note_own(self, event_id: int) -> None:
        self._own_ids[event_id] = None
        while len(self._own_ids) > _OWN_IDS_KEPT:
            self._own_ids.popitem(last=False)

    async def announce(self, events: Sequence[Published]) -> None:
        for event in events:
            self._note_own(event.id)
        await self._bus.publish(events)


def new_token() -> str:
    return secrets.token_hex(16)


def member_access(
    cache: AccessCache, connection: Connection, guild_id: int, user_id: int
) -> tuple[Access, Member] | None:
    try:
        access = load_access(cache, connection, guild_id, user_id)
    except UnknownGuild:
        return None
    member = member_store.member(connection, guild_id, user_id)
    return None if member is None else (access, member)


def _state_event(state: VoiceState, member: Wire | None, version: int | None) -> Published:
    return Published(
        secrets.randbits(62),
        EventName.VOICE_STATE_UPDATE,
        state.guild_id,
        None,
        (),
        orjson.dumps(state.to_wire(member)),
        version,
    )


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
