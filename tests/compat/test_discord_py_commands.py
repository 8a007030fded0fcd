"""discord.py 2.7, unmodified: a `commands.Bot` with `app_commands` syncs its command tree in
`setup_hook` (global and for one guild, each one bulk PUT) and then starts on the gateway, as
most bots written today do. A second start with one command changed keeps every id and moves
only that command's version. (About 5 s: two whole bot starts, login to READY.)"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from tests.api.rooms import new_room
from tests.compat.library import run_discord_py
from tests.gateway.test_dispatch import add_bot

if TYPE_CHECKING:
    from tests.running import ApiClient

WAIT_S = 10


@dataclass(frozen=True)
class Synced:
    global_commands: dict[str, tuple[int, int]]  # name → (type, id), as sync returned them
    guild_commands: dict[str, tuple[int, int]]
    ready: bool


class _Bot(commands.Bot):
    def __init__(self, guild_id: int, echo_description: str) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default())
        self.guild = discord.Object(id=guild_id)
        self.synced: list[list[app_commands.AppCommand]] = []

        @app_commands.command(description="Answers pong")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True)

        @app_commands.command(description=echo_description)
        @app_commands.describe(text="What to say", times="How often")
        async def echo(
            interaction: discord.Interaction,
            text: str,
            times: app_commands.Range[int, 1, 5] = 1,
        ) -> None:
            await interaction.response.send_message(text * times)

        @app_commands.context_menu(name="Show Profile")
        async def profile(interaction: discord.Interaction, member: discord.Member) -> None:
            await interaction.response.send_message(member.name)

        group = app_commands.Group(name="config", description="Settings")

        @group.command(name="set", description="Sets a value")
        @app_commands.choices(key=[app_commands.Choice(name="Colour", value="colour")])
        async def set_value(interaction: discord.Interaction, key: str) -> None:
            await interaction.response.send_message(key)

        @app_commands.command(description="Guild only")
        @app_commands.default_permissions(manage_guild=True)
        async def admin(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("ok")

        self.tree.add_command(ping)
        self.tree.add_command(echo)
        self.tree.add_command(profile)
        self.tree.add_command(group)
        self.tree.add_command(admin, guild=self.guild)

    async def setup_hook(self) -> None:
        self.synced.append(await self.tree.sync())
        self.synced.append(await self.tree.sync(guild=self.guild))


async def _run(token: str, guild_id: int, echo_description: str) -> Synced:
    bot = _Bot(guild_id, echo_description)
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    bot.add_listener(on_ready)
    running = asyncio.create_task(bot.start(token))
    try:
        await asyncio.wait_for(ready.wait(), WAIT_S)
    finally:
        await bot.close()
        await asyncio.gather(running, return_exceptions=True)
    global_commands, guild_commands = bot.synced
    return Synced(
        {c.name: (c.type.value, c.id) for c in global_commands},
        {c.name: (c.type.value, c.id) for c in guild_commands},
        ready.is_set(),
    )


async def test_discord_py_syncs_its_tree_in_setup_hook_and_starts(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    guild_id = int(room.guild_id)
    auth = {"Authorization": f"Bot {token}"}
    original = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{gateway}/")
    try:
        first = await run_discord_py(api, lambda: _run(token, guild_id, "Says it back"))
        before = (
            await api.http.get(f"/api/v10/applications/{bot_id}/commands", headers=auth)
        ).json()
        second = await run_discord_py(api, lambda: _run(token, guild_id, "Repeats you"))
        after = (
            await api.http.get(f"/api/v10/applications/{bot_id}/commands", headers=auth)
        ).json()
    finally:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = original

    assert first.ready
    assert sorted(first.global_commands) == ["Show Profile", "config", "echo", "ping"]
    assert first.global_commands["Show Profile"][0] == 2
    assert sorted(first.guild_commands) == ["admin"]
    guild = (
        await api.http.get(
            f"/api/v10/applications/{bot_id}/guilds/{guild_id}/commands", headers=auth
        )
    ).json()
    assert [(c["name"], c["default_member_permissions"]) for c in guild] == [("admin", "32")]

    stored = {c["name"]: c for c in before}
    assert {name: (c["type"], int(c["id"])) for name, c in stored.items()} == first.global_commands
    echo = stored["echo"]
    assert echo["options"] == [
        {"type": 3, "name": "text", "description": "What to say", "required": True},
        {"type": 4, "name": "times", "description": "How often", "min_value": 1, "max_value": 5},
    ]
    assert stored["config"]["options"][0]["options"][0]["choices"] == [
        {"name": "Colour", "value": "colour"}
    ]

    # The second start: same ids everywhere; only the changed command has a new version.
    assert second == first
    changed = {c["name"]: c for c in after}
    assert changed["echo"]["description"] == "Repeats you"
    for name, command in stored.items():
        moved = changed[name]["version"] != command["version"]
        assert moved == (name == "echo"), name


async def _sync_refused(token: str) -> str:
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)

    @app_commands.command(description="Picks one")
    @app_commands.choices(kind=[app_commands.Choice(name="Long", value="v" * 101)])
    async def pick(interaction: discord.Interaction, kind: str) -> None:
        await interaction.response.send_message(kind)

    tree.add_command(pick)
    try:
        await client.login(token)
        await tree.sync()
    except app_commands.CommandSyncFailure as failure:
        return str(failure)
    finally:
        await client.close()
    return "synced"


async def test_discord_py_reads_a_refused_sync_as_command_sync_failure(api: ApiClient) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    message = await run_discord_py(api, lambda: _sync_refused(token))
    # discord.py walks the 50035 tree down to the command and parameter it names.
    assert message.splitlines() == [
        "Failed to upload commands to Discord (HTTP status 400, error code 50035)",
        "In command 'pick' defined in function '_sync_refused.<locals>.pick'",
        "  In parameter 'kind'",
        "    choices.0.value: Must be between 1 and 100 in length.",
    ]
    listed = await api.http.get(
        f"/api/v10/applications/{bot_id}/commands", headers={"Authorization": f"Bot {token}"}
    )
    assert listed.json() == []
