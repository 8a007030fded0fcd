"""A discord.py bot and a discord.js bot in one voice channel of a fresh room: the two ends the
audio tests send between. discord.js joins first and listens for the discord.py bot, so op 5
tells it the discord.py bot's SSRC before its first packet; then discord.py joins."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.api.rooms import new_room
from tests.compat.node import discord_js
from tests.compat.voice.guild import new_voice_channel, voice_channel
from tests.compat.voice.js_bot import JsVoiceBot
from tests.compat.voice.py_bot import discord_py_voice
from tests.gateway.test_dispatch import add_bot

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.api.rooms import Room
    from tests.compat.asyncio_thread import AsyncioThread
    from tests.compat.voice.certificate import Certificate
    from tests.compat.voice.py_bot import VoiceBot, WatchedVoiceClient
    from tests.running import ApiClient


@dataclass
class Pair:
    room: Room
    channel_id: str  # where both are
    side_id: str  # another voice channel, empty
    thread: AsyncioThread  # where the discord.py bot's steps run
    py: VoiceBot
    py_id: str
    py_voice: WatchedVoiceClient
    js: JsVoiceBot
    js_id: str
    js_joined: dict[str, Any]  # what discord.js reported once Ready


@asynccontextmanager
async def voice_pair(api: ApiClient, gateway: str, certificate: Certificate) -> AsyncIterator[Pair]:
    room = await new_room(api)
    py_id, py_token = await add_bot(api, room)
    js_id, js_token = await add_bot(api, room)
    channel_id = await voice_channel(api, room)
    side_id = await new_voice_channel(api, room, "Side")
    api_url = str(api.http.base_url)
    async with (
        discord_js(api_url, js_token, "voice", guild_id=room.guild_id) as node,
        discord_py_voice(api_url, gateway, py_token, certificate) as (thread, py),
    ):
        js = JsVoiceBot(node)
        js_joined = await js.join(channel_id)
        await js.listen(py_id)
        await js.listen(js_id)  # itself: a sender must never hear itself
        py_voice = await thread.run(py.join(int(room.guild_id), int(channel_id)))
        # discord.py announces its SSRC with op 5 right after SESSION_DESCRIPTION; relayed,
        # it lets discord.js map the packets that follow. None of them is sent yet.
        assert await js.ssrc(py_id) == py_voice.ssrc
        yield Pair(room, channel_id, side_id, thread, py, py_id, py_voice, js, js_id, js_joined)
        await js.done()
