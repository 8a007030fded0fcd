"""The delivery log (the journal): with several gateway nodes (REDIS_URL set), what each node
sent each of its sessions, kept in Redis so that another node can take a session over when its
client RESUMEs there, after the first node died, drained or was asked to let go.

A node writes ahead: a dispatch reaches its socket only after the journal entry naming it is in
Redis. So a client never holds a `seq` the journal cannot account for, and the node taking over
replays exactly the dispatches after the client's `seq`, numbered as they were. An entry is
small: a bus event is named by its id (its payload is in the outbox), one entry per flush lists
every session it went to with that session's `seq`; only dispatches that are not bus events
(presence, member chunks, RESUMED) are written out whole. READY and the first GUILD_CREATEs are
not kept: a client resuming from before them is told to identify again (op 9), whole.

Keys, all expiring: `gateway:node:<node>` while the node lives (refreshed every second);
`gateway:session:<id>` the session's record and current node; `gateway:log:<node>` the node's
entries (a Stream, trimmed past the resume window); `gateway:released:<id>` once a live node
has let a session go.
"""

from __future__ import annotations

import itertools
import secrets
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import orjson
import trio

from core.bus import entry_id_before, position_of
from core.fanout import Feed, Outlet, release
from core.faults import OUTAGES, Boundary
from core.store.redis import KEY_PREFIX, expire_all, fields_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from core.bus import Position
    from core.store.redis import Command, Redis

