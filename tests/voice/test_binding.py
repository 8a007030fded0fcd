"""SELECT_PROTOCOL's declared address binds the SSRC's UDP path (Sfu.bind): a stranger that
sends an IP discovery request naming someone's SSRC first does not get their audio."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.voice.callers import QUIET_S, calling, connected
from tests.voice.client import AES, XCHACHA, open_udp
from tests.voice.conftest import new_voice_room

if TYPE_CHECKING:
    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer


async def test_audio_goes_to_the_declared_address_not_a_strangers_discovery(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with (
        calling(gateway, voice, room.room.owner, room, AES) as alice,
        connected(gateway, voice, room.room.member, room) as (bob, ws),
        open_udp(voice.endpoint) as udp,
        open_udp(voice.endpoint) as stranger,
    ):
        ready = await ws.identify(bob)
        await stranger.discover(ready["ssrc"])  # before Bob's own
        await ws.select(ready, udp, XCHACHA)  # discovers from `udp`, declares it
        stranger.keyed(XCHACHA, udp.key)  # (even a stranger with the key)
        await alice.say(b"for bob")
        assert await udp.receive() == (alice.ssrc, b"for bob")
        assert await stranger.nothing_within(QUIET_S)
