"""The voice board in Redis, shared by every process (core/voice_states.py says what the board
keeps and promises). Keys:

- `voice:<guild id>`, a hash: user id → that user's voice state;
- `voice-in:<channel id>`, a set: the users in the channel (what user limits count);
- `voice-channel:<channel id>`: the name of the voice node serving the channel;
- `voice-nodes`, a sorted set: voice node → when it was last alive; `voice-endpoints`, a
  hash: voice node → its "host:port"; `voice-served:<node>`, a set: the channels ever given
  to the node (those it still serves among them), so that its assignments go with it;
- `voice-holder:<session id>`: the gateway node holding the session; `voice-held:<gateway
  node>`, a set of "guild:user:session" the node took in; `voice-holders`, a sorted set:
  gateway node → when it last swept (was alive).

Each change that reads before it writes is a Lua script: one step, whatever other processes
do meanwhile. A state is told apart from a later one of the same user by its token's digest
(the 4th field of its entry; never the token), fresh at every join and move.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson

from core.domain.voice import Entry, VoiceState
from core.store.redis import KEY_PREFIX, fields_of

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from core.store.redis import Redis

NODE_SILENT_S = 15.0
STATE_TTL_S = 24 * 3600

_TOKEN_OF = "local function token_of(entry) return entry and cjson.decode(entry)[4] or '' end\n"

# KEYS: the guild's states, the channel's members, the channel's node, the previous channel's
# members and node (the same two for a join), the session's holder, the holder's held set, the
# holders, the node's served set. ARGV: user, expected token digest ('' none), entry, limit,
# node, replacing, ttl, holder ('' unchanged), held member, now, channel.
_ENTER = (
    _TOKEN_OF
    + """
if token_of(redis.call('HGET', KEYS[1], ARGV[1])) ~= ARGV[2] then return {'stale', ''} end
local limit = tonumber(ARGV[4])
if limit > 0 and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0
    and redis.call('SCARD', KEYS[2]) >= limit then
  return {'full', ''}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[7])
if KEYS[4] ~= KEYS[2] then
  redis.call('SREM', KEYS[4], ARGV[1])
  if redis.call('SCARD', KEYS[4]) == 0 then redis.call('DEL', KEYS[5]) end
end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[7])
local node = redis.call('GET', KEYS[3])
if ARGV[5] ~= '' and (not node or node == ARGV[6]) then
  node = ARGV[5]
  redis.call('SET', KEYS[3], node, 'EX', ARGV[7])
  redis.call('SADD', KEYS[9], ARGV[11])
  redis.call('EXPIRE', KEYS[9], ARGV[7])
elseif node then
  redis.call('EXPIRE', KEYS[3], ARGV[7])
end
if ARGV[8] ~= '' then
  redis.call('SET', KEYS[6], ARGV[8], 'EX', ARGV[7])
  redis.call('SADD', KEYS[7], ARGV[9])
  redis.call('EXPIRE', KEYS[7], ARGV[7])
  redis.call('ZADD', KEYS[8], 'NX', ARGV[10], ARGV[8])
end
return {'entered', node or ''}
"""
)

# KEYS: the guild's states. ARGV: user, token digest, entry, ttl.
_CHANGE = (
    _TOKEN_OF
    + """
local found = redis.call('HGET', KEYS[1], ARGV[1])
if not found or token_of(found) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
)

# KEYS: the guild's states, the channel's members and node, the session's holder.
# ARGV: user, token digest, the holder it must still have ('' any).
_REMOVE = (
    _TOKEN_OF
    + """
local found = redis.call('HGET', KEYS[1], ARGV[1])
if not found or token_of(found) ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' then
  local holder = redis.call('GET', KEYS[4])
  if holder and holder ~= ARGV[3] then return 0 end
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('SCARD', KEYS[2]) == 0 then redis.call('DEL', KEYS[3]) end
return 1
"""
)

