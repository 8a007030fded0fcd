"""The gateway's clock and bounds: heartbeats, deadlines, payload and queue sizes."""

from __future__ import annotations

from dataclasses import dataclass

from core.sessions import MAX_GUILDS_PER_SHARD
from gateway.session import RESUME_WINDOW_S

HEARTBEAT_INTERVAL_MS = 41_250
MAX_PAYLOAD_BYTES = 4096  # a client payload over this closes the connection with 4002
PAYLOADS_PER_MINUTE = 120
MEMBERS_PER_CHUNK = 1000
HANDSHAKE_TIMEOUT_S = 10.0
MAX_QUEUED_BYTES = 1 << 20  # per connection: past this the client is a slow consumer
CLOSE_FLUSH_S = 2.0  # how long a closing connection's last frames get to leave
# How long a RESUME on this node waits for the session's node to let it go (or be seen dead:
# core/delivery_log.py's NODE_TTL_MS) before telling the client to identify again.
TAKEOVER_TIMEOUT_S = 5.0
# With several nodes, a dispatch reaches its socket only once the journal in Redis has it. While
# Redis is away, sessions held up longer than this are closed with 4000: their clients RESUME
# (and are held again, or served once Redis is back), rather than waiting without a word. Well
# inside the resume window, so the session is still there to resume.
BUS_OUTAGE_CLOSE_S = 30.0
# Dispatches the journal may hold for Redis before new sessions are turned away (4000): a
# long Redis outage must not grow memory without end, one READY at a time.
MAX_STAGED = 10_000
# Recipients per native delivery call: between chunks the Trio thread serves other tasks, so
# one large audience holds it for about a millisecond at a time, not for its whole size.
DELIVERY_CHUNK = 256


@dataclass(frozen=True, slots=True)
class GatewayLimits:
    """The protocol's clock and the per-connection queue bound; tests shrink them."""

    heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS
    resume_window_s: float = RESUME_WINDOW_S
    max_queued_bytes: int = MAX_QUEUED_BYTES
    # From HELLO to IDENTIFY or RESUME, whatever the heartbeats; past it, close 4009. Long
    # enough for a sharded bot waiting for its identify slot (discord.py waits 5 s a shard
    # after connecting), short enough that a connection never identifying holds nothing long.
    identify_timeout_s: float = 60.0
    max_guilds_per_shard: int = MAX_GUILDS_PER_SHARD
    bus_outage_close_s: float = BUS_OUTAGE_CLOSE_S

    @property
    def heartbeat_deadline_s(self) -> float:
        # One interval plus a quarter for the client's jitter and the network.
        return self.heartbeat_interval_ms * 1.25 / 1000

    @property
    def heartbeat_ask_s(self) -> float:
        # Late enough that a client on time has heartbeated already (no extra round trip),
        # early enough that one asked has time to answer before the deadline.
        return self.heartbeat_interval_ms * 1.1 / 1000
