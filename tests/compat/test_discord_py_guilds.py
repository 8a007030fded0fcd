"""discord.py 2.7, unmodified, managing a guild through its HTTP client: it creates a channel
and a role and edits a member, parsing every answer into its own models."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from core.domain.permissions import Permission
from tests.api.test_guilds import add_member, new_guild, new_role
from tests.compat.library import run_discord_py

if TYPE_CHECKING:
    from tests.running import ApiClient

P = Permission


@dataclass(frozen=True)
class Done:
    guild_name: str
    role_names: list[str]
    channel: tuple[int, str, str | None, int | None]
    role: tuple[int, str, int]
    member_nick: str | None
    channel_names: list[str]


async def _manage(token: str, guild_id: int, person_id: int, category_id: int) -> Done:
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(token)
        guild = await client.fetch_guild(guild_id)
        category = discord.Object(category_id)
        channel = await guild.create_text_channel(
            "from-discord-py",
            topic="made by a bot",
            # discord.py only reads the category's id; an Object stands in for a CategoryChannel.
            category=category,  # type: ignore[arg-type]
            reason="compat: channel",
        )
        role = await guild.create_role(
            name="made-by-bot", colour=discord.Colour(0x00FF00), reason="compat: role"
        )
        member = await guild.fetch_member(person_id)
        edited = await member.edit(nick="edited by bot", reason="compat: member")
        channels = await guild.fetch_channels()
        return Done(
            guild_name=guild.name,
            role_names=[r.name for r in guild.roles],
            channel=(channel.id, channel.name, channel.topic, channel.category_id),
            role=(role.id, role.name, role.colour.value),
            member_nick=(edited or member).nick,
            channel_names=sorted(c.name for c in channels),
        )
    finally:
        await client.close()


async def test_discord_py_creates_a_channel_and_a_role_and_edits_a_member(api: ApiClient) -> None:
    owner, person = await api.register(), await api.register()
    guild = await new_guild(api, owner, "Compat Guild")
    application = (
        await api.http.post(
            "/api/v10/applications", headers=owner.auth, json={"name": "Compat Manager"}
        )
    ).json()
    token = (
        await api.http.post(
            f"/api/v10/applications/{application['id']}/bot/reset", headers=owner.auth
        )
    ).json()["token"]
    await api.http.put(
        f"/api/v10/guilds/{guild['id']}/members/{application['id']}", headers=owner.auth, json={}
    )
    managers = await new_role(
        api,
        owner,
        guild["id"],
        name="managers",
        permissions=str(int(P.MANAGE_CHANNELS | P.MANAGE_ROLES | P.MANAGE_NICKNAMES)),
    )
    await api.http.put(
        f"/api/v10/guilds/{guild['id']}/members/{application['id']}/roles/{managers['id']}",
        headers=owner.auth,
    )
    await add_member(api, guild["id"], person)
    channels = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=owner.auth)
    ).json()
    category_id = int(next(c for c in channels if c["name"] == "Text Channels")["id"])

    done = await run_discord_py(
        api, lambda: _manage(token, int(str(guild["id"])), person.id, category_id)
    )

    assert done.guild_name == "Compat Guild"
    assert set(done.role_names) == {"@everyone", "managers"}
    channel_id, channel_name, topic, parent = done.channel
    assert (channel_name, topic, parent) == ("from-discord-py", "made by a bot", category_id)
    assert done.role[1:] == ("made-by-bot", 0x00FF00)
    assert done.member_nick == "edited by bot"
    assert "from-discord-py" in done.channel_names
    # What the library did is really there, and its reasons reached the audit log.
    stored = (await api.http.get(f"/api/v10/channels/{channel_id}", headers=owner.auth)).json()
    assert stored["topic"] == "made by a bot"
    member = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/members/{person.id}", headers=owner.auth)
    ).json()
    assert member["nick"] == "edited by bot"
    log = (
        await api.http.get(f"/api/v10/guilds/{guild['id']}/audit-logs", headers=owner.auth)
    ).json()
    reasons = {urllib.parse.unquote(e.get("reason") or "") for e in log["audit_log_entries"]}
    assert {"compat: channel", "compat: role", "compat: member"} <= reasons
