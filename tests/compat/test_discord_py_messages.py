"""discord.py 2.7, unmodified, working with messages: it sends, edits, reacts to, pins, reads
the history of and deletes a message, and uploads a file, parsing every answer."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from tests.api.test_guilds import new_guild
from tests.api.test_members import general_channel
from tests.compat.library import run_discord_py

if TYPE_CHECKING:
    from tests.running import ApiClient

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@dataclass(frozen=True)
class Seen:
    sent_id: int
    edited_content: str
    reactions: list[tuple[str, int]]
    pinned_ids: list[int]
    history: list[str]
    file: tuple[str, int, str]
    deleted_gone: bool


async def _converse(token: str, channel_id: int) -> Seen:
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(token)
        channel = await client.fetch_channel(channel_id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("hello from discord.py")
        edited = await sent.edit(content="hello, edited")
        await sent.add_reaction("👍")
        await sent.pin()
        with_file = await channel.send(
            "a picture", file=discord.File(io.BytesIO(PNG), filename="cat.png")
        )
        fetched = await channel.fetch_message(sent.id)
        pins = [m async for m in channel.pins()]
        history = [m.content async for m in channel.history(limit=10)]
        attachment = with_file.attachments[0]
        await with_file.delete()
        try:
            await channel.fetch_message(with_file.id)
            gone = False
        except discord.NotFound:
            gone = True
        return Seen(
            sent_id=sent.id,
            edited_content=edited.content,
            reactions=[(str(r.emoji), r.count) for r in fetched.reactions],
            pinned_ids=[m.id for m in pins],
            history=history,
            file=(attachment.filename, attachment.size, attachment.content_type or ""),
            deleted_gone=gone,
        )
    finally:
        await client.close()


async def test_discord_py_sends_edits_reacts_pins_reads_deletes_and_uploads(api: ApiClient) -> None:
    owner = await api.register()
    guild = await new_guild(api, owner, "Chatty Guild")
    application = (
        await api.http.post("/api/v10/applications", headers=owner.auth, json={"name": "Chatter"})
    ).json()
    token = (
        await api.http.post(
            f"/api/v10/applications/{application['id']}/bot/reset", headers=owner.auth
        )
    ).json()["token"]
    await api.http.put(
        f"/api/v10/guilds/{guild['id']}/members/{application['id']}", headers=owner.auth, json={}
    )
    # The bot may pin: MANAGE_MESSAGES through a role.
    role = (
        await api.http.post(
            f"/api/v10/guilds/{guild['id']}/roles",
            headers=owner.auth,
            json={"name": "bots", "permissions": str(1 << 13)},
        )
    ).json()
    await api.http.put(
        f"/api/v10/guilds/{guild['id']}/members/{application['id']}/roles/{role['id']}",
        headers=owner.auth,
    )
    channel = await general_channel(api, owner, guild["id"])

    seen = await run_discord_py(api, lambda: _converse(token, int(str(channel["id"]))))

    assert seen.edited_content == "hello, edited"
    assert seen.reactions == [("👍", 1)]
    assert seen.pinned_ids == [seen.sent_id]
    assert seen.history == ["a picture", "hello, edited"]
    assert seen.file == ("cat.png", len(PNG), "image/png")
    assert seen.deleted_gone
    # Through the API, as a person sees it: the edit, the reaction and the pin are there.
    message = (
        await api.http.get(
            f"/api/v10/channels/{channel['id']}/messages/{seen.sent_id}", headers=owner.auth
        )
    ).json()
    assert (message["content"], message["pinned"], message["reactions"][0]["count"]) == (
        "hello, edited",
        True,
        1,
    )
