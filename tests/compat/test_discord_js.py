"""discord.js 14 (pinned in tests/compat/js), unmodified: a bot logs in through the gateway
and works with messages the way discord.js sends them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.api.rooms import new_room
from tests.compat.node import discord_js
from tests.gateway.test_dispatch import add_bot

if TYPE_CHECKING:
    from tests.running import ApiClient


async def test_discord_js_sends_edits_fetches_and_deletes(api: ApiClient, gateway: str) -> None:
    room = await new_room(api)
    _, token = await add_bot(api, room)
    api_url = str(api.http.base_url)
    async with discord_js(api_url, token, "messages", channel_id=room.channel_id) as bot:
        seen = await bot.report()
    assert isinstance(seen, dict)
    assert seen["edited"] == "hello, edited by discord.js"
    assert seen["fetched"] == "hello, edited by discord.js"
    assert await api.count(f"messages WHERE id = {int(seen['sent'])}") == 0
