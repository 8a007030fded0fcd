"""Redis, shared by several processes when REDIS_URL is set: rate-limit windows, revoked
sessions, presences, the fanout bus and the gateways' journal. Nothing of record lives only
here.

The client is a small one of our own: commands as argument lists, packed and parsed in C by
hiredis, over Trio streams, one command or pipeline at a time per pooled connection. The gateway
sends Redis a read and a journal write for every event it fans out, and coredis (a general
client) spent 260-440 µs of CPU on each, more than a thousand sessions' frames cost to build;
this one spends a fraction of that. Only what Trioxide asks of Redis is here.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
import trio

from core.metrics import REDIS_ERRORS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

# Every key Trioxide writes starts with this, so one Redis can serve other things too.
KEY_PREFIX = "trioxide:"

Argument = str | bytes | int | float
Command = Sequence[Argument]
# A reply is shaped by its command (bytes, int, None, or lists of these), which the caller knows.
Reply = Any

# Commands per pipeline when refreshing many keys: one pipeline of a thousand EXPIREs held the
# event loop long enough to delay every event behind it.
_REFRESH_CHUNK = 100
_CONNECT_TIMEOUT_S = 5.0
_IDLE_KEPT = 16  # connections kept open between bursts (a blocking read holds one of its own)
_RECEIVE_BYTES = 65_536
# Counted where each error is raised. A stale idle connection counts as broken even though the
# command is retried on a new one: it still means Redis dropped us (a restart, say).
_CONNECT_ERRORS = REDIS_ERRORS.labels(kind="connect")
_BROKEN_ERRORS = REDIS_ERRORS.labels(kind="broken")
_REPLY_ERRORS = REDIS_ERRORS.labels(kind="reply")


class RedisError(Exception):
    """Redis answered with an error, or could not be reached."""


class RedisConnectionError(RedisError):
    """The connection to Redis could not be made, or broke during a command."""


class _Unanswered(RedisConnectionError):
    """The connection broke before any of a command's reply arrived."""


class _Connection:
    """One connection: a command (or pipeline) is written whole, then its replies read."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._reader = hiredis.Reader()

    async def exchange(self, payload: bytes, replies: int) -> list[Reply]:
        answered = False
        try:
            await self._stream.send_all(payload)
            found: list[Reply] = []
            while len(found) < replies:
                reply = self._reader.gets()
                if reply is False:  # (hiredis: not a whole reply yet)
                    data = await self._stream.receive_some(_RECEIVE_BYTES)
                    if not data:
                        raise OSError("Redis closed the connection")
                    answered = True
                    self._reader.feed(data)  # type: ignore[arg-type]  # (takes any buffer)
                else:
                    found.append(reply)
            return found
        except (OSError, trio.BrokenResourceError, hiredis.ProtocolError) as error:
            broke = _Unanswered if not answered else RedisConnectionError
            _BROKEN_ERRORS.inc()
            raise broke(str(error) or type(error).__name__) from error

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self._stream)


class Redis:
    """A pool of connections to one Redis, opened when first needed and kept while idle."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("expected redis://, rediss:// (TLS) or unix:// (a socket path)")
        self._unix_path = parts.path if parts.scheme == "unix" else None
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 6379
        self._tls = parts.scheme == "rediss"
        query = parse_qs(parts.query)
        path_db = parts.path.strip("/") if parts.scheme != "unix" else ""
        db = query.get("db", [path_db or "0"])[0]
        if not db.isdigit():
            raise ValueError(f"the database (/N or ?db=N) must be a number, not {db!r}")
        self._db = int(db)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._idle: list[_Connection] = []

    async def execute(self, *command: Argument) -> Reply:
        """The reply to one command: bytes, int, None or a list of those. RedisError if it
        is an error."""
        (reply,) = await self._exchange(_pack(command), 1)
        return _checked(reply)

    async def pipeline(
        self, commands: Iterable[Command], *, transaction: bool = False
    ) -> list[Reply]:
        """The replies to several commands sent in one round trip, in order; with
        `transaction`, run as one MULTI/EXEC. RedisError for the first that failed, once all
        are read."""
        packed = [_pack(command) for command in commands]
        if not packed:
            return []
        if transaction:
            packed = [_MULTI, *packed, _EXEC]
        replies = await self._exchange(b"".join(packed), len(packed))
        if transaction:
            for reply in replies[:-1]:  # OK and QUEUED, or why a command was refused
                _checked(reply)
            executed = replies[-1]
            if executed is None:
                _REPLY_ERRORS.inc()
                raise RedisError("the transaction was aborted")
            replies = executed
        return [_checked(reply) for reply in replies]

    def script(self, source: str) -> Script:
        return Script(self, source)

    async def ping(self) -> None:
        await self.execute("PING")

    async def _exchange(self, payload: bytes, replies: int) -> list[Reply]:
        if self._idle:
            try:
                return await self._use(self._idle.pop(), payload, replies)
            except _Unanswered:
                # Closed while it sat idle (Redis restarted, or timed idle clients out): the
                # command met a dead socket, so it goes again on a new connection. (It runs
                # twice only if Redis ran it and died before a byte of its reply left.)
                pass
        return await self._use(await self._connect(), payload, replies)

    async def _use(self, connection: _Connection, payload: bytes, replies: int) -> list[Reply]:
        try:
            found = await connection.exchange(payload, replies)
        except BaseException:
            # Cut off mid-exchange (cancelled, or the connection broke): replies may still be
            # on their way, so the connection is out of step and cannot be used again.
            await connection.aclose()
            raise
        if len(self._idle) < _IDLE_KEPT:
            self._idle.append(connection)
        else:
            await connection.aclose()
        return found

    async def _connect(self) -> _Connection:
        try:
            with trio.fail_after(_CONNECT_TIMEOUT_S):
                stream: trio.abc.Stream
                if self._unix_path is not None:
                    stream = await trio.open_unix_socket(self._unix_path)
                elif self._tls:
                    stream = await trio.open_ssl_over_tcp_stream(
                        self._host, self._port, ssl_context=ssl.create_default_context()
                    )
                else:
                    stream = await trio.open_tcp_stream(self._host, self._port)
        except (OSError, trio.TooSlowError) as error:
            _CONNECT_ERRORS.inc()
            raise RedisConnectionError(f"cannot connect ({type(error).__name__})") from error
        connection = _Connection(stream)
        hello: list[Command] = []
        if self._password is not None:
            auth = (self._username, self._password) if self._username else (self._password,)
            hello.append(("AUTH", *auth))
        if self._db:
            hello.append(("SELECT", self._db))
        try:
            for reply in await connection.exchange(b"".join(_pack(c) for c in hello), len(hello)):
                _checked(reply)
        except BaseException:
            await connection.aclose()
            raise
        return connection

    async def aclose(self) -> None:
        while self._idle:
            await self._idle.pop().aclose()


