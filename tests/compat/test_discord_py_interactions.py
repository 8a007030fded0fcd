"""discord.py 2.7, unmodified: a `commands.Bot` whose app commands a person invokes as
Discord's client does (`POST /interactions`, their own gateway session). `/ping` answers
ephemerally; `/slow` defers, follows up and edits its answer; `/vote` shows a button whose
callback edits the message; `/form` opens a modal that is submitted and read; `/fruit`
autocompletes. (About 3 s: one bot start and a dozen round trips through it.)"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from tests.api.rooms import new_room
from tests.compat.library import run_discord_py
from tests.gateway.test_dispatch import add_bot

if TYPE_CHECKING:
    from tests.api.rooms import Room
    from tests.running import ApiClient

WAIT_S = 10


class _Vote(discord.ui.View):
    @discord.ui.button(label="Yes", custom_id="yes")
    async def yes(self, interaction: discord.Interaction, _button: discord.ui.Button[Any]) -> None:
        await interaction.response.edit_message(content="clicked", view=None)


class _Form(discord.ui.Modal, title="Tell us"):
    text: discord.ui.TextInput[Any] = discord.ui.TextInput(label="What?", custom_id="text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"got {self.text.value}", ephemeral=True)


class _Bot(commands.Bot):
    def __init__(self, guild_id: int) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default())
        self.guild = discord.Object(id=guild_id)
        self.edited = asyncio.Event()

        @app_commands.command(description="Answers pong")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True)

        @app_commands.command(description="Thinks first")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer()
            await interaction.followup.send("later")
            await interaction.edit_original_response(content="edited")

        @app_commands.command(description="Shows a button")
        async def vote(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("vote", view=_Vote())

        @app_commands.command(description="Asks")
        async def form(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(_Form())

        @app_commands.command(description="Picks a fruit")
        async def fruit(interaction: discord.Interaction, name: str) -> None:
            await interaction.response.send_message(name)

        @fruit.autocomplete("name")
        async def fruit_names(
            _interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            names = ("apple", "apricot", "banana")
            return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

        commands_: list[app_commands.Command[Any, Any, None]] = [ping, slow, vote, form, fruit]
        for command in commands_:
            self.tree.add_command(command, guild=self.guild)

    async def setup_hook(self) -> None:
        await self.tree.sync(guild=self.guild)


class _Person:
    """A person using Discord's client: their gateway session and their HTTP calls."""

    def __init__(self, http: aiohttp.ClientSession, api_url: str, room: Room, bot_id: str) -> None:
        self.http = http
        self.api_url = api_url
        self.room = room
        self.bot_id = bot_id
        self.socket: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self, gateway_url: str) -> None:
        self.socket = await self.http.ws_connect(f"{gateway_url}/?v=10&encoding=json")
        await self.socket.receive_json()  # HELLO
        identify = {"token": self.room.member.token, "intents": 513, "properties": {}}
        await self.socket.send_json({"op": 2, "d": identify})
        await self.next_named("GUILD_CREATE")

    async def next_named(self, name: str) -> dict[str, Any]:
        assert self.socket is not None
        while True:
            payload = await asyncio.wait_for(self.socket.receive_json(), WAIT_S)
            assert payload.get("t") != "INTERACTION_FAILURE", payload
            if payload.get("t") == name:
                found: dict[str, Any] = payload["d"]
                return found

    async def interact(self, body: dict[str, Any]) -> None:
        body = {
            "application_id": self.bot_id,
            "guild_id": self.room.guild_id,
            "channel_id": self.room.channel_id,
            "session_id": "client",
            "nonce": str(secrets.randbelow(10**18)),
        } | body
        async with self.http.post(
            f"{self.api_url}/api/v10/interactions",
            headers={"Authorization": self.room.member.token},
            json=body,
        ) as response:
            assert response.status == 204, await response.text()

    async def run(self, command: dict[str, Any], type: int = 2, **data: Any) -> None:
        fields = {k: command[k] for k in ("id", "name", "type", "version")}
        await self.interact({"type": type, "data": fields | {"options": []} | data})


