"""discord.py and discord.js, unmodified, in one voice channel: audio between them through the
SFU arrives byte-exact and in order, each sender mapped by op 5, each listener opening it with
its own key and mode (discord.py XChaCha, discord.js AES-GCM), no sender hearing itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.compat.voice.media import opus_frames
from tests.compat.voice.pair import voice_pair

if TYPE_CHECKING:
    from tests.compat.voice.certificate import Certificate
    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer

AES_GCM = "aead_aes256_gcm_rtpsize"
XCHACHA = "aead_xchacha20_poly1305_rtpsize"


async def test_discord_py_plays_frames_the_discord_js_receiver_gets_byte_exact_in_order(
    api: ApiClient, gateway: str, voice: VoiceServer, certificate: Certificate
) -> None:
    async with voice_pair(api, gateway, certificate) as pair:
        assert (pair.py_voice.mode, pair.js_joined["mode"]) == (XCHACHA, AES_GCM)
        frames = opus_frames(250, "discord.py")
        await pair.thread.run(pair.py.play(frames))
        assert await pair.js.frames(pair.py_id, 250) == frames
        assert await pair.js.ssrc(pair.py_id) == pair.py_voice.ssrc


async def test_discord_js_reaches_discord_py_and_no_sender_hears_itself(
    api: ApiClient, gateway: str, voice: VoiceServer, certificate: Certificate
) -> None:
    async with voice_pair(api, gateway, certificate) as pair:
        await pair.thread.run(pair.py.listen())
        frames = opus_frames(50, "discord.js")
        await pair.js.play(frames)
        heard = await pair.thread.run(pair.py_voice.hear(50))
        assert [packet.opus for packet in heard] == frames  # opened with discord.py's key
        assert {packet.ssrc for packet in heard} == {pair.js_joined["ssrc"]}

        # discord.py speaks after; once discord.js has all of that, any echo of either
        # stream to its own sender would have arrived long before.
        answer = opus_frames(50, "discord.py")
        await pair.thread.run(pair.py.play(answer))
        assert await pair.js.frames(pair.py_id, 50) == answer
        assert await pair.js.unheard(pair.js_id) == []
        unread = await pair.thread.run(pair.py_voice.unread())
        assert pair.py_voice.ssrc not in {packet.ssrc for packet in unread}
