"""The voice board: every guild's voice states, which voice node serves each voice channel, and
the voice nodes alive. Ephemeral by design, never in PostgreSQL: in memory with one process,
in Redis (the shared `services.redis`) with several, like presences (core/presence.py):

- `voice:<guild id>`, a hash: user id → that user's voice state;
- `voice-channel:<channel id>`: the name of the node serving the channel;
- `voice-nodes`, a sorted set: node name → when it was last alive; `voice-endpoints`, a hash:
  node name → its "host:port".

A node is alive while it refreshes its entry (Voice.serve_node does, every NODE_REFRESH_S);
one silent for NODE_SILENT_S is no longer offered, and a channel it served is given to another
at its next join. Keys expire STATE_TTL_S after their last write: a process that dies with
voice states on the board leaves them for at most that long.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import orjson

from core.domain.voice import VoiceState
from core.store.redis import KEY_PREFIX, fields_of

if TYPE_CHECKING:
    from collections.abc import Collection

    from core.store.redis import Redis

NODE_REFRESH_S = 5.0
NODE_SILENT_S = 15.0
STATE_TTL_S = 24 * 3600


class VoiceBoard(Protocol):
    async def of_guilds(self, guild_ids: Collection[int]) -> dict[int, dict[int, VoiceState]]:
        """The voice states of the guilds that have any: guild id → user id → state."""
        ...

    async def of_user(self, guild_ids: Collection[int], user_id: int) -> list[VoiceState]: ...

    async def put(self, state: VoiceState) -> None: ...

    async def remove(self, guild_id: int, user_id: int) -> None: ...

    async def node_of(self, channel_id: int) -> str | None: ...

    async def assign(self, channel_id: int, node: str, *, replacing: str | None) -> str:
        """Gives the channel to `node` unless another has it (but `replacing`, a dead one):
        the node that serves it now."""
        ...

    async def release(self, channel_id: int) -> None: ...

    async def register(self, node: str, endpoint: str) -> None:
        """Adds the node, or tells the board it is still alive."""
        ...

    async def unregister(self, node: str) -> None: ...

    async def nodes(self) -> dict[str, str]:
        """The live nodes: name → endpoint."""
        ...


def open_voice_board(redis: Redis | None) -> VoiceBoard:
    return MemoryVoiceBoard() if redis is None else RedisVoiceBoard(redis)


class MemoryVoiceBoard:
    """One process's voice states: it is the only one."""

    def __init__(self) -> None:
        self._guilds: dict[int, dict[int, VoiceState]] = {}
        self._channels: dict[int, str] = {}
        self._nodes: dict[str, tuple[str, float]] = {}  # name → endpoint, last alive

    async def of_guilds(self, guild_ids: Collection[int]) -> dict[int, dict[int, VoiceState]]:
        return {g: dict(found) for g in guild_ids if (found := self._guilds.get(g))}

    async def of_user(self, guild_ids: Collection[int], user_id: int) -> list[VoiceState]:
        return [s for g in guild_ids if (s := self._guilds.get(g, {}).get(user_id)) is not None]

    async def put(self, state: VoiceState) -> None:
        self._guilds.setdefault(state.guild_id, {})[state.user_id] = state

    async def remove(self, guild_id: int, user_id: int) -> None:
        states = self._guilds.get(guild_id, {})
        states.pop(user_id, None)
        if not states:
            self._guilds.pop(guild_id, None)

    async def node_of(self, channel_id: int) -> str | None:
        return self._channels.get(channel_id)

    async def assign(self, channel_id: int, node: str, *, replacing: str | None) -> str:
        current = self._channels.get(channel_id)
        if current is None or current == replacing:
            self._channels[channel_id] = current = node
        return current

    async def release(self, channel_id: int) -> None:
        self._channels.pop(channel_id, None)

    async def register(self, node: str, endpoint: str) -> None:
        self._nodes[node] = (endpoint, time.monotonic())

    async def unregister(self, node: str) -> None:
        self._nodes.pop(node, None)

    async def nodes(self) -> dict[str, str]:
        # Every node here is in this process, and unregisters on its way out: all alive.
        return {name: endpoint for name, (endpoint, _) in self._nodes.items()}


