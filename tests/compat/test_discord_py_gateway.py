"""discord.py 2.7, unmodified, running a bot on the gateway: ready with its guilds, a person's
message in, a reply out (which the person's own session receives), and a resume after its
socket is cut. Route.BASE and DiscordWebSocket.DEFAULT_GATEWAY point at the servers under
test; discord.py asks for zlib-stream (zstandard is not installed)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl

from tests.api.rooms import new_room
from tests.compat.library import run_discord_py
from tests.gateway.test_dispatch import add_bot

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from tests.api.rooms import Room
    from tests.running import ApiClient

WAIT_S = 10


@dataclass(frozen=True)
class Seen:
    guild_names: list[str]
    heard: str
    person_saw_reply: str
    resumed: bool
    heard_after_resume: str


async def _person_session(url: str, token: str) -> aiohttp.ClientWebSocketResponse:
    """The person's own gateway session (plain JSON), identified and past its GUILD_CREATE."""
    http = aiohttp.ClientSession()
    socket = await http.ws_connect(f"{url}/?v=10&encoding=json")
    socket._trioxide_http = http  # type: ignore[attr-defined]  # closed with the socket
    await socket.receive_json()  # HELLO
    await socket.send_json({"op": 2, "d": {"token": token, "intents": 513, "properties": {}}})
    while (await socket.receive_json())["t"] != "GUILD_CREATE":
        pass
    return socket


async def _bot(api_url: str, gateway_url: str, token: str, room: Room) -> Seen:
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents)
    ready, resumed = asyncio.Event(), asyncio.Event()
    heard: asyncio.Queue[discord.Message] = asyncio.Queue()
    client.event(_set_on("on_ready", ready))
    client.event(_set_on("on_resumed", resumed))

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author.id != client.user.id:  # type: ignore[union-attr]
            heard.put_nowait(message)

    person = await _person_session(gateway_url, room.member.token)
    running = asyncio.create_task(client.start(token))
    try:
        await asyncio.wait_for(ready.wait(), WAIT_S)
        guild_names = [guild.name for guild in client.guilds]
        async with aiohttp.ClientSession() as http:

            async def post(content: str) -> None:
                async with http.post(
                    f"{api_url}/api/v10/channels/{room.channel_id}/messages",
                    headers={"Authorization": f"Bearer {room.member.token}"},
                    json={"content": content},
                ) as response:
                    assert response.status == 200, await response.text()

            await post("ping")
            message = await asyncio.wait_for(heard.get(), WAIT_S)
            reply = await message.reply("pong")
            while True:
                event = await asyncio.wait_for(person.receive_json(), WAIT_S)
                if event["t"] == "MESSAGE_CREATE" and event["d"]["id"] == str(reply.id):
                    person_saw = event["d"]["content"]
                    break
            assert client.ws is not None
            await client.ws.close(4000)  # cut the socket: discord.py reconnects and resumes
            await asyncio.wait_for(resumed.wait(), WAIT_S)
            await post("still there?")
            after = await asyncio.wait_for(heard.get(), WAIT_S)
        return Seen(guild_names, message.content, person_saw, resumed.is_set(), after.content)
    finally:
        await client.close()
        running.cancel()
        await person.close()
        await person._trioxide_http.close()  # type: ignore[attr-defined]


def _set_on(name: str, event: asyncio.Event) -> Callable[[], Coroutine[Any, Any, None]]:
    async def handler() -> None:
        event.set()

    handler.__name__ = name
    return handler


async def test_discord_py_runs_a_bot_on_the_gateway(api: ApiClient, gateway: str) -> None:
    room = await new_room(api)
    _, token = await add_bot(api, room)
    original = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{gateway}/")
    try:
        api_url = str(api.http.base_url).rstrip("/")
        seen = await run_discord_py(api, lambda: _bot(api_url, gateway, token, room))
    finally:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = original
    assert seen == Seen(
        ["Test Guild"], "ping", "pong", resumed=True, heard_after_resume="still there?"
    )
