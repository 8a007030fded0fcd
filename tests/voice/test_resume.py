"""RESUME after a dropped socket: RESUMED and the numbered messages the client missed, with the
same SSRC, key and UDP path (audio flows on with the old key); what a resume cannot get back
(a clean close, a stale token, a replay gone past) answered 4006."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.voice import VoiceLimits
from tests.voice.callers import calling, calling_both, connected, resumed
from tests.voice.client import AES, XCHACHA, connect_voice
from tests.voice.conftest import in_voice, new_voice_room, newcomer, running_voice

if TYPE_CHECKING:
    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer


async def test_a_dropped_socket_resumes_with_what_it_missed_and_its_audio_path(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    carol = await newcomer(api, room)
    async with calling_both(gateway, voice, room) as (alice, bob):
        await alice.hears_arrival(bob)
        seq_ack = await alice.drop()
        # While Alice is away: Bob stops speaking, Carol joins. Neither is lost.
        await bob.ws.speak(bob.ssrc, 0)
        async with connected(gateway, voice, carol, room) as (carl, cc):
            await cc.identify(carl)
            assert await bob.ws.expect(11) == {"user_ids": [str(carl.user_id)]}
            async with resumed(voice, alice.joined, seq_ack) as again:
                assert await again.expect(5) == {
                    "user_id": str(bob.joined.user_id),
                    "ssrc": bob.ssrc,
                    "speaking": 0,
                }
                assert await again.expect(11) == {"user_ids": [str(carl.user_id)]}
                # Same SSRC, key and UDP path: the old socket's packets flow on.
                await alice.say(b"after the drop")
                assert await bob.udp.receive() == (alice.ssrc, b"after the drop")
                await bob.say(b"welcome back")
                assert await alice.udp.receive() == (bob.ssrc, b"welcome back")
            await cc.close(1000)
            assert await cc.closed_with() == 1000
        # Nobody was told Alice left: Carol's leave is the next Bob hears.
        assert await bob.ws.expect(13) == {"user_id": str(carl.user_id)}


async def test_a_resume_after_a_clean_close_or_with_a_stale_token_is_4006(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with in_voice(gateway, room.room.member, room.guild_id, room.channel_id) as (
        joined,
        _,
    ):
        async with connect_voice(voice.endpoint, voice.cert_path) as first:
            await first.identify(joined)
            await first.close(1000)
            assert await first.closed_with() == 1000
        assert voice.calls.sessions == []
        async with connect_voice(voice.endpoint, voice.cert_path) as late:
            await late.send(7, joined.resume(1))
            assert await late.closed_with() == 4006
        async with connect_voice(voice.endpoint, voice.cert_path) as second:
            await second.identify(joined)
            second.abort()
        async with connect_voice(voice.endpoint, voice.cert_path) as wrong:
            await wrong.send(7, joined.resume(1, token="stale" * 8))
            assert await wrong.closed_with() == 4006
        assert len(voice.calls.sessions) == 1  # still waiting for the right RESUME


async def test_a_resume_past_the_replay_is_4006_and_ends_the_session(
    api: ApiClient, gateway: str
) -> None:
    room = await new_voice_room(api)
    async with (
        running_voice(api, VoiceLimits(max_replay=4, max_queued=3)) as voice,
        calling_both(gateway, voice, room, (AES, AES)) as (alice, bob),
    ):
        await alice.hears_arrival(bob)
        for flags in range(5):  # more than Alice's replay keeps, all unacknowledged
            await bob.ws.speak(bob.ssrc, flags % 2)
            await alice.ws.expect(5)
        alice.ws.abort()
        async with connect_voice(voice.endpoint, voice.cert_path) as again:
            await again.send(7, alice.joined.resume(1))
            assert await again.closed_with() == 4006
        assert await bob.ws.expect(13) == {"user_id": str(alice.joined.user_id)}


async def test_a_resume_is_followed_by_the_same_session_description(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    # discord.py waits for SESSION_DESCRIPTION's key on every new socket, a resumed one too.
    room = await new_voice_room(api)
    async with calling(gateway, voice, room.room.member, room, XCHACHA) as bob:
        seq_ack = await bob.drop()
        async with resumed(voice, bob.joined, seq_ack) as again:
            described = await again.receive()
            assert described == {
                "op": 4,
                "d": {
                    "mode": XCHACHA,
                    "secret_key": list(bob.udp.key),
                    "dave_protocol_version": 0,
                },
                "seq": seq_ack + 1,
            }


async def test_a_resume_before_select_protocol_sends_no_session_description(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with in_voice(gateway, room.room.member, room.guild_id, room.channel_id) as (
        joined,
        _,
    ):
        async with connect_voice(voice.endpoint, voice.cert_path) as first:
            await first.identify(joined)
            first.abort()
        async with resumed(voice, joined, first.seq) as again:
            await again.heartbeat(3)
            assert await again.receive() == {"op": 6, "d": {"t": 3}}