_NODES = f"{KEY_PREFIX}voice-nodes"
_ENDPOINTS = f"{KEY_PREFIX}voice-endpoints"


class RedisVoiceBoard:
    """Every process's voice states, in Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def of_guilds(self, guild_ids: Collection[int]) -> dict[int, dict[int, VoiceState]]:
        ordered = list(guild_ids)
        if not ordered:
            return {}
        replies = await self._redis.pipeline([("HGETALL", _guild_key(g)) for g in ordered])
        found: dict[int, dict[int, VoiceState]] = {}
        for guild_id, entries in zip(ordered, replies, strict=True):
            if states := {int(k): _decode(guild_id, v) for k, v in fields_of(entries).items()}:
                found[guild_id] = states
        return found

    async def of_user(self, guild_ids: Collection[int], user_id: int) -> list[VoiceState]:
        ordered = list(guild_ids)
        if not ordered:
            return []
        replies = await self._redis.pipeline([("HGET", _guild_key(g), user_id) for g in ordered])
        return [_decode(g, r) for g, r in zip(ordered, replies, strict=True) if r is not None]

    async def put(self, state: VoiceState) -> None:
        key = _guild_key(state.guild_id)
        await self._redis.pipeline(
            [("HSET", key, state.user_id, _encode(state)), ("EXPIRE", key, STATE_TTL_S)],
            transaction=True,
        )

    async def remove(self, guild_id: int, user_id: int) -> None:
        await self._redis.execute("HDEL", _guild_key(guild_id), user_id)

    async def node_of(self, channel_id: int) -> str | None:
        found = await self._redis.execute("GET", _channel_key(channel_id))
        return None if found is None else bytes(found).decode()

    async def assign(self, channel_id: int, node: str, *, replacing: str | None) -> str:
        key = _channel_key(channel_id)
        if replacing is not None and await self.node_of(channel_id) == replacing:
            # (Only if the dead node still has it: another process may have replaced it.)
            await self._redis.execute("DEL", key)
        # NX: of two processes assigning a new channel at once, the first one's node wins.
        await self._redis.execute("SET", key, node, "NX", "EX", STATE_TTL_S)
        found = await self.node_of(channel_id)
        return node if found is None else found

    async def release(self, channel_id: int) -> None:
        await self._redis.execute("DEL", _channel_key(channel_id))

    async def register(self, node: str, endpoint: str) -> None:
        await self._redis.pipeline(
            [
                ("ZADD", _NODES, time.time(), node),
                ("HSET", _ENDPOINTS, node, endpoint),
                ("EXPIRE", _NODES, STATE_TTL_S),
                ("EXPIRE", _ENDPOINTS, STATE_TTL_S),
            ],
            transaction=True,
        )

    async def unregister(self, node: str) -> None:
        await self._redis.pipeline(
            [("ZREM", _NODES, node), ("HDEL", _ENDPOINTS, node)], transaction=True
        )

    async def nodes(self) -> dict[str, str]:
        alive = await self._redis.execute(
            "ZRANGE", _NODES, time.time() - NODE_SILENT_S, "+inf", "BYSCORE"
        )
        if not alive:
            return {}
        endpoints = await self._redis.execute("HMGET", _ENDPOINTS, *alive)
        return {
            bytes(name).decode(): bytes(endpoint).decode()
            for name, endpoint in zip(alive, endpoints, strict=True)
            if endpoint is not None
        }


def _guild_key(guild_id: int) -> str:
    return f"{KEY_PREFIX}voice:{guild_id}"


def _channel_key(channel_id: int) -> str:
    return f"{KEY_PREFIX}voice-channel:{channel_id}"


def _encode(state: VoiceState) -> bytes:
    return orjson.dumps(
        [
            state.channel_id,
            state.user_id,
            state.session_id,
            state.token,
            state.deaf,
            state.mute,
            state.self_deaf,
            state.self_mute,
            state.suppress,
            state.request_to_speak_timestamp,
        ]
    )


def _decode(guild_id: int, entry: bytes) -> VoiceState:
    return VoiceState(guild_id, *orjson.loads(entry))
