from typing import Final, Self, final

from typing_extensions import disjoint_base

__all__ = [
    "DISCORD_EPOCH_MS",
    "MAX_SNOWFLAKE_BATCH",
    "SENT_BACKLOGGED",
    "SENT_QUEUED",
    "SENT_REFUSED",
    "SENT_WRITTEN",
    "ChannelPermissions",
    "Feed",
    "FrameParser",
    "FrameValueError",
    "GuildMembers",
    "GuildPermissions",
    "Outlet",
    "PermissionsValueError",
    "SfuHandle",
    "SnowflakeGenerator",
    "SnowflakeValueError",
    "decode_snowflake",
    "deliver",
    "release",
    "slow_consumers_closed",
]

_Overwrite = tuple[int, int, int, int]
"""Discord's permission overwrite as `(id, type, allow, deny)`; type 0 is a role, 1 a member."""

DISCORD_EPOCH_MS: Final[int]
"""Unix time in ms of 2015-01-01T00:00:00Z, where Discord's snowflake clock starts."""
MAX_SNOWFLAKE_BATCH: Final[int]
"""The most ids one `next_ids` call returns: 16 ms of ids at the format's cap."""

class SnowflakeValueError(ValueError):
    """A snowflake argument out of range, or a clock the snowflake format cannot express."""

@final
class SnowflakeGenerator:
    """Issues strictly increasing Discord snowflakes for one worker/process pair. Thread-safe.

    Every id falls in a later millisecond than `after` (the last id a previous run issued),
    whatever the clock says. 4096 ids fit in one millisecond; past that the generator waits
    for the clock. If the clock steps back, ids keep counting up from the last one instead.
    """

    def __new__(cls, worker_id: int, process_id: int, *, after: int = 0) -> SnowflakeGenerator: ...
    @property
    def worker_id(self) -> int: ...
    @property
    def process_id(self) -> int: ...
    def next_id(self) -> int:
        """The next id. Waits (GIL released) only when this millisecond's ids are used up."""
    def next_ids(self, count: int) -> list[int]:
        """`count` strictly increasing ids, at most MAX_SNOWFLAKE_BATCH, with the GIL released."""

def decode_snowflake(snowflake: int) -> tuple[int, int, int, int]:
    """`(unix_ms, worker_id, process_id, increment)` of a snowflake."""

class PermissionsValueError(ValueError):
    """Roles or overwrites that do not describe a guild: no @everyone, a role twice, a bad type."""

@final
class GuildPermissions:
    """A guild's roles, for Discord's permission algorithm; rebuild it when roles change.

    `roles` holds `(role_id, permissions)` for every role, @everyone (id = guild id) included.
    """

    def __new__(
        cls, guild_id: int, owner_id: int, roles: list[tuple[int, int]]
    ) -> GuildPermissions: ...
    def channel(self, overwrites: list[_Overwrite], *, text: bool = False) -> ChannelPermissions:
        """A channel with these overwrites, for this snapshot of the guild; rebuild it when
        they change. `text` applies the text-channel rule (no SEND_MESSAGES, no embeds…)."""
    def resolve(
        self,
        user_id: int,
        role_ids: list[int],
        *,
        timed_out: bool = False,
        channel: ChannelPermissions | None = None,
    ) -> int:
        """One member's permissions: guild-wide, or in `channel`."""
    def members(self, members: list[tuple[int, list[int], bool]]) -> GuildMembers:
        """A snapshot of `(user_id, role_ids, timed_out)` members for bulk checks."""

@final
class ChannelPermissions:
    """A channel's overwrites laid out for one GuildPermissions. Using it with another
    (say, one rebuilt after a role change) raises PermissionsValueError."""

@final
class GuildMembers:
    """Members of one guild resolved against its roles; rebuild it when members change."""

    def __len__(self) -> int: ...
    def who_has(self, permission: int, channel: ChannelPermissions) -> bytes:
        """One byte per member, in snapshot order: 1 when they have every bit of
        `permission` in `channel`. Runs with the GIL released."""

SENT_WRITTEN: Final[int]
"""All of it is in the kernel."""
SENT_BACKLOGGED: Final[int]
"""Some of it waits in a queue that was empty: start the connection's writer."""
SENT_QUEUED: Final[int]
"""Some of it waits behind earlier queued bytes; the writer is already on it."""
SENT_REFUSED: Final[int]
"""Not taken: the outlet is closed, or its queue would pass its bound."""