async def _session(
    api_url: str, gateway_url: str, token: str, room: Room, bot_id: str
) -> dict[str, Any]:
    bot = _Bot(int(room.guild_id))
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    bot.add_listener(on_ready)
    seen: dict[str, Any] = {}
    running = asyncio.create_task(bot.start(token))
    async with aiohttp.ClientSession() as http:
        person = _Person(http, api_url, room, bot_id)
        try:
            await asyncio.wait_for(ready.wait(), WAIT_S)
            await person.connect(gateway_url)
            async with http.get(
                f"{api_url}/api/v10/applications/{bot_id}/guilds/{room.guild_id}/commands",
                headers={"Authorization": f"Bot {token}"},
            ) as response:
                by_name = {c["name"]: c for c in await response.json()}

            await person.run(by_name["ping"])
            seen["ping"] = await person.next_named("MESSAGE_CREATE")

            await person.run(by_name["slow"])
            seen["slow_thinking"] = await person.next_named("MESSAGE_CREATE")
            seen["slow_followed"] = await person.next_named("MESSAGE_UPDATE")
            seen["slow_edited"] = await person.next_named("MESSAGE_UPDATE")

            await person.run(by_name["vote"])
            vote = seen["vote"] = await person.next_named("MESSAGE_CREATE")
            button = vote["components"][0]["components"][0]
            await person.interact(
                {
                    "type": 3,
                    "message_id": vote["id"],
                    "data": {"component_type": 2, "custom_id": button["custom_id"]},
                }
            )
            seen["clicked"] = await person.next_named("MESSAGE_UPDATE")

            await person.run(by_name["form"])
            modal = seen["modal"] = await person.next_named("INTERACTION_MODAL_CREATE")
            text_input = modal["components"][0]["components"][0]
            await person.interact(
                {
                    "type": 5,
                    "data": {
                        "id": modal["id"],
                        "custom_id": modal["custom_id"],
                        "components": [
                            {
                                "type": 1,
                                "components": [
                                    {"type": 4, "custom_id": text_input["custom_id"], "value": "hi"}
                                ],
                            }
                        ],
                    },
                }
            )
            seen["submitted"] = await person.next_named("MESSAGE_CREATE")

            focused = {"type": 3, "name": "name", "value": "ap", "focused": True}
            await person.run(by_name["fruit"], type=4, options=[focused])
            seen["choices"] = await person.next_named("APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE")
        finally:
            if person.socket is not None:
                await person.socket.close()
            await bot.close()
            await asyncio.gather(running, return_exceptions=True)
    return seen


async def test_discord_py_answers_commands_components_modals_and_autocomplete(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    original = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{gateway}/")
    try:
        api_url = str(api.http.base_url).rstrip("/")
        seen = await run_discord_py(api, lambda: _session(api_url, gateway, token, room, bot_id))
    finally:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = original

    assert (seen["ping"]["content"], seen["ping"]["flags"]) == ("pong", 64)
    assert seen["ping"]["interaction_metadata"]["name"] == "ping"
    assert seen["slow_thinking"]["flags"] & 128
    assert (seen["slow_followed"]["id"], seen["slow_followed"]["content"]) == (
        seen["slow_thinking"]["id"],
        "later",
    )
    assert seen["slow_edited"]["content"] == "edited"
    assert seen["vote"]["content"] == "vote"
    assert (seen["clicked"]["id"], seen["clicked"]["content"]) == (seen["vote"]["id"], "clicked")
    assert seen["clicked"]["components"] == []
    assert seen["modal"]["title"] == "Tell us"
    assert (seen["submitted"]["content"], seen["submitted"]["flags"]) == ("got hi", 64)
    assert seen["choices"]["choices"] == [
        {"name": "apple", "value": "apple"},
        {"name": "apricot", "value": "apricot"},
    ]