class Script:
    """A Lua script run by its SHA1, loaded into Redis the first time Redis lacks it."""

    def __init__(self, redis: Redis, source: str) -> None:
        self._redis = redis
        self._source = source
        self._sha: bytes | None = None

    async def __call__(self, keys: Sequence[Argument], args: Sequence[Argument]) -> Reply:
        if self._sha is not None:
            try:
                return await self._redis.execute("EVALSHA", self._sha, len(keys), *keys, *args)
            except RedisError as error:
                if not str(error).startswith("NOSCRIPT"):
                    raise
        self._sha = await self._redis.execute("SCRIPT", "LOAD", self._source)
        return await self._redis.execute("EVALSHA", self._sha, len(keys), *keys, *args)


def _pack(command: Command) -> bytes:
    # (hiredis's stubs spell its argument as a one-element tuple)
    packed: bytes = hiredis.pack_command(tuple(command))  # type: ignore[arg-type]
    return packed


_MULTI = _pack(("MULTI",))
_EXEC = _pack(("EXEC",))


def _checked(reply: Reply) -> Reply:
    if isinstance(reply, hiredis.ReplyError):
        _REPLY_ERRORS.inc()
        raise RedisError(str(reply))
    return reply


def fields_of(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    """A reply of alternating fields and values (HGETALL, a stream entry's) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


async def expire_all(redis: Redis, keys: Iterable[str], ttl_s: int) -> None:
    """Sets the TTL of every key, a pipeline of at most _REFRESH_CHUNK at a time."""
    chunk: list[Command] = []
    for key in keys:
        chunk.append(("EXPIRE", key, ttl_s))
        if len(chunk) == _REFRESH_CHUNK:
            await redis.pipeline(chunk)
            chunk = []
    if chunk:
        await redis.pipeline(chunk)


@asynccontextmanager
async def open_redis(url: str) -> AsyncIterator[Redis]:
    """A pooled client for `url`, closed on exit. Connections open when first needed, so an
    unreachable Redis shows up as errors from commands (and in /readyz), not here."""
    client = Redis(url)
    try:
        yield client
    finally:
        with trio.CancelScope(shield=True):
            await client.aclose()


@asynccontextmanager
async def open_redis_when_set(url: str | None) -> AsyncIterator[Redis | None]:
    """`open_redis(url)`, or None when REDIS_URL is unset (everything stays in-process)."""
    if url is None:
        yield None
        return
    async with open_redis(url) as client:
        yield client
