"""How each way a voice connection can end renders as a close code (gateway/voice/close.py),
and which of them keep the session for a RESUME; what waits for a slow socket (session.py)."""

from __future__ import annotations

import json

import pytest

from core.domain.voice import VoiceState
from gateway.voice import VoiceLimits, close
from gateway.voice.close import KEEPS_SESSION, VoiceClose, close_for
from gateway.voice.payloads import Op
from gateway.voice.session import Link, VoiceSession


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
        (close.RateLimited(), 4021),
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


def _session(limits: VoiceLimits) -> VoiceSession:
    state = VoiceState(
        guild_id=1,
        channel_id=2,
        user_id=3,
        session_id="main",
        token_digest="d" * 64,
        deaf=False,
        mute=False,
        self_deaf=False,
        self_mute=False,
        suppress=False,
        request_to_speak_timestamp=None,
    )
    return VoiceSession(state, ssrc=7, version=8, limits=limits)


async def test_a_socket_too_slow_is_asked_to_go_4015_once_and_can_resume_with_all() -> None:
    limits = VoiceLimits(max_queued=3, max_replay=6)
    session = _session(limits)
    stuck = Link(limits)  # its writer never takes anything
    session.attach(stuck)
    for n in range(3):
        session.send(Op.CLIENT_DISCONNECT, {"n": n})
    after_three = stuck.asked
    session.send(Op.CLIENT_DISCONNECT, {"n": 3})  # one more than may wait: too slow
    stuck.ask_close(*close.DISCONNECTED)  # the first ask wins
    assert after_three is None
    assert stuck.asked == close.SLOW
    assert await stuck.wait_asked() == close.SLOW
    session.detach(stuck, 0.0)
    # Its RESUME gets everything, numbered from where it was.
    assert session.missed(-1) == []
    again = Link(limits)
    session.attach(again)
    written = [json.loads(await again.next()) for _ in range(4)]
    assert [(m["d"]["n"], m["seq"]) for m in written] == [(0, 1), (1, 2), (2, 3), (3, 4)]


async def test_a_waiting_speaking_is_replaced_by_the_speakers_next_one() -> None:
    limits = VoiceLimits(max_queued=3, max_replay=6)
    session = _session(limits)
    link = Link(limits)
    session.attach(link)
    for flags in range(50):  # far more than may wait
        session.send(Op.SPEAKING, {"speaker": 1, "speaking": flags}, speaker=1)
        session.send(Op.SPEAKING, {"speaker": 2, "speaking": flags}, speaker=2)
    session.send(Op.CLIENT_DISCONNECT, {"user_id": "9"})
    session.send(Op.SPEAKING, {"speaker": 1, "speaking": 99}, speaker=1)  # last, at the end
    assert link.asked is None
    written = [json.loads(await link.next())["d"] for _ in range(3)]
    assert written == [
        {"speaker": 2, "speaking": 49},
        {"user_id": "9"},
        {"speaker": 1, "speaking": 99},
    ]


def test_a_session_further_behind_than_its_replay_cannot_resume() -> None:
    limits = VoiceLimits(max_queued=3, max_replay=6)
    session = _session(limits)
    for n in range(7):  # while no socket carries it
        session.send(Op.CLIENT_DISCONNECT, {"n": n})
    assert session.missed(-1) is None


def test_the_queue_must_fit_in_the_replay() -> None:
    with pytest.raises(ValueError, match="max_queued"):
        VoiceLimits(max_queued=512, max_replay=256)
