"""The voice gateway's clock, on trio.testing.MockClock: a connection without heartbeats closed
4009 at 1.5 intervals (its session kept), one that heartbeats but sends no UDP at all living
on, the IDENTIFY deadline, and the resume window's end. Nothing slept for real.

Set-up runs with the clock still; then the clock jumps to each next deadline whenever every
task waits (autojump_threshold=0). Reads wait up to 120 mock seconds, longer than any
deadline they wait for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from gateway.voice.limits import HEARTBEAT_INTERVAL_MS, VoiceLimits
from tests.voice.callers import calling_both, connected
from tests.voice.client import AES, connect_voice
from tests.voice.conftest import new_voice_room

if TYPE_CHECKING:
    from trio.testing import MockClock

    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer

INTERVAL_S = HEARTBEAT_INTERVAL_MS / 1000
LIMITS = VoiceLimits()


async def test_no_heartbeat_for_an_interval_and_a_half_closes_4009_keeping_the_session(
    api: ApiClient, gateway: str, voice: VoiceServer, mock_clock: MockClock
) -> None:
    room = await new_voice_room(api)
    async with (
        connected(gateway, voice, room.room.member, room) as (joined, client),
    ):
        client.wait_s = 120
        await client.identify(joined)
        opened = trio.current_time()  # (the clock stood still through set-up)
        mock_clock.autojump_threshold = 0
        assert await client.closed_with() == 4009
        assert trio.current_time() - opened == pytest.approx(INTERVAL_S * 1.5)
        (session,) = voice.calls.sessions  # kept for a RESUME
        assert session.detached_at is not None


async def test_a_client_that_heartbeats_and_sends_no_udp_at_all_stays_connected(
    api: ApiClient, gateway: str, voice: VoiceServer, mock_clock: MockClock
) -> None:
    room = await new_voice_room(api)
    async with (
        connected(gateway, voice, room.room.member, room) as (joined, client),
    ):
        client.wait_s = 120
        await client.identify(joined)
        mock_clock.autojump_threshold = 0
        for beat in range(4):  # well past the deadline, in all
            await trio.sleep(INTERVAL_S)
            await client.heartbeat(beat)
            assert await client.receive() == {"op": 6, "d": {"t": beat}}
        (session,) = voice.calls.sessions
        assert session.link is not None  # connected, never once dropped


async def test_a_connection_that_never_identifies_is_closed_4009_at_the_deadline(
    voice: VoiceServer, mock_clock: MockClock
) -> None:
    async with connect_voice(voice.endpoint, voice.cert_path) as client:
        client.wait_s = 120
        opened = trio.current_time()
        mock_clock.autojump_threshold = 0
        for beat in range(2):  # heartbeats alone do not hold a connection open
            await trio.sleep(INTERVAL_S)
            await client.heartbeat(beat)
            assert await client.receive() == {"op": 6, "d": {"t": beat}}
        assert await client.closed_with() == 4009
        assert trio.current_time() - opened == pytest.approx(LIMITS.identify_timeout_s)


async def test_a_dropped_session_leaves_the_call_when_the_resume_window_ends(
    api: ApiClient, gateway: str, voice: VoiceServer, mock_clock: MockClock
) -> None:
    room = await new_voice_room(api)
    async with calling_both(gateway, voice, room, (AES, AES)) as (alice, bob):
        bob.ws.wait_s = 120
        await alice.ws.expect(11)
        alice.ws.abort()
        dropped = trio.current_time()
        mock_clock.autojump_threshold = 0
        while True:  # Bob heartbeats on through the window
            await bob.ws.heartbeat(1)
            payload = await bob.ws.receive()
            if payload["op"] == 13:
                break
            await trio.sleep(INTERVAL_S)
        assert payload["d"] == {"user_id": str(alice.joined.user_id)}
        waited = trio.current_time() - dropped
        # Expired at the first sweep past the window (sweeps run every quarter window).
        assert LIMITS.resume_window_s < waited <= LIMITS.resume_window_s * 1.25 + INTERVAL_S
        async with connect_voice(voice.endpoint, voice.cert_path) as again:
            await again.send(7, alice.joined.resume(alice.ws.seq))
            assert await again.closed_with() == 4006