@disjoint_base
class Outlet:
    """One connection's sending side: the socket (owned from here on), its compression, and
    a bounded queue for what the kernel will not take now. Writes never block. Subclassable,
    so that the gateway's connection is the object fanout hands back to drain."""

    def __new__(cls, fd: int, max_queued: int) -> Self:
        """Takes ownership of the connected TCP socket `fd` (from `socket.detach()`)."""
    @property
    def fileno(self) -> int:
        """The socket's descriptor, to wait on; not valid after `shutdown`."""
    @property
    def queued(self) -> int:
        """Bytes waiting for the writer."""
    @property
    def open(self) -> bool:
        """False once a close frame went in or the socket failed."""
    def compress(self, kind: str) -> None:
        """Compresses every later message: "zlib-stream" or "zstd-stream"."""
    def read(self) -> bytes | None:
        """The peer's next bytes: None when none have arrived, b"" at its end."""
    def send_message(self, message: bytes) -> int:
        """A gateway message, through the connection's compression; returns a SENT_* code."""
    def send_frame(self, opcode: int, payload: bytes) -> int:
        """A frame with this opcode, uncompressed; returns a SENT_* code."""
    def send_raw(self, data: bytes) -> int:
        """Bytes as they are (HTTP before the upgrade); returns a SENT_* code."""
    def close(self, code: int, reason: str) -> int:
        """A close frame after what is queued, then nothing more; returns a SENT_* code.
        With the queue full, frames not yet started are dropped for it."""
    def flush(self) -> bool:
        """Writes what is queued as far as the kernel takes it; True once nothing is left."""
    def shutdown(self) -> None:
        """Closes the socket."""

@final
class Feed:
    """One gateway session's dispatches: numbered (`s`), kept for RESUME (every one of the
    last `keep_s`, at least `min_events`, at most `max_events`, none the client acknowledged),
    and sent in order on the outlet it is attached to. A held feed (several nodes) sends a
    dispatch only once `release` says the journal has it.

    Every `now` is seconds on the caller's clock (the gateway's: `trio.current_time()`)."""

    def __new__(
        cls,
        number: int,
        held: bool,
        keep_s: float,
        min_events: int,
        max_events: int,
        now: float,
    ) -> Feed:
        """Detached (on no connection yet) since `now`. ValueError for a negative or NaN
        `keep_s`, or a `now` that is not finite."""
    @property
    def number(self) -> int:
        """The session's name in this node's journal."""
    @property
    def seq(self) -> int:
        """The last dispatch numbered."""
    @property
    def recorded_seq(self) -> int:
        """Dispatches up to here may be sent (or replayed)."""
    def set_recorded(self, seq: int) -> None:
        """A session taken over: another node's journal already has everything up to `seq`."""
    def start_at(self, seq: int) -> bool:
        """Numbering carries on from `seq`; False once anything was dispatched, or for a
        `seq` over 2**63 - 1 (numbering must never run out)."""
    @property
    def outlet(self) -> Outlet | None:
        """The outlet the session is attached to, if any."""
    def is_on(self, outlet: Outlet) -> bool: ...
    def detached_for(self, now: float) -> float | None:
        """Seconds from losing its connection to `now`; None while it has one."""
    def attach(self, outlet: Outlet, sent: int, now: float) -> Outlet | None:
        """Continues on `outlet`, which has had every dispatch up to `sent`, sending it what
        it may. Returns the outlet if its writer must be started."""
    def detach(self, now: float) -> None:
        """Leaves the connection, if any: detached since `now`."""
    def close(self, code: int, reason: str, now: float) -> Outlet | None:
        """Closes the connection with `code` and detaches (since `now`); returns the outlet
        if its writer must be started to send the close."""
    def acknowledge(self, seq: int) -> None:
        """The client's heartbeat says it has every dispatch up to `seq`."""
    def missed_since(self, seq: int) -> list[bytes] | None:
        """The gateway messages after `seq`, or None when they are not all kept."""

def deliver(
    feeds: list[Feed],
    name: str,
    payload: bytes,
    event_id: int | None,
    mark: int,
    now: float,
    *,
    keep: bool = True,
) -> tuple[list[int], list[Outlet]]:
    """One dispatch to every feed, each numbered, framed and written in turn; slow consumers
    are closed (4000) and detached on the way. `keep=False`: not kept for a RESUME once sent
    (READY and the first GUILD_CREATEs: each session's own, and large). Returns
    `[number, seq, …]` of the held feeds, to journal, and the outlets whose writers must be
    started. `now` dates the dispatch for replay trimming. zlib-stream recipients share one
    deflate of the dispatch, made with the GIL released."""

