"""Rate-limit windows in Discord's terms: a bucket allows `count` requests per `period_s`,
counted from the first request of a window; the headers report what is left and when the
window resets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    period_s: float


@dataclass(frozen=True, slots=True)
class Window:
    started_s: float
    used: int


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: float  # wall-clock time when the window resets
    reset_after_s: float


def take(window: Window | None, limit: Limit, now_s: float) -> tuple[Window, Decision]:
    """Counts one request against `window` (None: no window yet, or it expired)."""
    if window is None or now_s >= window.started_s + limit.period_s:
        window = Window(now_s, 0)
    allowed = window.used < limit.count
    if allowed:
        window = Window(window.started_s, window.used + 1)
    reset_s = window.started_s + limit.period_s
    decision = Decision(
        allowed=allowed,
        limit=limit.count,
        remaining=max(0, limit.count - window.used),
        reset_s=reset_s,
        reset_after_s=max(0.0, reset_s - now_s),
    )
    return window, decision
