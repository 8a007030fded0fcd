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
    # Numbered messages kept for a RESUME past the client's last `seq_ack`. A session that
    # fell further behind cannot resume (4006) and joins again.
    max_replay: int = 256
    # Messages waiting for one socket. Past this the client is too slow: it is closed 4015
    # and resumes, the replay holding what it missed. (A RESUME's replay fits with room.)
    max_queued: int = 512

    @property
    def heartbeat_deadline_s(self) -> float:
        # An interval and a half since the last heartbeat (or the open): the voice gateway
        # has no heartbeat request to ask a late client with, so the slack is wider than the
        # main gateway's. Only the WebSocket counts: a bot silent on UDP stays connected.
        return self.heartbeat_interval_ms * 1.5 / 1000
