"""Voice: who is in which voice channel, and which voice node serves it.

Voice states live on the voice board (core/voice_states.py). Every change is announced on the
bus directly, never through the outbox (ephemeral, like presence): VOICE_STATE_UPDATE to the
guild's sessions that asked for voice states, VOICE_SERVER_UPDATE to the one session that
joined or was moved, and our own VOICE_CALL_ENDED when a channel is deleted. The voice nodes
of this process (gateway/voice/) are told of a change made here before the call making it
returns; those of other processes learn it from the bus (`serve_node`). Voice tokens are
never kept, nor carried in the clear (core/domain/voice.py): the board has their digests, and
VOICE_SERVER_UPDATE goes on the bus with the token sealed, for the gateway to reveal to the one
session it is for. A node told of another process's change gets the state without a digest
(grant() reads the board).

A member who joins a guild is sent its GUILD_CREATE through the outbox, built when the join is
committed, with `voice_states` empty: voice changes go on the bus directly, so any snapshot
taken then could be overtaken by a change the newcomer's session misses (it is not in the
guild until that GUILD_CREATE reaches it). Only the gateway, as it delivers the GUILD_CREATE,
could read the board in the right order (gateway/fanout.py); until then a newcomer learns of
voice states from the next VOICE_STATE_UPDATEs, or by identifying again.
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
from core.domain.voice import (
    Entry,
    VoiceNode,
    VoiceState,
    joins_suppressed,
    may_connect,
    new_voice_token,
    room_limit,
    token_digest,
)
from core.errors import UnknownGuild
from core.events import EventName, Published
from core.faults import OUTAGES, Boundary, report_fault
from core.store import members as member_store
from core.voice_states import NODE_REFRESH_S

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from core.access import Access, AccessCache
    from core.bus import Bus
    from core.domain.members import Member
    from core.domain.tokens import JwtKeys
    from core.store.database import Connection, Database
    from core.voice_states import VoiceBoard

_OWN_IDS_KEPT = 4096  # ids of events published here, so that serve_node skips them
# Tries of an op 4 whose user's state changed under it (another op 4, a move, a kick).
_TRIES = 3
_STAGE = 13  # ChannelType.GUILD_STAGE_VOICE
Wire = dict[str, object]
# "Not given" for a PATCH field that may be given as null.
KEEP: object = object()


class Voice:
    def __init__(
        self, db: Database, access: AccessCache, bus: Bus, board: VoiceBoard, keys: JwtKeys
    ) -> None:
        self._db = db
        self._keys = keys  # voice tokens derive from the signing key (core/domain/voice.py)
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
                    # A batch's ended calls first: a deleted channel's connections close
                    # 4022, before its members' VOICE_STATE_UPDATEs would close them 4014.
                    ending_first = sorted(
                        batch.events, key=lambda e: e.name is not EventName.VOICE_CALL_ENDED
                    )
                    for event in ending_first:
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
            or not hmac.compare_digest(state.token_digest.encode(), token_digest(token).encode())
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
        holder: str | None = None,
    ) -> None:
        """op 4: join, move, leave, or change one's own flags. An op 4 in the channel one is
        in that changes no flag is a re-join (libraries reconnect so): a fresh token and
        VOICE_SERVER_UPDATE again. A refusal (no such channel, no VIEW_CHANNEL or CONNECT, a
        full channel) does nothing and says nothing, as Discord does. `holder`: the gateway
        node holding the session (with several processes)."""
        for _ in range(_TRIES):
            if await self._request(
                session_id, user_id, guild_id, channel_id, (self_mute, self_deaf), holder
            ):
                return

    async def _request(
        self,
        session_id: str,
        user_id: int,
        guild_id: int,
        channel_id: int | None,
        flags: tuple[bool, bool],
        holder: str | None,
    ) -> bool:
        """One try: False when the user's state changed meanwhile."""
        self_mute, self_deaf = flags
        current = await self.current(guild_id, user_id)
        if channel_id is None:
            return current is None or bool(await self.leave(guild_id, [current]))
        found = await self._db.autocommit(
            lambda c: member_access(self._access, c, guild_id, user_id)
        )
        if found is None:
            return True
        access, member = found
        channel = access.snapshot.channels.get(channel_id)
        permissions = access.in_channel(channel_id)
        if channel is None or not may_connect(channel.channel.type, permissions):
            return True
        staying = current is not None and current.channel_id == channel_id
        if (
            current is not None
            and staying
            and current.session_id == session_id
            and (current.self_mute, current.self_deaf) != (self_mute, self_deaf)
        ):
            changed = replace(current, self_mute=self_mute, self_deaf=self_deaf)
            return bool(
                await self.change([changed], {user_id: member.to_wire()}, access.snapshot.version)
            )
        state = VoiceState(
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            session_id=session_id,
            token_digest="",  # (enter gives it its token)
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
        entry = await self.enter(
            state,
            current,
            member.to_wire(),
            access.snapshot.version,
            limit=room_limit(channel.channel.user_limit, permissions),
            holder=holder,
        )
        return entry is not Entry.STALE

    async def end_session(
        self, session_id: str, user_id: int, guild_ids: Collection[int], holder: str | None = None
    ) -> None:
        """A main gateway session ended for good: its voice states end with it."""
        ending = [
            s for s in await self.board.of_user(guild_ids, user_id) if s.session_id == session_id
        ]
        for state in ending:
            await self.leave(state.guild_id, [state])
        if holder is not None:
            await self.board.release_held(holder, session_id, user_id, guild_ids)

    async def adopt(
        self, session_id: str, user_id: int, guild_ids: Collection[int], holder: str
    ) -> None:
        """A session taken over by gateway node `holder` (a RESUME there): its voice states
        are that node's now, and end with it (or when it falls silent), not with the old one."""
        states = [
            s for s in await self.board.of_user(guild_ids, user_id) if s.session_id == session_id
        ]
        await self.board.hold(holder, states)

    async def sweep(self, holder: str, silent_s: float) -> int:
        """Gateway node `holder` is alive; the voice states of sessions held by gateway nodes
        silent for `silent_s` (dead, or drained and never resumed elsewhere) end, as if the
        sessions had; voice nodes silent for NODE_SILENT_S are pruned. How many states
        ended."""
        await self.board.prune_nodes()
        ended = 0
        for dead, states in await self.board.silent_holders(holder, silent_s):
            by_guild: dict[int, list[VoiceState]] = {}
            for state in states:
                by_guild.setdefault(state.guild_id, []).append(state)
            for guild_id, held in by_guild.items():
                ended += len(await self.leave(guild_id, held, held_by=dead))
        return ended

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
        self,
        state: VoiceState,
        previous: VoiceState | None,
        member: Wire,
        version: int | None,
        *,
        limit: int = 0,
        holder: str | None = None,
    ) -> Entry:
        """A join, re-join or move, if the user's state is still `previous` and the channel
        has room (`limit`, core/domain/voice.py room_limit): the state, with a fresh token,
        and the voice server to connect to."""
        token = new_voice_token(self._keys)
        state = replace(state, token_digest=token.digest)
        assert state.channel_id is not None
        nodes = await self.board.nodes()
        current = await self.board.node_of(state.channel_id)
        chosen, replacing = current, None
        if current not in nodes:
            # (One of this process's nodes, else any live one; none alive: no endpoint.)
            local = [n.name for n in self.nodes if n.name in nodes]
            chosen = local[0] if local else secrets.choice(sorted(nodes)) if nodes else None
            replacing = current
        entry, serving = await self.board.enter(
            state, previous, limit=limit, node=chosen, replacing=replacing, holder=holder
        )
        if entry is not Entry.ENTERED:
            return entry
        self._tell_local([state])
        server = {
            "session_id": state.session_id,  # (the fanout's, to find the session; not sent)
            "token": token.sealed,  # (revealed by the gateway as it is sent)
            "guild_id": str(state.guild_id),
            "endpoint": None if serving is None else nodes.get(serving),
        }
        events = [
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
        if _rejoins(state, previous):
            # discord.py, connected, re-joins its channel to resume after a close 4015 and
            # waits for both events: only VOICE_SERVER_UPDATE moves it on from `connected`,
            # so it must come first (VOICE_STATE_UPDATE then completes the pair). A first
            # join or a move keeps the state first: it is where discord.py learns its
            # (new) channel. One publish keeps the order the session sees.
            events.reverse()
        await self.announce(events)
        return entry

    async def change(
        self, states: Sequence[VoiceState], members: dict[int, Wire], version: int | None
    ) -> list[VoiceState]:
        """Flags of states that stay where they are: those still current change."""
        changed = [s for s in states if await self.board.change(s)]
        self._tell_local(changed)
        await self.announce([_state_event(s, members.get(s.user_id), version) for s in changed])
        return changed

    async def leave(
        self,
        guild_id: int,
        states: Sequence[VoiceState],
        *,
        held_by: str | None = None,
        call_ended: int | None = None,
    ) -> list[VoiceState]:
        """The states that were still current end (with `held_by`, those of sessions that
        gateway node still holds); a channel left empty is released. `call_ended`: the
        channel was deleted, its connections close 4022 (not 4014). Those that ended.

        The sessions are told first (VOICE_STATE_UPDATE `channel_id: null` on the bus), the
        voice nodes then, which close the connections: as the issue orders it. The nodes are
        told even if the bus failed: the states are gone, so must their connections be."""
        ended = [s for s in states if await self.board.remove(s, held_by=held_by)]
        left = [replace(s, channel_id=None, token_digest="") for s in ended]
        try:
            events: list[Published] = []
            if left:
                members = await self.members(guild_id, [s.user_id for s in ended])
                events = [_state_event(s, members.get(s.user_id), None) for s in left]
            if call_ended is not None:
                events.append(_call_ended_event(guild_id, call_ended))
            if events:
                await self.announce(events)
        finally:
            if call_ended is not None:
                self._end_local(guild_id, [call_ended])
            self._tell_local(left)
        return ended

    async def end_calls(self, guild_id: int, channel_ids: Sequence[int]) -> None:
        """Tells every voice node, here and in other processes, to close these channels'
        connections (4022), without a VOICE_STATE_UPDATE (a deleted guild's)."""
        if not channel_ids:
            return
        try:
            await self.announce([_call_ended_event(guild_id, c) for c in channel_ids])
        finally:
            self._end_local(guild_id, channel_ids)

    async def _keep_alive(self, node: VoiceNode) -> None:
        boundary = Boundary("voice-node")
        while True:
            await trio.sleep(NODE_REFRESH_S)
            try:
                await self.board.register(node.name, node.endpoint)
                await self.board.prune_nodes()  # (the others': this one just spoke)
            except OUTAGES as error:
                boundary.failed(error)
            else:
                boundary.succeeded()

    def _tell_remote(self, node: VoiceNode, event: Published) -> None:
        if event.id in self._own_ids:
            return  # made here: told already
        try:
            if event.name is EventName.VOICE_STATE_UPDATE:
                node.changed(VoiceState.from_wire(orjson.loads(event.payload)))
            elif event.name is EventName.VOICE_CALL_ENDED:
                ended = orjson.loads(event.payload)
                node.call_ended(int(ended["guild_id"]), int(ended["channel_id"]))
        except Exception as error:  # the boundary: this node misses this change, no more
            report_fault("voice-node", error)

    def _end_local(self, guild_id: int, channel_ids: Sequence[int]) -> None:
        for node in list(self.nodes):
            for channel_id in channel_ids:
                try:
                    node.call_ended(guild_id, channel_id)
                except Exception as error:
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


def _rejoins(state: VoiceState, previous: VoiceState | None) -> bool:
    """A join of the channel the same session is in already."""
    return (
        previous is not None
        and previous.channel_id == state.channel_id
        and previous.session_id == state.session_id
    )


def member_access(
    cache: AccessCache, connection: Connection, guild_id: int, user_id: int
) -> tuple[Access, Member] | None:
    try:
        access = load_access(cache, connection, guild_id, user_id)
    except UnknownGuild:
        return None
    member = member_store.member(connection, guild_id, user_id)
    return None if member is None else (access, member)


def _call_ended_event(guild_id: int, channel_id: int) -> Published:
    ended = {"guild_id": str(guild_id), "channel_id": str(channel_id)}
    return Published(
        secrets.randbits(62), EventName.VOICE_CALL_ENDED, None, None, (), orjson.dumps(ended)
    )


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
