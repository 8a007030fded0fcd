"""Fault boundaries: what counts as an outage of a store, and the one way a long-lived loop
reports a fault it survives.

Every long-lived loop (a gateway connection, the fanout, the relay, the bus reader, the journal,
the presence pump, an HTTP request) has one boundary. There a fault is logged once, by its type
and the boundary's name (never its text, which may quote a client's input), counted, and ends
or retries only that loop. An outage of PostgreSQL or Redis is expected now and then: it is
retried, or answered with a resumable close or a 503, never a crash.
"""

from __future__ import annotations

import logging

import psycopg

from core.store.redis import RedisError

_log = logging.getLogger(__name__)

# An outage of a store: the database or Redis unreachable, or a connection lost mid-command.
# (DatabaseUnavailable, a pool that could not hand out a connection in time, is a psycopg
# OperationalError too.)
OUTAGES: tuple[type[Exception], ...] = (psycopg.OperationalError, RedisError)


def is_outage(error: BaseException) -> bool:
    return isinstance(error, OUTAGES)


def report_fault(boundary: str, error: BaseException, **ids: object) -> None:
    """Logs a fault a boundary caught (with its traceback, unless it is an outage) and counts
    it. `ids` are snowflakes or session ids, never personal data."""
    extra = {"boundary": boundary, "error_type": type(error).__name__, **ids}
    if is_outage(error):
        _log.warning("store unavailable", extra=extra)
    else:
        _log.error("fault", exc_info=error, extra=extra)
