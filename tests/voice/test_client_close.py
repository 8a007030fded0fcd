"""A close frame from the client ends its session at once: out of the SFU (no more audio to its
old UDP address) and out of its call (CLIENT_DISCONNECT to the others), so a RESUME finds
nothing. Only what a library follows with a RESUME keeps it: a close without a status code
(@discordjs/voice after missed heartbeats) and a socket that just went away."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.voice.callers import QUIET_S, calling_both, resumed
from tests.voice.client import connect_voice
from tests.voice.conftest import new_voice_room

if TYPE_CHECKING:
    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer


@pytest.mark.parametrize("code", [1000, 1001, 4000, 4014])
async def test_a_close_frame_with_a_code_ends_the_session_at_once(
    api: ApiClient, gateway: str, voice: VoiceServer, code: int
) -> None:
    room = await new_voice_room(api)
    async with calling_both(gateway, voice, room) as (alice, bob):
        await alice.hears_arrival(bob)
        await bob.ws.close(code)
        assert await bob.ws.closed_with() == code
        assert await alice.ws.expect(13) == {"user_id": str(bob.joined.user_id)}
        assert [s.user_id for s in voice.calls.sessions] == [alice.joined.user_id]
        await alice.say(b"to nobody")
        assert await bob.udp.nothing_within(QUIET_S)  # the SFU forgot Bob's address
        async with connect_voice(voice.endpoint, voice.cert_path) as again:
            await again.send(7, bob.joined.resume(bob.ws.seq))
            assert await again.closed_with() == 4006


async def test_a_close_without_a_status_code_keeps_the_session_for_a_resume(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with calling_both(gateway, voice, room) as (alice, bob):
        await alice.hears_arrival(bob)
        await bob.ws.close_without_status()
        assert await bob.ws.closed_with() == 1005
        async with resumed(voice, bob.joined, bob.ws.seq):
            await alice.say(b"still here")
            assert await bob.udp.receive() == (alice.ssrc, b"still here")
        # Nobody was told Bob left while he was away.
        await alice.ws.heartbeat(7)
        assert await alice.ws.receive() == {"op": 6, "d": {"t": 7}}