def release(feeds: list[Feed], mark: int, now: float) -> list[Outlet]:
    """The journal has every dispatch staged up to `mark`: held feeds send them (a slow
    consumer is closed at `now`). Returns the outlets whose writers must be started."""

class FrameValueError(ValueError):
    """Client frames that break RFC 6455. `code` is the close code to answer with (1002, or
    1009 for a message over the limit), `reason` the close reason."""

    code: int
    reason: str

@final
class FrameParser:
    """One connection's client frames (RFC 6455): masked, maybe fragmented, control frames
    between. Holds at most one unfinished frame and one unfinished message."""

    def __new__(cls, max_bytes: int) -> FrameParser:
        """Refuses data messages over `max_bytes` (1009) as soon as a frame header says so."""
    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """The whole messages and control frames `data` completes, as `(opcode, payload)`.
        Raises FrameValueError when the frames break RFC 6455, then on every later call."""
    @property
    def buffered(self) -> int:
        """Bytes held for an unfinished frame and an unfinished message."""

def slow_consumers_closed() -> int:
    """Slow consumers the delivery calls have closed (4000) since the process started."""

@final
class SfuHandle:
    """The native SFU: a bound UDP socket and the media thread that forwards Discord voice
    (RTP in the `*_rtpsize` AEAD modes) on it, re-encrypted for each listener. Every change is
    queued for the thread, which applies it before it forwards any datagram that arrived
    after the change was made. Wrapped by core.sfu (open_sfu joins the thread on exit)."""

    def __new__(cls, host: str, port: int) -> SfuHandle:
        """Binds UDP `host:port` (an IPv4 address; port 0: any free one) and starts the media
        thread. ValueError for a host that is not an IPv4 address, OSError if binding fails."""
    @property
    def port(self) -> int:
        """The bound UDP port."""
    @property
    def running(self) -> bool:
        """Whether the media thread still runs."""
    @property
    def ended_fd(self) -> int:
        """A descriptor that becomes readable once the media thread has ended, however it
        ended (`close`, or a panic): `trio.lowlevel.wait_readable` it. Owned by the handle."""
    def add(self, ssrc: int, channel_id: int, *, speaks: bool, hears: bool) -> None:
        """A participant (replacing one with this SSRC): no key and no address yet."""
    def set_key(self, ssrc: int, mode: str, key: bytes) -> None:
        """The participant's transport mode ("aead_aes256_gcm_rtpsize" or
        "aead_xchacha20_poly1305_rtpsize") and 32-byte secret key. ValueError otherwise."""
    def set_flags(self, ssrc: int, *, speaks: bool, hears: bool) -> None:
        """Whether the participant's packets are forwarded, and whether it gets the others'."""
    def move(self, ssrc: int, channel_id: int) -> None:
        """The participant now sends to and hears `channel_id`."""
    def remove(self, ssrc: int) -> None:
        """Forgets the participant (an unknown SSRC is a no-op, as for every change)."""
    def bind(self, ssrc: int, host: str, port: int) -> None:
        """The address the client declared: bound if a discovery request for the SSRC came
        from it, else the most recent discovery source; with none yet, the first discovery
        from exactly it binds it. A host that is not an IPv4 address, or port 0, declares
        none. OverflowError for a port past 65535."""
    def address(self, ssrc: int) -> tuple[str, int] | None:
        """`(ip, port)` the SSRC is bound to, once the thread has bound it. A packet that
        authenticates from another address rebinds it."""
    def counters(self) -> dict[str, int]:
        """packets_in, bytes_in, packets_out, bytes_out, discovery_answers, rebinds (SSRCs
        moved by a packet that authenticated from another address), io_errors (receive
        errors other than "nothing waiting"; repeated ones are retried ever more slowly, up
        to once a second), and dropped_<reason> for
        malformed, unknown_ssrc, wrong_address, not_keyed, replayed, bad_tag, muted, rtcp,
        keepalive, not_opus, send_failed, counter_exhausted. Whoever sees a datagram counted
        in packets_in also sees every count it caused."""
    def close(self) -> None:
        """Tells the thread to stop after the batch in hand."""
    def join(self) -> None:
        """Waits (GIL released) for the thread to end; call `close` first. RuntimeError if it
        ended in a panic (a bug)."""
