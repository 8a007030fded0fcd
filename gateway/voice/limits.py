"""The voice gateway's clock and bounds: heartbeats, deadlines, the resume window, queues."""

from __future__ import annotations

from dataclasses import dataclass

# Discord's own voice HELLO interval. discord.py heartbeats at min(interval, 5 s) whatever
# it is told; @discordjs/voice at the interval, closing itself after three unanswered.
HEARTBEAT_INTERVAL_MS = 13_750


@dataclass(frozen=True, slots=True)
class VoiceLimits:
    """The protocol's clock and the per-session bounds; tests shrink them."""

    heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS
    # From opening to IDENTIFY or RESUME, whatever the heartbeats; past it, close 4009. Both
    # libraries identify at once: this only bounds what a connection that never does holds.
    identify_timeout_s: float = 30.0
    # A dropped session (no clean close) keeps its SSRC, key, UDP path and place in the call
    # this long for a RESUME; then it leaves the call (CLIENT_DISCONNECT to the others).
    resume_window_s: float = 60.0
    # Messages a session keeps for a RESUME: those written and not yet acknowledged (past
    # the client's last `seq_ack`), and those waiting to be written. A session that fell
    # further behind cannot resume (4006) and joins again.
    max_replay: int = 1024
    # Messages waiting for one socket. Past this the client is too slow: it is closed 4015
    # and resumes. Below max_replay, so that all it has not had is still kept when it does
    # (the difference leaves room for what was written and not yet acknowledged).
    max_queued: int = 256
    # Client payloads per connection per minute (any op); past it, close 4021. Discord's
    # voice docs give no number: this is the main gateway's (gateway/limits.py). Both
    # libraries send a heartbeat every 5 s (discord.py) or 13.75 s (@discordjs/voice) and a
    # SPEAKING when audio starts or stops.
    payloads_per_minute: int = 120

    def __post_init__(self) -> None:
        if not 0 < self.max_queued < self.max_replay:
            raise ValueError("max_queued must be positive and below max_replay")

    @property
    def heartbeat_deadline_s(self) -> float:
        # An interval and a half since the last heartbeat (or the open): the voice gateway
        # has no heartbeat request to ask a late client with, so the slack is wider than the
        # main gateway's. Only the WebSocket counts: a bot silent on UDP stays connected.
        return self.heartbeat_interval_ms * 1.5 / 1000
