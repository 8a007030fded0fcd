"""Audio through the real SFU over real UDP, with client-side crypto as the libraries do it:
a channel mixing both modes, a sender that never hears itself; and what moderation through the
REST API (mute, deafen, move, disconnect, channel deletion) does to the call, through the
node's VoiceNode hooks.

These take a second or more each: two or three people join through the main gateway and key a
voice connection, and each "nothing arrives" is watched for QUIET_S.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.voice.callers import QUIET_S, calling, calling_both
from tests.voice.client import AES
from tests.voice.conftest import new_voice_room, newcomer

if TYPE_CHECKING:
    from tests.running import ApiClient
    from tests.voice.conftest import VoiceRoom, VoiceServer


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
    async with calling_both(gateway, voice, room) as (alice, bob):
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
    async with calling_both(gateway, voice, room) as (alice, bob):
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
        calling_both(gateway, voice, room) as (alice, bob),
        calling(gateway, voice, carol, room, AES, room.other_channel_id) as carl,
    ):
        await alice.hears_arrival(bob)
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
    async with calling_both(gateway, voice, room) as (alice, bob):
        await patch_member(api, room, bob.joined.user_id, channel_id=None)
        assert await bob.ws.closed_with() == 4014
        await alice.hears_arrival(bob)
        assert await alice.ws.expect(13) == {"user_id": str(bob.joined.user_id)}
        await bob.say(b"gone")
        assert await alice.udp.nothing_within(QUIET_S)
        deleted = await api.http.delete(
            f"/api/v10/channels/{room.channel_id}", headers=room.room.owner.auth
        )
        assert deleted.status_code == 200, deleted.text
        assert await alice.ws.closed_with() == 4022
        assert voice.calls.sessions == []
