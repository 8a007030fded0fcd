"""How each way a voice connection can end renders as a close code (gateway/voice/close.py),
and which of them keep the session for a RESUME."""

from __future__ import annotations

import pytest
import trio

from gateway.voice import close
from gateway.voice.close import KEEPS_SESSION, VoiceClose, close_for
from gateway.voice.session import Link


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (close.UnknownOpcode(), 4001),
        (close.FailedToDecode(), 4002),
        (close.NotAuthenticated(), 4003),
        (close.AuthenticationFailed(), 4004),
        (close.AlreadyAuthenticated(), 4005),
        (close.SessionNoLongerValid(), 4006),
        (close.SessionTimeout(), 4009),
        (close.ServerNotFound(), 4011),
        (close.UnknownProtocol(), 4012),
        (close.UnknownEncryptionMode(), 4016),
        (close.BadRequest("d must be an object"), 4020),
        (close.Draining(), 1001),
        (RuntimeError("a fault of ours, whatever it says"), 4015),
    ],
)
def test_each_ending_closes_with_its_documented_code(error: Exception, code: int) -> None:
    closed_with, reason = close_for(error)
    assert closed_with == code
    assert "whatever it says" not in reason  # a fault's text never reaches the wire


def test_only_our_faults_and_missed_heartbeats_keep_the_session() -> None:
    assert {int(code) for code in KEEPS_SESSION} == {4015, 4009}
    for asked in (close.DISCONNECTED, close.CALL_TERMINATED, close.DRAINING, close.SUPERSEDED):
        assert asked[0] not in KEEPS_SESSION
    assert close.SLOW[0] == VoiceClose.VOICE_SERVER_CRASHED


async def test_a_socket_too_slow_for_its_queue_is_asked_to_go_4015_once() -> None:
    outbox, queued = trio.open_memory_channel[str](1)
    link = Link(outbox)
    link.write("first")
    after_first = link.asked
    link.write("second")  # the queue is full: the client is too slow
    link.ask_close(*close.DISCONNECTED)  # the first ask wins
    assert after_first is None
    assert link.asked == close.SLOW
    assert await link.wait_asked() == close.SLOW
    assert queued.receive_nowait() == "first"
