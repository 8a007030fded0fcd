"""discord.js 14 (pinned in tests/compat/js), unmodified: a bot logs in through the gateway,
works with messages the way discord.js sends them, syncs its commands, answers a person's
commands and button, and makes a webhook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.api.rooms import grant, new_room
from tests.compat.node import discord_js
from tests.compat.person import click, invoke
from tests.gateway.client import connect
from tests.gateway.test_dispatch import add_bot, ready

if TYPE_CHECKING:
    from tests.running import ApiClient

EPHEMERAL = 1 << 6
LOADING = 1 << 7
MANAGE_WEBHOOKS = 1 << 29


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


async def test_discord_js_syncs_commands_keeping_ids_and_bumping_changed_versions(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    _, token = await add_bot(api, room)
    api_url = str(api.http.base_url)
    async with discord_js(api_url, token, "commands", guild_id=room.guild_id) as bot:
        seen = await bot.report()
    assert isinstance(seen, dict)
    first, second = {c["name"]: c for c in seen["first"]}, {c["name"]: c for c in seen["second"]}
    assert sorted(first) == sorted(second) == ["echo", "ping"]
    assert all(first[name]["id"] == second[name]["id"] for name in first)  # kept by name
    assert first["ping"]["version"] != second["ping"]["version"]  # its description changed
    assert first["echo"]["version"] == second["echo"]["version"]  # untouched
    assert [c["name"] for c in seen["guild"]] == ["local"]
    assert seen["fetched"] == seen["second"]


async def test_discord_js_makes_a_webhook_that_posts_under_its_own_name(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    await grant(api, room, bot_id, MANAGE_WEBHOOKS)
    api_url = str(api.http.base_url)
    async with connect(gateway) as member:
        await ready(member, room.member)
        async with discord_js(api_url, token, "webhooks", channel_id=room.channel_id) as bot:
            seen = await bot.report()
        assert isinstance(seen, dict)
        created = await member.next_named("MESSAGE_CREATE")
    assert seen["has_token"]
    assert seen["author"] == "Town Crier"
    assert seen["message_webhook_id"] == seen["webhook_id"]
    assert seen["edited"] == "via the webhook, edited"
    assert (created["id"], created["webhook_id"]) == (seen["message_id"], seen["webhook_id"])
    assert created["author"]["username"] == "Town Crier"


async def test_discord_js_answers_a_persons_commands_and_button(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    api_url = str(api.http.base_url)
    async with (
        connect(gateway) as person,
        connect(gateway) as onlooker,
        discord_js(api_url, token, "interactions") as bot,
    ):
        await ready(person, room.member)
        await ready(onlooker, room.owner)
        ready_report = await bot.report()
        assert isinstance(ready_report, dict)
        commands = ready_report["ready"]

        async def run(name: str) -> str:
            command = {"name": name, **commands[name]}
            nonce = await invoke(
                api,
                room.member,
                session_id=person.session_id,
                application_id=bot_id,
                command=command,
                guild_id=room.guild_id,
                channel_id=room.channel_id,
            )
            assert (await person.next_named("INTERACTION_CREATE"))["nonce"] == nonce
            return nonce

        # An ephemeral reply reaches the person alone, marked ephemeral.
        nonce = await run("ping")
        pong = await person.next_named("MESSAGE_CREATE")
        assert (pong["content"], pong["flags"] & EPHEMERAL) == ("pong", EPHEMERAL)
        assert pong["interaction_metadata"]["user"]["id"] == str(room.member.id)
        assert (await person.next_named("INTERACTION_SUCCESS"))["nonce"] == nonce
        assert await bot.report() == {"handled": "ping", "user": str(room.member.id)}

        # Deferred, edited, followed up: all in the channel for everyone.
        await run("slow")
        thinking = await person.next_named("MESSAGE_CREATE")
        assert thinking["flags"] & LOADING
        done = await person.next_named("MESSAGE_UPDATE")
        assert (done["id"], done["content"]) == (thinking["id"], "done thinking")
        assert (await person.next_named("MESSAGE_CREATE"))["content"] == "and one more thing"
        assert (await bot.report())["handled"] == "slow"  # type: ignore[index]

        # A button on the bot's reply, pressed: the click's update edits that message.
        await run("buttons")
        offered = await person.next_named("MESSAGE_CREATE")
        assert offered["components"][0]["components"][0]["custom_id"] == "press"
        assert (await bot.report())["handled"] == "buttons"  # type: ignore[index]
        await click(
            api, room.member, session_id=person.session_id, message=offered, custom_id="press"
        )
        pressed = await person.next_named("MESSAGE_UPDATE")
        assert (pressed["id"], pressed["content"]) == (offered["id"], "pressed press")
        assert (await bot.report())["handled"] == "press"  # type: ignore[index]

        # The onlooker saw the channel's messages but never the ephemeral one.
        seen_by_onlooker: list[str] = []
        while len(seen_by_onlooker) < 3:  # thinking, the follow-up, the button's message
            seen_by_onlooker.append((await onlooker.next_named("MESSAGE_CREATE"))["content"])
        assert "pong" not in seen_by_onlooker
        await bot.tell({"done": True})
