"""Server mute, deafen, move and disconnect (PATCH /guilds/{g}/members/{u}) as the libraries
live them: each takes effect before the next packet is forwarded, and each library does what
it does on Discord (discord.py reconnects when moved; both let go when disconnected, 4014).

How absence is shown: the speaker sends a batch while the change holds, then, the change
undone, a second batch. The listener's socket never changed, and loopback and the SFU keep
order, so had any of the first batch been forwarded it would be heard before the second."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.compat.voice.guild import moderate, voice_state
from tests.compat.voice.media import opus_frames
from tests.compat.voice.pair import voice_pair

if TYPE_CHECKING:
    from tests.compat.voice.certificate import Certificate
    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer

BATCH = 10


async def test_a_server_muted_speaker_reaches_no_one_until_unmuted(
    api: ApiClient, gateway: str, voice: VoiceServer, certificate: Certificate
) -> None:
    async with voice_pair(api, gateway, certificate) as pair:
        before, muted, after = (opus_frames(BATCH, tag) for tag in ("before", "muted", "after"))
        await pair.thread.run(pair.py.send(before))
        assert await pair.js.frames(pair.py_id, BATCH) == before

        await moderate(api, pair.room, pair.py_id, mute=True)
        assert (await pair.thread.run(pair.py.next_state())).mute
        await pair.thread.run(pair.py.send(muted))
        await moderate(api, pair.room, pair.py_id, mute=False)
        assert not (await pair.thread.run(pair.py.next_state())).mute
        await pair.thread.run(pair.py.send(after))
        assert await pair.js.frames(pair.py_id, BATCH) == after


async def test_a_server_deafened_listener_hears_nothing_until_undeafened(
    api: ApiClient, gateway: str, voice: VoiceServer, certificate: Certificate
) -> None:
    async with voice_pair(api, gateway, certificate) as pair:
        deafened, after = opus_frames(BATCH, "deafened"), opus_frames(BATCH, "after")
        await moderate(api, pair.room, pair.js_id, deaf=True)
        await pair.thread.run(pair.py.send(deafened))
        await moderate(api, pair.room, pair.js_id, deaf=False)
        await pair.thread.run(pair.py.send(after))
        assert await pair.js.frames(pair.py_id, BATCH) == after
        state = await voice_state(api, pair.room, pair.js_id)
        assert state is not None
        assert (state["deaf"], state["channel_id"]) == (False, pair.channel_id)


async def test_a_moved_speaker_is_heard_in_its_new_channel_only(
    api: ApiClient, gateway: str, voice: VoiceServer, certificate: Certificate
) -> None:
    async with voice_pair(api, gateway, certificate) as pair:
        away, back = opus_frames(BATCH, "away"), opus_frames(BATCH, "back")
        await pair.thread.run(pair.py.settle())
        await moderate(api, pair.room, pair.py_id, channel_id=pair.side_id)
        await pair.thread.run(pair.py.reconnected(int(pair.side_id)))
        await pair.js.ssrc_gone(pair.py_id)  # op 13 told the channel it left
        await pair.thread.run(pair.py.send(away))

        await pair.thread.run(pair.py.settle())
        await moderate(api, pair.room, pair.py_id, channel_id=pair.channel_id)
        await pair.thread.run(pair.py.reconnected(int(pair.channel_id)))
        assert await pair.js.ssrc(pair.py_id) == pair.py_voice.ssrc
        await pair.thread.run(pair.py.send(back))
        assert await pair.js.frames(pair.py_id, BATCH) == back


async def test_disconnected_members_are_let_go_by_both_libraries(
    api: ApiClient, gateway: str, voice: VoiceServer, certificate: Certificate
) -> None:
    async with voice_pair(api, gateway, certificate) as pair:
        await moderate(api, pair.room, pair.js_id, channel_id=None)
        left = await pair.js.status("disconnected")
        assert left["close_code"] == 4014
        assert await voice_state(api, pair.room, pair.js_id) is None

        await moderate(api, pair.room, pair.py_id, channel_id=None)
        assert (await pair.thread.run(pair.py.next_state())).channel is None
        await pair.thread.run(pair.py.ended())
        assert not pair.py_voice.is_connected()
        assert await voice_state(api, pair.room, pair.py_id) is None