NODE_TTL_MS = 3000  # a node whose key is this stale is dead: its sessions can be taken over
_REFRESH_S = 1.0
_RELEASE_POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What another node needs to carry a session on."""

    node: str
    number: int  # the session's short name in its node's log
    user_id: int
    intents: int
    shard: tuple[int, int]
    large_threshold: int
    floor: int  # the lowest `seq` a client may resume from on another node


@dataclass(frozen=True, slots=True)
class Logged:
    """One dispatch a node sent: a bus event by id, or else the dispatch itself."""

    seq: int
    event_id: int | None
    dispatch: tuple[str, bytes] | None  # name and payload


@dataclass(frozen=True, slots=True)
class _Staged:
    feeds: list[Feed]
    sent: list[int]  # journal number and seq of each feed, flat
    name: str
    payload: bytes
    event_id: int | None
    keep: bool


@dataclass(frozen=True, slots=True)
class NodeLog:
    position: Position | None  # the last bus batch the node had handled
    sessions: dict[int, list[Logged]]  # session number → its dispatches, in `seq` order


class Journal:
    """`released` is handed the outlets a flush left with queued bytes: their writers must
    start (the gateway's connections)."""

    def __init__(
        self, redis: Redis, keep_s: float, released: Callable[[list[Outlet]], None]
    ) -> None:
        self.node = secrets.token_hex(4)
        self._released = released
        # When the oldest dispatch still waiting for Redis was staged, while a flush fails:
        # the gateway closes (resumably) the sessions it holds up past a deadline.
        self.stalled_since: float | None = None
        self.position: Position | None = None  # set by the fanout after each batch it handled
        self._redis = redis
        self._keep_s = keep_s
        # Records and log entries outlive a dead node by at least the resume window: they are
        # refreshed every quarter window, so they last a window and a quarter.
        self._ttl_s = int(keep_s * 1.25) + 1
        self._numbers = itertools.count(1)
        self._mark = 0  # dispatches staged so far
        self._dispatches: list[_Staged] = []
        self._records: dict[str, SessionRecord] = {}
        self._releases: list[str] = []
        self._forgotten: list[str] = []
        self._live: set[str] = set()  # session keys this node refreshes
        self._staged = trio.Event()
        self._first_staged_at = 0.0
        # Set unless a delivery is part-way through its chunks: one flush (a Redis round trip)
        # per event, as one native call once made it, not one per chunk.
        self._whole = trio.Event()
        self._whole.set()

    @contextmanager
    def one_flush(self) -> Iterator[None]:
        """Dispatches staged within the block are flushed together, after it."""
        self._whole = trio.Event()
        try:
            yield
        finally:
            self._whole.set()

    @property
    def pending(self) -> int:
        """Dispatches staged and not yet written to Redis."""
        return len(self._dispatches)

    def next_number(self) -> int:
        return next(self._numbers)

    # Staging: synchronous, in the order things happen; the flusher writes them out together.

    def next_mark(self) -> int:
        """The mark of the next dispatch to stage: feeds send it once it is released."""
        return self._mark + 1

    def stage(
        self,
        feeds: list[Feed],
        sent: list[int],
        name: str,
        payload: bytes,
        event_id: int | None,
        *,
        keep: bool = True,
    ) -> None:
        """A dispatch numbered for `feeds` (`sent`: each one's journal number and `seq`), to
        reach their sockets once recorded. `keep=False`: only ordered with the rest, not kept
        for another node (READY, GUILD_CREATE)."""
        self._mark += 1
        if not self._dispatches and self.stalled_since is None:
            self._first_staged_at = trio.current_time()
        self._dispatches.append(_Staged(feeds, sent, name, payload, event_id, keep))
        self._staged.set()

    def stage_session(self, session_id: str, record: SessionRecord) -> None:
        self._records[session_id] = record
        self._staged.set()

    def stage_release(self, session_id: str) -> None:
        """This node lets the session go: everything it sent before is in the log. The record
        stays for the node taking over to replace."""
        self._records.pop(session_id, None)
        self._live.discard(session_id)
        self._releases.append(session_id)
        self._staged.set()

    def stage_end(self, session_id: str) -> None:
        """The session is over: no node may resume it."""
        self._records.pop(session_id, None)
        self._live.discard(session_id)
        self._forgotten.append(session_id)
        self._staged.set()

    # Writing.

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keeps this node alive in Redis and flushes what is staged, until cancelled. Reports
        started once Redis has it alive: a node started while Redis is away waits for it."""
        alive = Boundary("journal-refresh")
        while True:
            try:
                await self._mark_alive()
                break
            except OUTAGES as error:
                await trio.sleep(alive.failed(error))
        alive.succeeded()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._keep_alive)
            task_status.started()
            boundary = Boundary("journal")
            while True:
                await self._staged.wait()
                await self._whole.wait()
                try:
                    await self.flush()
                except Exception as error:  # the boundary: what is staged waits, in order
                    if self.stalled_since is None:
                        self.stalled_since = self._first_staged_at
                    await trio.sleep(boundary.failed(error))
                else:
                    self.stalled_since = None
                    boundary.succeeded()

    async def retire(self) -> None:
        """A draining node: flushes the rest, then stops being alive, so other nodes take its
        sessions over at once."""
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            await self.flush()
            await self._redis.execute("DEL", self._node_key(self.node))

    async def flush(self) -> None:
        self._staged = trio.Event()
        dispatches, self._dispatches = self._dispatches, []
        records, self._records = self._records, {}
        releases, self._releases = self._releases, []
        forgotten, self._forgotten = self._forgotten, []
        position = self.position
        mark = self._mark  # the last dispatch staged: all of them are in this flush
        try:
            await self._write(dispatches, records, releases, forgotten, position)
        except BaseException:
            # Put them back, ahead of anything staged since: the order is the point.
            self._dispatches[:0] = dispatches
            self._records = records | self._records
            self._releases[:0] = releases
            self._forgotten[:0] = forgotten
            self._staged.set()
            raise
        self._live.update(records)
        feeds = [feed for staged in dispatches for feed in staged.feeds]
        self._released(release(feeds, mark, trio.current_time()))

    async def _write(
        self,
        dispatches: list[_Staged],
        records: dict[str, SessionRecord],
        releases: list[str],
        forgotten: list[str],
        position: Position | None,
    ) -> None:
        by_event: dict[int, list[int]] = {}
        inline: list[list[object]] = []
        for staged in dispatches:
            if not staged.keep:
                continue
            sent = staged.sent
            if staged.event_id is None:
                payload = orjson.Fragment(staged.payload)
                inline.extend(
                    [sent[i], sent[i + 1], staged.name, payload] for i in range(0, len(sent), 2)
                )
            else:
                by_event.setdefault(staged.event_id, []).extend(sent)
        ttl_s = self._ttl_s
        commands: list[Command] = []
        if by_event or inline or releases:
            commands.append(
                (
                    "XADD",
                    self._log_key(self.node),
                    "MINID",
                    "~",
                    entry_id_before(ttl_s),
                    "*",
                    "p",
                    b"" if position is None else b"%d-%d" % position,
                    "e",
                    orjson.dumps(list(by_event.items())),
                    "i",
                    orjson.dumps(inline),
                )
            )
        for session_id, record in records.items():
            key = self._session_key(session_id)
            commands.append(("SET", key, orjson.dumps(asdict(record)), "EX", ttl_s))
        for session_id in releases:
            commands.append(("SET", self._released_key(session_id), b"1", "EX", ttl_s))
        if forgotten:
            commands.append(("DEL", *(self._session_key(s) for s in forgotten)))
        await self._redis.pipeline(commands, transaction=True)

    async def _keep_alive(self) -> None:
        """The node's key every second; every session's record once a quarter window, so a
        record outlives its node by at least the resume window."""
        last_records = trio.current_time()
        boundary = Boundary("journal-refresh")
        while True:
            await trio.sleep(_REFRESH_S)
            try:
                await self._mark_alive()
                if trio.current_time() - last_records > self._keep_s / 4:
                    last_records = trio.current_time()
                    keys = [self._session_key(s) for s in self._live]
                    await expire_all(self._redis, keys, self._ttl_s)
            except Exception as error:  # the boundary: tried again in a second
                boundary.failed(error)
            else:
                boundary.succeeded()

    async def _mark_alive(self) -> None:
        await self._redis.execute("SET", self._node_key(self.node), b"1", "PX", NODE_TTL_MS)

    # Reading, by the node taking a session over.

    async def record_of(self, session_id: str) -> SessionRecord | None:
        found = await self._redis.execute("GET", self._session_key(session_id))
        if found is None:
            return None
        fields = orjson.loads(found)
        fields["shard"] = tuple(fields["shard"])
        return SessionRecord(**fields)

    async def wait_for_release(self, node: str, session_id: str, timeout_s: float) -> bool | None:
        """True once the live `node` let the session go; False if the node is dead (its log is
        then all it ever sent); None if neither happened in time."""
        with trio.move_on_after(timeout_s):
            while True:
                released, alive = await self._redis.pipeline(
                    [("EXISTS", self._released_key(session_id)), ("EXISTS", self._node_key(node))]
                )
                if released:
                    return True
                if not alive:
                    return False
                await trio.sleep(_RELEASE_POLL_S)
        return None

    async def node_log(self, node: str) -> NodeLog:
        position: Position | None = None
        sessions: dict[int, list[Logged]] = {}
        for _, flat in await self._redis.execute("XRANGE", self._log_key(node), "-", "+"):
            fields = fields_of(flat)
            if reached := fields[b"p"]:
                position = position_of(reached)
            for event_id, pairs in orjson.loads(fields[b"e"]):
                for i in range(0, len(pairs), 2):
                    sessions.setdefault(pairs[i], []).append(Logged(pairs[i + 1], event_id, None))
            for number, seq, name, payload in orjson.loads(fields[b"i"]):
                logged = Logged(seq, None, (name, orjson.dumps(payload)))
                sessions.setdefault(number, []).append(logged)
        for dispatches in sessions.values():
            dispatches.sort(key=lambda logged: logged.seq)
        return NodeLog(position, sessions)

    @staticmethod
    def _node_key(node: str) -> str:
        return f"{KEY_PREFIX}gateway:node:{node}"

    @staticmethod
    def _session_key(session_id: str) -> str:
        return f"{KEY_PREFIX}gateway:session:{session_id}"

    @staticmethod
    def _log_key(node: str) -> str:
        return f"{KEY_PREFIX}gateway:log:{node}"

    @staticmethod
    def _released_key(session_id: str) -> str:
        return f"{KEY_PREFIX}gateway:released:{session_id}"
