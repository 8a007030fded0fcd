"""The voice board: every guild's voice states, which voice node serves each voice channel, the
voice nodes alive, and which gateway node holds each state's session. Ephemeral by design,
never in PostgreSQL: in memory with one process (here), in Redis (the shared `services.redis`,
core/voice_states_redis.py) with several, like presences (core/presence.py).

Every change is one step on the board, whatever else changes at the same moment:
- a join or move (`enter`) happens only if the user's state is still the one it was decided
  on (by its token's digest: every join and move has a fresh token) and the channel has room: so two
  processes cannot both take a channel's last place, and a move cannot undo a leave;
- a flag change or a leave touches only the state it was decided on;
- a channel's node is released when its last member leaves, in the same step: a join, which
  puts its member in and reads (or assigns) the node in one step too, cannot be left in a
  channel whose node was released under it.

A voice node is alive while it refreshes its entry (Voice.serve_node does, every
NODE_REFRESH_S); one silent for NODE_SILENT_S is no longer offered, and a channel it served is
given to another at its next join. Such a node is pruned (prune_nodes, run by every voice node
as it refreshes its own entry and by every gateway node's sweep): its entry and its channels'
assignments go. Each gateway node sweeps now and then (Voice.sweep, run by
gateway/server.py): the states of sessions held by a gateway node silent for a resume window
are removed. Keys also expire STATE_TTL_S after their last write.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from core.domain.voice import Entry, VoiceState
from core.voice_states_redis import NODE_SILENT_S, STATE_TTL_S, RedisVoiceBoard

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from core.store.redis import Redis

__all__ = ["NODE_REFRESH_S", "NODE_SILENT_S", "STATE_TTL_S", "VoiceBoard", "open_voice_board"]

NODE_REFRESH_S = 5.0  # < NODE_SILENT_S


class VoiceBoard(Protocol):
    async def of_guilds(self, guild_ids: Collection[int]) -> dict[int, dict[int, VoiceState]]:
        """The voice states of the guilds that have any: guild id → user id → state."""
        ...

    async def of_user(self, guild_ids: Collection[int], user_id: int) -> list[VoiceState]: ...

    async def enter(
        self,
        state: VoiceState,
        previous: VoiceState | None,
        *,
        limit: int,
        node: str | None,
        replacing: str | None,
        holder: str | None,
    ) -> tuple[Entry, str | None]:
        """Puts `state` (a join or move) if the user's state is still `previous` and, unless
        they are in it already, its channel has fewer than `limit` (0: no limit) members. The
        channel is given to `node` unless another node has it (but `replacing`, a dead one);
        `holder`, when given, is the gateway node holding the session now. With the outcome,
        the node that serves the channel (None: none)."""
        ...

    async def change(self, state: VoiceState) -> bool:
        """Puts `state` (flags) if the user's state is still the one with its token digest."""
        ...

    async def remove(self, state: VoiceState, *, held_by: str | None = None) -> bool:
        """Removes `state` if it is still the user's (and, with `held_by`, if its session is
        still held by that gateway node); releases its channel's node if it empties."""
        ...

    async def end_channel(self, channel_id: int) -> None:
        """The channel is gone: forgets its members and its node."""
        ...

    async def node_of(self, channel_id: int) -> str | None: ...

    async def register(self, node: str, endpoint: str) -> None:
        """Adds the node, or tells the board it is still alive."""
        ...

    async def unregister(self, node: str) -> None:
        """The node leaves: no longer offered, and the channels it served are nobody's."""
        ...

    async def prune_nodes(self) -> list[str]:
        """Unregisters the nodes silent for NODE_SILENT_S (each pruned by one caller only):
        their names."""
        ...

    async def nodes(self) -> dict[str, str]:
        """The live nodes: name → endpoint."""
        ...

    async def hold(self, holder: str, states: Sequence[VoiceState]) -> None:
        """The sessions of `states` are held by gateway node `holder` now (taken over)."""
        ...

    async def release_held(
        self, holder: str, session_id: str, user_id: int, guild_ids: Collection[int]
    ) -> None:
        """The session ended for good: `holder` no longer holds it."""
        ...

    async def silent_holders(
        self, holder: str, silent_s: float
    ) -> list[tuple[str, list[VoiceState]]]:
        """Tells the board `holder` is alive; claims the gateway nodes silent for `silent_s`
        (each claimed by one caller only), with the states they held then."""
        ...


