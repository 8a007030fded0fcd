"""gateway/close.py: every close code the gateway sends is chosen there, from what was raised.
One row per code; then over real sockets, that a fault ends only its own connection."""

from __future__ import annotations

import psycopg
import pytest

from core.errors import ShardingRequired, Unauthorized
from core.store.redis import RedisConnectionError
from gateway import close
from gateway.close import Close, close_for
from gateway.websocket import ProtocolError


@pytest.mark.parametrize(
    ("error", "has_session", "code"),
    [
        (close.Resumable(), True, 4000),
        (close.UnknownOpcode(), False, 4001),
        (close.DecodeError(), False, 4002),
        (close.NotAuthenticated(), False, 4003),
        (close.AuthenticationFailed(), False, 4004),
        (Unauthorized("bad token"), False, 4004),
        (close.AlreadyAuthenticated(), True, 4005),
        (close.InvalidSeq(), False, 4007),
        (close.RateLimited(), True, 4008),
        (close.SessionTimedOut(), False, 4009),
        (close.InvalidShard(), False, 4010),
        (ShardingRequired("too many guilds"), False, 4011),
        (close.InvalidApiVersion(), False, 4012),
        (close.InvalidIntents(), False, 4013),
        (close.DisallowedIntents(), False, 4014),
        (ProtocolError(1002, "unmasked"), False, 1002),
        (ProtocolError(1009, "too big"), False, 4002),  # Discord's decode error
        # Outages and faults of ours: the client comes back.
        (psycopg.OperationalError("gone"), False, 4000),
        (RedisConnectionError("gone"), True, 4000),
        (RuntimeError("a bug"), True, 4000),  # it has a session to resume
        (RuntimeError("a bug"), False, 1011),  # nothing to resume yet
    ],
)
def test_each_error_closes_with_its_code(error: Exception, has_session: bool, code: int) -> None:
    found, reason = close_for(error, has_session=has_session)
    assert found == code
    assert len(reason.encode()) <= 123  # fits a close frame
    assert "a bug" not in reason
    assert "gone" not in reason


def test_every_close_code_has_a_row_above() -> None:
    raised = {c for c in Close if c not in (Close.NORMAL,)}
    tested = {
        4000,
        4001,
        4002,
        4003,
        4004,
        4005,
        4007,
        4008,
        4009,
        4010,
        4011,
        4012,
        4013,
        4014,
        1011,
    }
    assert {int(c) for c in raised} == tested


@pytest.mark.parametrize(
    ("sent", "echo"),
    [(1000, 1000), (1001, 1001), (4000, 4000), (1005, 1002), (999, 1002), (5000, 1002)],
)
def test_a_client_close_is_echoed_unless_its_code_may_not_be_sent(sent: int, echo: int) -> None:
    assert close.ClientClosed(sent).echo == echo
