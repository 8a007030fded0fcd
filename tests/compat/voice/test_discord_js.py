"""discord.js 14 with @discordjs/voice 0.19, unmodified: it joins through
`guild.voiceAdapterCreator` and reaches Ready in AES-GCM mode, trusting the test's certificate
through NODE_EXTRA_CA_CERTS; when its voice socket is aborted under it, it resumes (same SSRC,
key and UDP path) and audio carries on both ways."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.api.rooms import new_room
from tests.compat.node import discord_js
from tests.compat.voice.cut import cut_server_socket
from tests.compat.voice.guild import voice_channel, voice_state
from tests.compat.voice.js_bot import JsVoiceBot
from tests.compat.voice.media import opus_frames
from tests.compat.voice.pair import voice_pair
from tests.gateway.test_dispatch import add_bot

if TYPE_CHECKING:
    from tests.compat.voice.certificate import Certificate
    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer

AES_GCM = "aead_aes256_gcm_rtpsize"


async def test_discord_js_joins_through_the_voice_adapter_and_is_ready_in_aes_gcm_mode(
    api: ApiClient, gateway: str, voice: VoiceServer, certificate: Certificate
) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    channel_id = await voice_channel(api, room)
    async with discord_js(str(api.http.base_url), token, "voice", guild_id=room.guild_id) as node:
        js = JsVoiceBot(node)
        joined = await js.join(channel_id)
        assert (joined["status"], joined["channel_id"], joined["mode"]) == (
            "ready",
            channel_id,
            AES_GCM,
        )
        assert 0 < joined["ssrc"] < 2**32
        state = await voice_state(api, room, bot_id)
        assert state is not None
        assert (state["channel_id"], state["self_deaf"]) == (channel_id, False)
        await js.done()


async def test_discord_js_resumes_after_its_voice_socket_is_aborted_and_audio_continues(
    api: ApiClient, gateway: str, voice: VoiceServer, certificate: Certificate
) -> None:
    async with voice_pair(api, gateway, certificate) as pair:
        await pair.thread.run(pair.py.listen())
        before = opus_frames(25, "before the cut")
        await pair.thread.run(pair.py.play(before))
        assert await pair.js.frames(pair.py_id, 25) == before

        server_port = int(voice.endpoint.rpartition(":")[2])
        cut_server_socket(server_port, pair.js_joined["ws_port"])
        resumed = await pair.js.resumed()
        assert resumed["status"] == "ready"
        assert resumed["ws_port"] != pair.js_joined["ws_port"]  # a new socket...
        assert (resumed["ssrc"], resumed["mode"]) == (
            pair.js_joined["ssrc"],
            AES_GCM,
        )  # ...same session

        heard_by_js = opus_frames(25, "to discord.js")
        await pair.thread.run(pair.py.play(heard_by_js))
        assert await pair.js.frames(pair.py_id, 25) == heard_by_js

        heard_by_py = opus_frames(25, "to discord.py")
        await pair.js.play(heard_by_py)
        heard = await pair.thread.run(pair.py_voice.hear(25))
        assert [packet.opus for packet in heard] == heard_by_py
        assert {packet.ssrc for packet in heard} == {pair.js_joined["ssrc"]}
