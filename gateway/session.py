"""A gateway session: its identity, guilds, intents, sequence and the dispatches it may need
to replay. It outlives its connection by the resume window, so a client that lost its socket
can RESUME and get every dispatch it missed, in order."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
import trio

from core.fanout import Feed
from gateway.connection import Connection

if TYPE_CHECKING:
    from core.fanout import Outlet
    from core.sessions import Identity

# The resume window: a session stays resumable this long after its connection is lost. It
# keeps every dispatch of the last REPLAY_KEEP_S and at least its last REPLAY_MIN_EVENTS, never
# more than REPLAY_MAX_EVENTS (memory stays bounded under a flood). A RESUME asking for more
# than is kept is refused whole (op 9), never replayed in part. Nor are dispatches kept once the
# client's heartbeat acknowledged them: it never resumes from before. Kept dispatches share
# their payload with every other session: an entry costs one reference (8 bytes).
RESUME_WINDOW_S = 120.0
REPLAY_KEEP_S = 60.0
REPLAY_MIN_EVENTS = 1000
REPLAY_MAX_EVENTS = 10_000


class Op(enum.IntEnum):
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Close(enum.IntEnum):
    """Discord's gateway close codes."""

    UNKNOWN_ERROR = 4000
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011
    INVALID_API_VERSION = 4012
    INVALID_INTENTS = 4013
    DISALLOWED_INTENTS = 4014


@dataclass(eq=False, slots=True)
class Session:
    """Who the session is and what it may see. Its dispatches (numbered, kept for RESUME,
    written to its connection) are its native `feed`."""

    id: str
    identity: Identity
    intents: int
    guilds: dict[int, list[int]]  # guild id → the user's role ids there
    feed: Feed
    ended: bool = False  # no longer resumable

    @property
    def user_id(self) -> int:
        return self.identity.user_id

    @property
    def connection(self) -> Connection | None:
        outlet = self.feed.outlet
        assert outlet is None or isinstance(outlet, Connection)
        return outlet

    def attach(self, connection: Connection, sent: int) -> None:
        """The session continues on `connection`, which has had every dispatch up to `sent`."""
        if (backlogged := self.feed.attach(connection, sent, trio.current_time())) is not None:
            assert isinstance(backlogged, Connection)
            backlogged.start_writer()

    def write(self, message: bytes) -> None:
        """One gateway message other than a dispatch (a heartbeat ACK, say) on the live
        connection. A consumer too slow to take it is closed (4000): it RESUMEs."""
        connection = self.connection
        if connection is not None and not connection.send(message):
            self.close(Close.UNKNOWN_ERROR, "slow consumer: resume")

    def close(self, code: int, reason: str) -> None:
        """Closes the live connection, if any, and detaches from it."""
        if (closing := self.feed.close(code, reason, trio.current_time())) is not None:
            assert isinstance(closing, Connection)
            closing.start_writer()


def new_feed(number: int, *, held: bool) -> Feed:
    return Feed(
        number, held, REPLAY_KEEP_S, REPLAY_MIN_EVENTS, REPLAY_MAX_EVENTS, trio.current_time()
    )


def start_writers(outlets: list[Outlet]) -> None:
    """The connections a delivery left with a queue: their writers take it from here."""
    for outlet in outlets:
        assert isinstance(outlet, Connection)
        outlet.start_writer()


def op_message(op: Op, d: object) -> bytes:
    """A message other than a dispatch: no sequence, no name."""
    return orjson.dumps({"op": int(op), "d": d, "s": None, "t": None})
