"""Presence: who is online and doing what. Ephemeral by design, never in PostgreSQL.

Each session has its own presence (IDENTIFY's `presence`, then op 3). Others see the one its
user set last, and offline once the user's last session has ended. The board of presences is
in memory on one node; with several nodes (REDIS_URL) it is in Redis, where every node sees the
others' sessions:

- `presence:<user id>`, a hash: session id → that session's presence, and the node holding it;
- `presence-node:<node>`, the users a node has presences for;
- `presence-nodes`, a sorted set: node → when it was last alive.

Every key expires two resume windows after its nodes stop refreshing it. A node that has been
silent for a whole resume window (it died, or drained and its clients did not come back) is
swept by the first node to notice: its sessions' presences are removed and whoever that leaves
offline is announced so. A session resumed on another node in time is adopted by that node.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import orjson

from core.store.redis import KEY_PREFIX, expire_all, fields_of

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from core.store.redis import Redis

Activities = list[dict[str, object]]
Shown = dict[str, object]  # status, activities, client_status: as others see them


@dataclass(frozen=True, slots=True)
class Presence:
    """One session's."""

    node: str  # the node holding the session
    guild_ids: tuple[int, ...]  # where it is shown
    status: str
    activities: Activities
    at: float  # when it was set (wall clock: nodes compare them)


def shown(presences: Iterable[Presence]) -> Shown:
    """A user's presence as others see it: the one set last; invisible looks offline."""
    latest = max(presences, key=lambda p: p.at, default=None)
    if latest is None or latest.status in ("invisible", "offline"):
        return {"status": "offline", "activities": [], "client_status": {}}
    status = latest.status
    return {"status": status, "activities": latest.activities, "client_status": {"desktop": status}}


@dataclass(frozen=True, slots=True)
class Change:
    """What others now see of a user, for the guilds that should hear of it."""

    user_id: int
    guild_ids: tuple[int, ...]
    shown: Shown

    def to_bus(self) -> bytes:
        return orjson.dumps(
            {"user": {"id": str(self.user_id)}, "guild_ids": [str(g) for g in self.guild_ids]}
            | self.shown
        )


Sessions = dict[str, Presence]  # session id → its presence


class Board(Protocol):
    """Where the presences of every node's sessions are."""

    async def of_users(self, user_ids: Collection[int]) -> dict[int, Sessions]: ...

    async def put(self, user_id: int, session_id: str, presence: Presence) -> None: ...

    async def remove(self, user_id: int, session_id: str) -> None: ...

    async def sweep(
        self, node: str, live_user_ids: Collection[int], silent_s: float
    ) -> list[tuple[int, Sessions, Sessions]]:
        """Keeps `node`'s presences alive; removes those of nodes silent for `silent_s`, as
        (user id, what was removed, what is left)."""
        ...


def open_presences(redis: Redis | None, node: str | None, resume_window_s: float) -> Presences:
    """The presences of this node's sessions: in memory, or with `redis` (and this node's
    name) on a board every node shares, keys lasting two resume windows."""
    if redis is None or node is None:
        return Presences(MemoryBoard(), "local")
    return Presences(RedisBoard(redis, int(resume_window_s * 2) + 1), node)


class Presences:
    """The presences of every session, and what changes in what others see. A change is read,
    then written: two nodes changing one user's presence at the same moment may both announce
    it, or announce it in either order; the board itself ends up right."""

    def __init__(self, board: Board, node: str) -> None:
        self._board = board
        self._node = node

    async def set(
        self,
        user_id: int,
        session_id: str,
        guild_ids: tuple[int, ...],
        status: str,
        activities: Activities,
    ) -> Change | None:
        sessions = (await self._board.of_users([user_id])).get(user_id, {})
        before = shown(sessions.values())
        presence = Presence(self._node, guild_ids, status, activities, time.time())
        await self._board.put(user_id, session_id, presence)
        sessions[session_id] = presence
        return _change(user_id, guild_ids, before, sessions)

    async def end(self, user_id: int, session_id: str, guild_ids: tuple[int, ...]) -> Change | None:
        sessions = (await self._board.of_users([user_id])).get(user_id, {})
        before = shown(sessions.values())
        if sessions.pop(session_id, None) is None:
            return None
        await self._board.remove(user_id, session_id)
        return _change(user_id, guild_ids, before, sessions)

    async def adopt(self, user_id: int, session_id: str) -> None:
        """A session taken over from another node: its presence is this node's to keep."""
        sessions = (await self._board.of_users([user_id])).get(user_id, {})
        if (presence := sessions.get(session_id)) is not None and presence.node != self._node:
            adopted = Presence(
                self._node, presence.guild_ids, presence.status, presence.activities, presence.at
            )
            await self._board.put(user_id, session_id, adopted)

    async def online(self, user_ids: Collection[int]) -> dict[int, Shown]:
        """How the users among `user_ids` who are not offline are shown."""
        found = await self._board.of_users(user_ids)
        return {
            user_id: view
            for user_id, sessions in found.items()
            if (view := shown(sessions.values()))["status"] != "offline"
        }

    async def sweep(self, live_user_ids: Collection[int], silent_s: float) -> list[Change]:
        changes = []
        for user_id, removed, left in await self._board.sweep(self._node, live_user_ids, silent_s):
            guild_ids = tuple(sorted({g for p in removed.values() for g in p.guild_ids}))
            change = _change(user_id, guild_ids, shown([*removed.values(), *left.values()]), left)
            if change is not None:
                changes.append(change)
        return changes


