"""What one voice connection tells the others of its call: CLIENTS_CONNECT both ways on a
join, SPEAKING relayed with user_id and SSRC (and each speaker's last one to a newcomer before
its key), CLIENT_DISCONNECT on a leave, all numbered in order; and a bad frame from one
connection that ends it alone. (The first takes over a second: three people join through the
main gateway and the voice gateway, one by one.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.voice.callers import connected
from tests.voice.client import AES, connect_voice, open_udp
from tests.voice.conftest import in_voice, new_voice_room, newcomer

if TYPE_CHECKING:
    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer


async def test_joins_speaking_and_leaves_reach_the_others_of_the_call_in_order(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    carol = await newcomer(api, room)
    g, c = room.guild_id, room.channel_id
    async with (
        in_voice(gateway, room.room.owner, g, c) as (alice, _),
        in_voice(gateway, room.room.member, g, c) as (bob, _),
        in_voice(gateway, carol, g, c) as (carl, _),
        connect_voice(voice.endpoint, voice.cert_path) as a,
        connect_voice(voice.endpoint, voice.cert_path) as b,
        connect_voice(voice.endpoint, voice.cert_path) as cc,
        open_udp(voice.endpoint) as udp,
    ):
        a_ready = await a.identify(alice)
        b_ready = await b.identify(bob)
        # The newcomer hears who is there; those there hear of the newcomer.
        assert await b.expect(11) == {"user_ids": [str(alice.user_id)]}
        assert await a.expect(11) == {"user_ids": [str(bob.user_id)]}
        await a.speak(a_ready["ssrc"], 1)
        assert await b.expect(5) == {
            "user_id": str(alice.user_id),
            "ssrc": a_ready["ssrc"],
            "speaking": 1,
        }
        # A third: READY, who is there, then Alice's SPEAKING, all before its key.
        c_ready = await cc.identify(carl)
        assert c_ready["ssrc"] not in (a_ready["ssrc"], b_ready["ssrc"])
        assert await cc.expect(11) == {"user_ids": [str(alice.user_id), str(bob.user_id)]}
        assert await cc.expect(5) == {
            "user_id": str(alice.user_id),
            "ssrc": a_ready["ssrc"],
            "speaking": 1,
        }
        await cc.select(c_ready, udp, AES)
        assert cc.skipped == []  # nothing else came before SESSION_DESCRIPTION
        assert await a.expect(11) == {"user_ids": [str(carl.user_id)]}
        assert await b.expect(11) == {"user_ids": [str(carl.user_id)]}
        # A speaker never hears its own SPEAKING; a clean close is a leave.
        await b.close(1000)
        assert await b.closed_with() == 1000
        assert await a.expect(13) == {"user_id": str(bob.user_id)}
        assert await cc.expect(13) == {"user_id": str(bob.user_id)}
        assert (a.seq, cc.seq) == (4, 5)  # numbered one by one, nothing skipped
        assert {s.user_id for s in voice.calls.members(c)} == {alice.user_id, carl.user_id}


async def test_a_malformed_frame_ends_its_own_connection_alone(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    g, c = room.guild_id, room.channel_id
    async with (
        in_voice(gateway, room.room.owner, g, c) as (alice, _),
        in_voice(gateway, room.room.member, g, c) as (bob, _),
        connect_voice(voice.endpoint, voice.cert_path) as a,
        connect_voice(voice.endpoint, voice.cert_path) as b,
    ):
        a_ready = await a.identify(alice)
        await b.identify(bob)
        await a.expect(11)
        await b.send_text('{"op": 5, "d": ')  # cut short
        assert await b.closed_with() == 4002
        assert await a.expect(13) == {"user_id": str(bob.user_id)}
        await a.heartbeat(42)
        assert await a.receive() == {"op": 6, "d": {"t": 42}}
        (session,) = voice.calls.sessions
        assert (session.user_id, session.ssrc) == (alice.user_id, a_ready["ssrc"])


async def test_identifying_again_replaces_the_users_earlier_connection(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with (
        connected(gateway, voice, room.room.member, room) as (joined, first),
        connect_voice(voice.endpoint, voice.cert_path) as second,
    ):
        old = await first.identify(joined)
        new = await second.identify(joined)
        assert await first.closed_with() == 4006
        assert old["ssrc"] != new["ssrc"]
        assert [s.ssrc for s in voice.calls.sessions] == [new["ssrc"]]