def open_voice_board(redis: Redis | None) -> VoiceBoard:
    return MemoryVoiceBoard() if redis is None else RedisVoiceBoard(redis)


class MemoryVoiceBoard:
    """One process's voice states: it is the only one, and every method here runs whole
    without yielding, so each is one step."""

    def __init__(self) -> None:
        self._guilds: dict[int, dict[int, VoiceState]] = {}
        self._channels: dict[int, str] = {}
        self._members: dict[int, set[int]] = {}  # channel id → user ids
        self._nodes: dict[str, tuple[str, float]] = {}  # name → endpoint, last alive

    async def of_guilds(self, guild_ids: Collection[int]) -> dict[int, dict[int, VoiceState]]:
        return {g: dict(found) for g in guild_ids if (found := self._guilds.get(g))}

    async def of_user(self, guild_ids: Collection[int], user_id: int) -> list[VoiceState]:
        return [s for g in guild_ids if (s := self._guilds.get(g, {}).get(user_id)) is not None]

    async def enter(
        self,
        state: VoiceState,
        previous: VoiceState | None,
        *,
        limit: int,
        node: str | None,
        replacing: str | None,
        holder: str | None,
    ) -> tuple[Entry, str | None]:
        assert state.channel_id is not None
        if not self._is_current(state.guild_id, state.user_id, previous):
            return Entry.STALE, None
        members = self._members.setdefault(state.channel_id, set())
        if limit and state.user_id not in members and len(members) >= limit:
            if not members:
                del self._members[state.channel_id]
            return Entry.FULL, None
        self._guilds.setdefault(state.guild_id, {})[state.user_id] = state
        if previous is not None and previous.channel_id not in (None, state.channel_id):
            self._leave_channel(previous.channel_id, state.user_id)
        members.add(state.user_id)
        current = self._channels.get(state.channel_id)
        if node is not None and current in (None, replacing):
            self._channels[state.channel_id] = current = node
        return Entry.ENTERED, current

    async def change(self, state: VoiceState) -> bool:
        if not self._is_current(state.guild_id, state.user_id, state):
            return False
        self._guilds[state.guild_id][state.user_id] = state
        return True

    async def remove(self, state: VoiceState, *, held_by: str | None = None) -> bool:
        if not self._is_current(state.guild_id, state.user_id, state):
            return False
        states = self._guilds[state.guild_id]
        del states[state.user_id]
        if not states:
            del self._guilds[state.guild_id]
        if state.channel_id is not None:
            self._leave_channel(state.channel_id, state.user_id)
        return True

    async def end_channel(self, channel_id: int) -> None:
        self._members.pop(channel_id, None)
        self._channels.pop(channel_id, None)

    def _is_current(self, guild_id: int, user_id: int, expected: VoiceState | None) -> bool:
        found = self._guilds.get(guild_id, {}).get(user_id)
        return (found.token_digest if found else None) == (
            expected.token_digest if expected else None
        )

    def _leave_channel(self, channel_id: int, user_id: int) -> None:
        members = self._members.get(channel_id, set())
        members.discard(user_id)
        if not members:
            self._members.pop(channel_id, None)
            self._channels.pop(channel_id, None)

    async def node_of(self, channel_id: int) -> str | None:
        return self._channels.get(channel_id)

    async def register(self, node: str, endpoint: str) -> None:
        self._nodes[node] = (endpoint, time.monotonic())

    async def unregister(self, node: str) -> None:
        self._nodes.pop(node, None)
        self._channels = {c: n for c, n in self._channels.items() if n != node}

    async def prune_nodes(self) -> list[str]:
        return []  # every node is in this process, and unregisters on its way out

    async def nodes(self) -> dict[str, str]:
        # Every node here is in this process, and unregisters on its way out: all alive.
        return {name: endpoint for name, (endpoint, _) in self._nodes.items()}

    # One process holds every session: no other gateway node to fall silent.

    async def hold(self, holder: str, states: Sequence[VoiceState]) -> None:
        pass

    async def release_held(
        self, holder: str, session_id: str, user_id: int, guild_ids: Collection[int]
    ) -> None:
        pass

    async def silent_holders(
        self, holder: str, silent_s: float
    ) -> list[tuple[str, list[VoiceState]]]:
        return []
