"""A gateway session: its identity, guilds, intents, sequence and the dispatches it may need
to replay. It outlives its connection by the resume window, so a client that lost its socket
can RESUME and get every dispatch it missed, in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from core.fanout import Feed, slow_consumers_closed
from gateway.close import Close
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


_slow_consumers = 0  # closed by the gateway's Python; the native fanout counts its own


def note_slow_consumer() -> None:
    global _slow_consumers
    _slow_consumers += 1


def slow_consumers() -> dict[tuple[str, ...], float]:
    """Slow consumers closed since start, natively or here: a metrics source."""
    return {(): slow_consumers_closed() + _slow_consumers}


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
    attached_at: float = 0.0  # when it last took a connection (Trio's clock)

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
        self.attached_at = trio.current_time()
        if (backlogged := self.feed.attach(connection, sent, self.attached_at)) is not None:
            assert isinstance(backlogged, Connection)
            backlogged.start_writer()

    def write(self, message: bytes) -> None:
        """One gateway message other than a dispatch (a heartbeat ACK, say) on the live
        connection. A consumer too slow to take it is closed (4000): it RESUMEs."""
        connection = self.connection
        if connection is not None and not connection.send(message):
            note_slow_consumer()
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
