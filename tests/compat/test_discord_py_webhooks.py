"""discord.py 2.7, unmodified: a bot creates a webhook, sends through it (waiting for the
message), edits and deletes that message through the webhook, and deletes the webhook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from tests.api.rooms import grant, new_room
from tests.compat.library import run_discord_py
from tests.gateway.test_dispatch import add_bot

if TYPE_CHECKING:
    from tests.running import ApiClient

MANAGE_WEBHOOKS = 1 << 29


@dataclass(frozen=True)
class Seen:
    webhook_id: int
    token: str | None
    message_id: int
    author: tuple[str, bool, int]
    sent_webhook_id: int | None
    button_url: str | None
    fetched_content: str
    edited_content: str
    listed: list[int]
    deleted_gone: bool


async def _through_a_webhook(token: str, channel_id: int) -> Seen:
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(token)
        channel = await client.fetch_channel(channel_id)
        assert isinstance(channel, discord.TextChannel)
        webhook = await channel.create_webhook(name="Builds", reason="CI")
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label="Logs", url="https://example.test/logs"))
        sent = await webhook.send("build passed", wait=True, username="CI", view=view)
        fetched = await webhook.fetch_message(sent.id)
        edited = await sent.edit(content="build passed (edited)")
        listed = [w.id for w in await channel.webhooks()]
        await sent.delete()
        try:
            await webhook.fetch_message(sent.id)
            gone = False
        except discord.NotFound:
            gone = True
        await webhook.delete()
        first_row = sent.components[0] if sent.components else None
        button = first_row.children[0] if isinstance(first_row, discord.ActionRow) else None
        return Seen(
            webhook_id=webhook.id,
            token=webhook.token,
            message_id=sent.id,
            author=(sent.author.name, sent.author.bot, sent.author.id),
            sent_webhook_id=sent.webhook_id,
            button_url=getattr(button, "url", None),
            fetched_content=fetched.content,
            edited_content=edited.content,
            listed=listed,
            deleted_gone=gone,
        )
    finally:
        await client.close()


async def test_discord_py_creates_a_webhook_and_sends_edits_and_deletes_through_it(
    api: ApiClient,
) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    await grant(api, room, bot_id, MANAGE_WEBHOOKS)

    seen = await run_discord_py(api, lambda: _through_a_webhook(token, int(room.channel_id)))

    assert seen.token
    assert seen.author == ("CI", True, seen.webhook_id)
    assert seen.sent_webhook_id == seen.webhook_id
    assert seen.button_url == "https://example.test/logs"
    assert seen.fetched_content == "build passed"
    assert seen.edited_content == "build passed (edited)"
    assert seen.listed == [seen.webhook_id]
    assert seen.deleted_gone
    assert await api.count(f"webhooks WHERE id = {seen.webhook_id}") == 0
    assert await api.count(f"messages WHERE id = {seen.message_id}") == 0
