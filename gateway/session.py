"""A gateway session: its identity, guilds, intents, sequence and the dispatches it may need
to replay. It outlives its connection by the resume window, so a client that lost its socket
can RESUME and get every dispatch it missed, in order."""

from __future__ import annotations

import enum
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from gateway.websocket import Opcode, frame

if TYPE_CHECKING:
    from core.sessions import Identity
    from gateway.connection import Connection
    from gateway.journal import Journal

# The resume window: a session stays resumable this long after its connection is lost. It
# keeps every dispatch of the last REPLAY_KEEP_S and at least its last REPLAY_MIN_EVENTS, never
# more than REPLAY_MAX_EVENTS (memory stays bounded under a flood). A RESUME asking for more
# than is kept is refused whole (op 9), never replayed in part. Kept dispatches share their
# payload with every other session: an entry costs its seq, name and a reference.
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


class Compressor:
    """zlib-stream: one deflate context for the connection's life, every message ending in a
    sync flush (the 00 00 ff ff suffix clients look for), so each decodes on arrival. Level 1
    with a 4 KB window: ~8-13 µs and ~18-37 KB a connection against 59 µs and 207 KB at zlib's
    defaults (ARCHITECTURE.md); clients inflate any level and window."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(1, zlib.DEFLATED, 12)

    def __call__(self, message: bytes) -> bytes:
        return self._deflate.compress(message) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


@dataclass(eq=False)
class Session:
    id: str
    identity: Identity
    intents: int
    guilds: dict[int, list[int]]  # guild id → the user's role ids there
    connection: Connection | None = None
    compress: Compressor | None = None
    seq: int = 0  # the last dispatch numbered
    replay: deque[Replayable] = field(default_factory=deque)
    detached_at: float | None = None  # monotonic time the connection was lost
    ended: bool = False  # no longer resumable
    # With several nodes: the session's short name in this node's journal, and the journal
    # itself. A dispatch reaches the socket only once the journal has it (`recorded`).
    number: int = 0
    journal: Journal | None = None
    recorded_seq: int = 0  # dispatches up to here may be sent
    written_seq: int = 0  # dispatches up to here were sent on the current connection

    @property
    def user_id(self) -> int:
        return self.identity.user_id

    def dispatch(
        self, name: str, payload: bytes, event_id: int | None = None, *, keep: bool = True
    ) -> None:
        """Numbers the dispatch, keeps it for a RESUME, and writes it without waiting (after
        the journal has it, with several nodes). `keep=False`: another node need not replay it."""
        self.seq += 1
        now = time.monotonic()
        replay = self.replay
        replay.append((self.seq, name, payload, now, event_id))
        while len(replay) > REPLAY_MAX_EVENTS or (
            len(replay) > REPLAY_MIN_EVENTS and replay[0][3] < now - REPLAY_KEEP_S
        ):
            replay.popleft()
        if self.journal is None:
            self.recorded(self.seq, name, payload)
        else:
            self.journal.stage(self, self.seq, name, payload, event_id, keep=keep)

    def recorded(self, seq: int, name: str, payload: bytes) -> None:
        """Dispatch `seq` may leave: sent now if it is the connection's next."""
        self.recorded_seq = max(self.recorded_seq, seq)  # a taken-over session re-records
        if self.connection is not None and seq == self.written_seq + 1:
            self.written_seq = seq
            self.write(_dispatch_message(seq, name, payload))

    def attach(self, connection: Connection, compress: Compressor | None, sent: int) -> None:
        """The session continues on `connection`, which has had every dispatch up to `sent`."""
        self.connection = connection
        self.compress = compress
        self.written_seq = sent
        self.detached_at = None

    def write(self, message: bytes) -> None:
        """Sends one gateway message on the live connection, if any. A consumer too slow to
        take it is closed with 4000 and detached: it RESUMEs and gets it from the replay."""
        connection = self.connection
        if connection is None:
            return
        if not connection.send(encode(message, self.compress)):
            connection.close(Close.UNKNOWN_ERROR, "slow consumer: resume")
            self.detach()

    def detach(self) -> None:
        self.connection = None
        self.compress = None
        self.detached_at = time.monotonic()

    def missed_since(self, seq: int) -> list[bytes] | None:
        """The dispatches after `seq` that may be sent, or None when some of them are no
        longer kept."""
        if seq > self.seq or seq < 0:
            return None
        if seq >= self.recorded_seq:
            return []
        if not self.replay or self.replay[0][0] > seq + 1:
            return None
        return [
            _dispatch_message(number, name, payload)
            for number, name, payload, _, _ in self.replay
            if seq < number <= self.recorded_seq
        ]


Replayable = tuple[int, str, bytes, float, int | None]  # seq, name, payload, time, event id


def encode(message: bytes, compress: Compressor | None) -> bytes:
    """One gateway message as a WebSocket frame: text, or binary through zlib-stream."""
    return frame(Opcode.BINARY, compress(message)) if compress else frame(Opcode.TEXT, message)


def op_message(op: Op, d: object) -> bytes:
    """A message other than a dispatch: no sequence, no name."""
    return orjson.dumps({"op": int(op), "d": d, "s": None, "t": None})


def _dispatch_message(seq: int, name: str, payload: bytes) -> bytes:
    """An op 0 message: the payload, serialized once for everyone, spliced in as it is."""
    return b'{"op":0,"s":%d,"t":"%s","d":%s}' % (seq, name.encode(), payload)
