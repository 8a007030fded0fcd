"""The native delivery path, for the gateway: an `Outlet` per connection, a `Feed` per
session, and `deliver`/`release` — one call per event for all its recipients
(ARCHITECTURE.md, "The message path")."""

from trioxide_native import (
    SENT_BACKLOGGED,
    SENT_QUEUED,
    SENT_REFUSED,
    SENT_WRITTEN,
    Feed,
    Outlet,
    deliver,
    release,
    slow_consumers_closed,
)

__all__ = [
    "SENT_BACKLOGGED",
    "SENT_QUEUED",
    "SENT_REFUSED",
    "SENT_WRITTEN",
    "Feed",
    "Outlet",
    "deliver",
    "release",
    "slow_consumers_closed",
]
