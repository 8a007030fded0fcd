"""discord.py 2.7 (`discord.py[voice]`), unmodified, in voice: it joins with `channel.connect()`
over the TLS voice gateway in XChaCha mode, follows the server's mute and deafen, moves when
moved, and lets go when disconnected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.api.rooms import new_room
from tests.compat.voice.guild import moderate, new_voice_channel, voice_channel, voice_state
from tests.compat.voice.py_bot import discord_py_voice
from tests.gateway.test_dispatch import add_bot

if TYPE_CHECKING:
    from tests.compat.voice.certificate import Certificate
    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer

XCHACHA = "aead_xchacha20_poly1305_rtpsize"


async def test_discord_py_joins_with_channel_connect_in_xchacha_mode(
    api: ApiClient, gateway: str, voice: VoiceServer, certificate: Certificate
) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    channel_id = await voice_channel(api, room)
    api_url = str(api.http.base_url)
    async with discord_py_voice(api_url, gateway, token, certificate) as (thread, bot):
        client = await thread.run(bot.join(int(room.guild_id), int(channel_id)))
        assert client.is_connected()
        assert client.mode == XCHACHA
        assert len(client.secret_key) == 32
        assert 0 < client.ssrc < 2**32
        assert client.channel.id == int(channel_id)
        state = await voice_state(api, room, bot_id)
        assert state is not None
        assert (state["channel_id"], state["session_id"]) == (channel_id, client.session_id)

        await thread.run(client.disconnect())
        assert not client.is_connected()
        assert await voice_state(api, room, bot_id) is None


async def test_discord_py_follows_server_mute_deafen_move_and_disconnect(
    api: ApiClient, gateway: str, voice: VoiceServer, certificate: Certificate
) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    channel_id = await voice_channel(api, room)
    side_id = await new_voice_channel(api, room, "Side")
    api_url = str(api.http.base_url)
    async with discord_py_voice(api_url, gateway, token, certificate) as (thread, bot):
        client = await thread.run(bot.join(int(room.guild_id), int(channel_id)))

        for changes, seen in (
            ({"mute": True}, (True, False)),
            ({"deaf": True}, (True, True)),
            ({"mute": False}, (False, True)),
            ({"deaf": False}, (False, False)),
        ):
            await moderate(api, room, bot_id, **changes)
            state = await thread.run(bot.next_state())
            assert (state.mute, state.deaf) == seen, changes

        # Moved: a fresh VOICE_SERVER_UPDATE, and discord.py reconnects by itself.
        first_key = bytes(client.secret_key)
        await thread.run(bot.settle())  # see WatchedVoiceClient.settle_reader
        await moderate(api, room, bot_id, channel_id=side_id)
        await thread.run(bot.reconnected(int(side_id)))
        assert client.is_connected()
        assert client.mode == XCHACHA
        assert bytes(client.secret_key) != first_key
        moved = await voice_state(api, room, bot_id)
        assert moved is not None
        assert moved["channel_id"] == side_id

        # Disconnected: VOICE_STATE_UPDATE with no channel, and discord.py lets go.
        await moderate(api, room, bot_id, channel_id=None)
        await thread.run(bot.ended())
        assert not client.is_connected()
        assert await voice_state(api, room, bot_id) is None