# A node silent since before ARGV[2] (or any, with '') leaves, once: by whoever removes it.
# KEYS: the nodes, the endpoints. ARGV: node, last alive before.
_FORGET = """
local alive = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not alive or (ARGV[2] ~= '' and tonumber(alive) >= tonumber(ARGV[2])) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""

# KEYS: the channel's node. ARGV: the node that leaves.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

_NODES = f"{KEY_PREFIX}voice-nodes"
_ENDPOINTS = f"{KEY_PREFIX}voice-endpoints"
_HOLDERS = f"{KEY_PREFIX}voice-holders"


class RedisVoiceBoard:
    """Every process's voice states, in Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._enter = redis.script(_ENTER)
        self._change = redis.script(_CHANGE)
        self._remove = redis.script(_REMOVE)
        self._forget = redis.script(_FORGET)
        self._release = redis.script(_RELEASE)

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
        was = state.channel_id if previous is None else previous.channel_id
        assert was is not None
        outcome, serving = await self._enter(
            [
                _guild_key(state.guild_id),
                _members_key(state.channel_id),
                _channel_key(state.channel_id),
                _members_key(was),
                _channel_key(was),
                _holder_key(state.session_id),
                _held_key(holder or ""),
                _HOLDERS,
                _served_key(node or ""),
            ],
            [
                state.user_id,
                "" if previous is None else previous.token_digest,
                _encode(state),
                limit,
                node or "",
                replacing or "",
                STATE_TTL_S,
                holder or "",
                _held(state),
                time.time(),
                state.channel_id,
            ],
        )
        return Entry(bytes(outcome).decode()), bytes(serving).decode() or None

    async def change(self, state: VoiceState) -> bool:
        key = _guild_key(state.guild_id)
        args = (state.user_id, state.token_digest, _encode(state), STATE_TTL_S)
        return bool(await self._change([key], args))

    async def remove(self, state: VoiceState, *, held_by: str | None = None) -> bool:
        assert state.channel_id is not None
        keys = [
            _guild_key(state.guild_id),
            _members_key(state.channel_id),
            _channel_key(state.channel_id),
            _holder_key(state.session_id),
        ]
        return bool(await self._remove(keys, [state.user_id, state.token_digest, held_by or ""]))

    async def end_channel(self, channel_id: int) -> None:
        await self._redis.execute("DEL", _members_key(channel_id), _channel_key(channel_id))

    async def node_of(self, channel_id: int) -> str | None:
        found = await self._redis.execute("GET", _channel_key(channel_id))
        return None if found is None else bytes(found).decode()

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
        await self._leave(node, None)

    async def prune_nodes(self) -> list[str]:
        silent = time.time() - NODE_SILENT_S
        found = await self._redis.execute("ZRANGE", _NODES, "-inf", f"({silent}", "BYSCORE")
        return [name for raw in found if await self._leave(name := bytes(raw).decode(), silent)]

    async def _leave(self, node: str, silent_before: float | None) -> bool:
        """The node is no longer offered, and the channels it serves are nobody's (the next
        join gives them another); if it is silent since before `silent_before` (None: in
        any case), and only for the one caller that removes it."""
        before = "" if silent_before is None else silent_before
        if not await self._forget([_NODES, _ENDPOINTS], [node, before]):
            return False
        served = _served_key(node)
        for channel_id in await self._redis.execute("SMEMBERS", served):
            await self._release([_channel_key(int(channel_id))], [node])
        await self._redis.execute("DEL", served)
        return True

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

    # Gateway nodes holding sessions in voice.

    async def hold(self, holder: str, states: Sequence[VoiceState]) -> None:
        if not states:
            return
        held = _held_key(holder)
        commands: list[tuple[str | int, ...]] = []
        for state in states:
            commands.append(("SET", _holder_key(state.session_id), holder, "EX", STATE_TTL_S))
            commands.append(("SADD", held, _held(state)))
        commands.append(("EXPIRE", held, STATE_TTL_S))
        await self._redis.pipeline(commands, transaction=True)

    async def release_held(
        self, holder: str, session_id: str, user_id: int, guild_ids: Collection[int]
    ) -> None:
        commands: list[tuple[str | int, ...]] = [("DEL", _holder_key(session_id))]
        if guild_ids:  # (guilds whose voice it never joined too: removing nothing is no harm)
            members = [f"{g}:{user_id}:{session_id}" for g in guild_ids]
            commands.append(("SREM", _held_key(holder), *members))
        await self._redis.pipeline(commands)

    async def silent_holders(
        self, holder: str, silent_s: float
    ) -> list[tuple[str, list[VoiceState]]]:
        now = time.time()
        await self._redis.pipeline(
            [
                ("ZADD", _HOLDERS, now, holder),
                ("EXPIRE", _HOLDERS, STATE_TTL_S),
                ("EXPIRE", _held_key(holder), STATE_TTL_S),
            ]
        )
        silent = await self._redis.execute("ZRANGE", _HOLDERS, 0, now - silent_s, "BYSCORE")
        claimed = []
        for found in silent:
            dead = bytes(found).decode()
            # Whoever removes the node from the set sweeps it: exactly one caller does.
            if dead == holder or not await self._redis.execute("ZREM", _HOLDERS, dead):
                continue
            entries = await self._redis.execute("SMEMBERS", _held_key(dead))
            await self._redis.execute("DEL", _held_key(dead))
            held = [_parse_held(bytes(e).decode()) for e in entries]
            replies = await self._redis.pipeline([("HGET", _guild_key(g), u) for g, u, _ in held])
            states = [
                state
                for (g, _, session_id), entry in zip(held, replies, strict=True)
                if entry is not None and (state := _decode(g, entry)).session_id == session_id
            ]
            claimed.append((dead, states))
        return claimed


def _guild_key(guild_id: int) -> str:
    return f"{KEY_PREFIX}voice:{guild_id}"


def _members_key(channel_id: int) -> str:
    return f"{KEY_PREFIX}voice-in:{channel_id}"


def _channel_key(channel_id: int) -> str:
    return f"{KEY_PREFIX}voice-channel:{channel_id}"


def _served_key(node: str) -> str:
    return f"{KEY_PREFIX}voice-served:{node}"


def _holder_key(session_id: str) -> str:
    return f"{KEY_PREFIX}voice-holder:{session_id}"


def _held_key(holder: str) -> str:
    return f"{KEY_PREFIX}voice-held:{holder}"


def _held(state: VoiceState) -> str:
    return f"{state.guild_id}:{state.user_id}:{state.session_id}"


def _parse_held(entry: str) -> tuple[int, int, str]:
    guild_id, user_id, session_id = entry.split(":", 2)
    return int(guild_id), int(user_id), session_id


def _encode(state: VoiceState) -> bytes:
    return orjson.dumps(
        [
            state.channel_id,
            state.user_id,
            state.session_id,
            state.token_digest,  # (4th: the scripts read it)
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
