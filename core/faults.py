"""Fault boundaries: what counts as an outage of a store, and the one way a long-lived loop
reports a fault it survives.

Every long-lived loop (a gateway connection, the fanout, the relay, the bus reader, the journal,
the presence pump, an HTTP request) has one boundary. There a fault is logged once, by its type
and the boundary's name (never its text, which may quote a client's input), counted in
`trioxide_faults_total{boundary}`, and ends or retries only that loop. An outage of PostgreSQL
or Redis is expected now and then: it is retried, or answered with a resumable close or a 503,
never a crash; it is logged when it starts (or what fails changes) and when it ends, not at
every retry.
"""

from __future__ import annotations

import logging

import psycopg

from core.metrics import FAULTS
from core.store.redis import RedisError

_log = logging.getLogger(__name__)

# An outage of a store: the database or Redis unreachable, or a connection lost mid-command.
# (DatabaseUnavailable, a pool that could not hand out a connection in time, is a psycopg
# OperationalError too.)
OUTAGES: tuple[type[Exception], ...] = (psycopg.OperationalError, RedisError)

# After a fault a loop retries this soon, then twice as late each time up to RETRY_MAX_S: a
# restarted Redis or PostgreSQL is used within seconds, a long outage costs an attempt every
# few seconds.
RETRY_S = 0.25
RETRY_MAX_S = 4.0


def is_outage(error: BaseException) -> bool:
    return isinstance(error, OUTAGES)


def _what_failed(error: BaseException) -> str:
    if isinstance(error, RedisError):
        return "redis"
    if isinstance(error, psycopg.OperationalError):
        return "database"
    return "unexpected"


def report_fault(boundary: str, error: BaseException, **ids: object) -> None:
    """Logs one fault a boundary caught (with its traceback, unless it is an outage) and
    counts it. `ids` are snowflakes or session ids, never personal data."""
    FAULTS.labels(boundary=boundary).inc()
    extra = {"boundary": boundary, "error_type": type(error).__name__, **ids}
    if is_outage(error):
        _log.warning("store unavailable", extra={**extra, "store": _what_failed(error)})
    else:
        _log.error("fault", exc_info=error, extra=extra)


class Boundary:
    """A retrying loop's boundary: every fault is counted, the first of an outage (and any
    change of what fails) logged, its end logged, and the wait before the next try grows."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._failures = 0  # in a row: the current outage's
        self._failing: str | None = None  # "redis", "database" or "unexpected"

    @property
    def failing(self) -> bool:
        return self._failures > 0

    def failed(self, error: Exception) -> float:
        """Records `error`; the seconds to wait before the next try."""
        what = _what_failed(error)
        if what != self._failing:
            report_fault(self._name, error)
            self._failing = what
        else:
            FAULTS.labels(boundary=self._name).inc()
        self._failures += 1
        return min(RETRY_MAX_S, RETRY_S * 2.0 ** (self._failures - 1))

    def succeeded(self) -> None:
        if self._failures:
            _log.info("recovered", extra={"boundary": self._name, "failures": self._failures})
        self._failures = 0
        self._failing = None