def _change(
    user_id: int, guild_ids: tuple[int, ...], before: Shown, sessions: Sessions
) -> Change | None:
    after = shown(sessions.values())
    return None if after == before else Change(user_id, guild_ids, after)


class MemoryBoard:
    """One node's presences, for a gateway that is the only one."""

    def __init__(self) -> None:
        self._by_user: dict[int, Sessions] = {}

    async def of_users(self, user_ids: Collection[int]) -> dict[int, Sessions]:
        return {u: dict(found) for u in user_ids if (found := self._by_user.get(u))}

    async def put(self, user_id: int, session_id: str, presence: Presence) -> None:
        self._by_user.setdefault(user_id, {})[session_id] = presence

    async def remove(self, user_id: int, session_id: str) -> None:
        sessions = self._by_user.get(user_id, {})
        sessions.pop(session_id, None)
        if not sessions:
            self._by_user.pop(user_id, None)

    async def sweep(
        self, node: str, live_user_ids: Collection[int], silent_s: float
    ) -> list[tuple[int, Sessions, Sessions]]:
        return []  # no other node


_NODES = f"{KEY_PREFIX}presence-nodes"


class RedisBoard:
    """Every node's presences, in Redis. Keys last `ttl_s` past their nodes' last refresh:
    longer than it takes to notice a silent node, so that its sweep finds what it left."""

    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    async def of_users(self, user_ids: Collection[int]) -> dict[int, Sessions]:
        ordered = list(user_ids)
        if not ordered:
            return {}
        replies = await self._redis.pipeline([("HGETALL", _user_key(u)) for u in ordered])
        found: dict[int, Sessions] = {}
        for user_id, entries in zip(ordered, replies, strict=True):
            if sessions := {k.decode(): _decode(v) for k, v in fields_of(entries).items()}:
                found[user_id] = sessions
        return found

    async def put(self, user_id: int, session_id: str, presence: Presence) -> None:
        user, node = _user_key(user_id), _node_key(presence.node)
        await self._redis.pipeline(
            [
                ("HSET", user, session_id, _encode(presence)),
                ("EXPIRE", user, self._ttl_s),
                ("SADD", node, user_id),
                ("EXPIRE", node, self._ttl_s),
            ],
            transaction=True,
        )

    async def remove(self, user_id: int, session_id: str) -> None:
        await self._redis.execute("HDEL", _user_key(user_id), session_id)

    async def sweep(
        self, node: str, live_user_ids: Collection[int], silent_s: float
    ) -> list[tuple[int, Sessions, Sessions]]:
        now = time.time()
        await self._redis.pipeline(
            [
                ("ZADD", _NODES, now, node),
                ("EXPIRE", _NODES, self._ttl_s),
                ("EXPIRE", _node_key(node), self._ttl_s),
            ]
        )
        await expire_all(self._redis, map(_user_key, live_user_ids), self._ttl_s)
        silent = await self._redis.execute("ZRANGE", _NODES, 0, now - silent_s, "BYSCORE")
        swept = []
        for found in silent:
            dead = found.decode()
            # Whoever removes the node from the set sweeps it: exactly one node does.
            if dead == node or not await self._redis.execute("ZREM", _NODES, dead):
                continue
            users = await self._redis.execute("SMEMBERS", _node_key(dead))
            for user_id, sessions in (await self.of_users([int(u) for u in users])).items():
                removed = {s: p for s, p in sessions.items() if p.node == dead}
                if removed:
                    await self._redis.execute("HDEL", _user_key(user_id), *removed)
                    left = {s: p for s, p in sessions.items() if s not in removed}
                    swept.append((user_id, removed, left))
            await self._redis.execute("DEL", _node_key(dead))
        return swept


def _user_key(user_id: int) -> str:
    return f"{KEY_PREFIX}presence:{user_id}"


def _node_key(node: str) -> str:
    return f"{KEY_PREFIX}presence-node:{node}"


def _encode(presence: Presence) -> bytes:
    return orjson.dumps(
        [presence.node, presence.guild_ids, presence.status, presence.activities, presence.at]
    )


def _decode(entry: bytes) -> Presence:
    node, guild_ids, status, activities, at = orjson.loads(entry)
    return Presence(node, tuple(guild_ids), status, activities, at)
