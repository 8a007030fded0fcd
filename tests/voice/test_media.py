"""Audio through the real SFU over real UDP, with client-side crypto as the libraries do it:
a channel mixing both modes, a sender that never hears itself; and what moderation through the
REST API (mute, deafen, move, disconnect, channel deletion) does to the call, through the
node's VoiceNode hooks.

These take a second or more each: two or three people join through the main gateway and key a
voice connection, and each "nothing arrives" is watched for QUIET_S.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.voice.client import AES, XCHACHA, connect_voice, open_udp
from tests.voice.conftest import in_voice, new_voice_room, newcomer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.running import ApiClient, Person
    from tests.voice.client import Joined, VoiceClient, VoiceUdp
    from tests.voice.conftest import VoiceRoom, VoiceServer

QUIET_S = 0.3  # how long "nothing arrives" is watched for: loopback delivers in microseconds


@dataclass
class Caller:
    joined: Joined
    main: Any  # the main gateway client
    ws: VoiceClient
    udp: VoiceUdp
    ssrc: int

    async def say(self, opus: bytes) -> None:
        await self.udp.send(self.ssrc, opus)


@asynccontextmanager
async def calling(
    gateway: str, voice: VoiceServer, who: Person, room: VoiceRoom, mode: str, channel: int = 0
) -> AsyncIterator[Caller]:
    """`who` in the room's voice channel (or `channel`), keyed in `mode`, having sent SPEAKING."""
    async with (
        in_voice(gateway, who, room.guild_id, channel or room.channel_id) as (joined, main),
        connect_voice(voice.endpoint, voice.cert_path) as ws,
        open_udp(voice.endpoint) as udp,
    ):
        ready = await ws.identify(joined)
        await ws.select(ready, udp, mode)
        await ws.send(5, {"speaking": 1, "delay": 0, "ssrc": ready["ssrc"]})
        yield Caller(joined, main, ws, udp, ready["ssrc"])


async def patch_member(api: ApiClient, room: VoiceRoom, user_id: int, **body: object) -> None:
    response = await api.http.patch(
        f"/api/v10/guilds/{room.guild_id}/members/{user_id}",
        headers=room.room.owner.auth,
        json=body,
    )
    assert response.status_code in (200, 204), response.text


async def test_audio_crosses_modes_and_never_returns_to_its_sender(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with (
        calling(gateway, voice, room.room.owner, room, AES) as alice,
        calling(gateway, voice, room.room.member, room, XCHACHA) as bob,
    ):
        for n in range(5):
            await alice.say(b"alice %d" % n)
            assert await bob.udp.receive() == (alice.ssrc, b"alice %d" % n)
        await bob.say(b"bob")
        assert await alice.udp.receive() == (bob.ssrc, b"bob")
        assert await alice.udp.nothing_within(QUIET_S)  # its own never came back


async def test_server_mute_and_deafen_stop_audio_before_the_next_packet_and_undo(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with (
        calling(gateway, voice, room.room.owner, room, AES) as alice,
        calling(gateway, voice, room.room.member, room, XCHACHA) as bob,
    ):
        await patch_member(api, room, bob.joined.user_id, mute=True)
        await bob.say(b"muted")
        assert await alice.udp.nothing_within(QUIET_S)
        await patch_member(api, room, bob.joined.user_id, mute=False, deaf=True)
        await bob.say(b"unmuted")
        assert await alice.udp.receive() == (bob.ssrc, b"unmuted")
        await alice.say(b"to a deaf ear")
        assert await bob.udp.nothing_within(QUIET_S)
        await patch_member(api, room, bob.joined.user_id, deaf=False)
        await alice.say(b"heard")
        assert await bob.udp.receive() == (alice.ssrc, b"heard")


async def test_a_move_reroutes_the_connection_and_tells_both_channels(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    carol = await newcomer(api, room)
    async with (
        calling(gateway, voice, room.room.owner, room, AES) as alice,
        calling(gateway, voice, room.room.member, room, XCHACHA) as bob,
        calling(gateway, voice, carol, room, AES, room.other_channel_id) as carl,
    ):
        await alice.ws.expect(11)  # Bob's arrival
        await alice.ws.expect(5)  # Bob's SPEAKING
        await patch_member(api, room, bob.joined.user_id, channel_id=str(room.other_channel_id))
        assert await alice.ws.expect(13) == {"user_id": str(bob.joined.user_id)}
        assert await carl.ws.expect(11) == {"user_ids": [str(bob.joined.user_id)]}
        assert await carl.ws.expect(5) == {
            "user_id": str(bob.joined.user_id),
            "ssrc": bob.ssrc,
            "speaking": 1,
        }
        await bob.say(b"moved")
        assert await carl.udp.receive() == (bob.ssrc, b"moved")
        assert await alice.udp.nothing_within(QUIET_S)
        await alice.say(b"left behind")
        assert await bob.udp.nothing_within(QUIET_S)


async def test_a_disconnect_closes_4014_and_a_deleted_channel_4022(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with (
        calling(gateway, voice, room.room.owner, room, AES) as alice,
        calling(gateway, voice, room.room.member, room, XCHACHA) as bob,
    ):
        await patch_member(api, room, bob.joined.user_id, channel_id=None)
        assert await bob.ws.closed_with() == 4014
        assert await alice.ws.expect(11) == {"user_ids": [str(bob.joined.user_id)]}
        assert await alice.ws.expect(5) == {
            "user_id": str(bob.joined.user_id),
            "ssrc": bob.ssrc,
            "speaking": 1,
        }
        assert await alice.ws.expect(13) == {"user_id": str(bob.joined.user_id)}
        await bob.say(b"gone")
        assert await alice.udp.nothing_within(QUIET_S)
        deleted = await api.http.delete(
            f"/api/v10/channels/{room.channel_id}", headers=room.room.owner.auth
        )
        assert deleted.status_code == 200, deleted.text
        assert await alice.ws.closed_with() == 4022
        assert voice.calls.sessions == []
