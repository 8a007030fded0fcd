"""A bot with its token, and calls on its commands: what the command tests share."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from tests.api.test_applications import create, reset
from tests.api.test_guilds import new_guild

if TYPE_CHECKING:
    import httpx

    from tests.running import ApiClient, Person

MISSING_ACCESS = {"code": 50001, "message": "Missing Access"}
UNKNOWN_COMMAND = {"code": 10063, "message": "Unknown application command"}


@dataclasses.dataclass
class Bot:
    id: int
    owner: Person
    auth: dict[str, str]

    def url(self, guild_id: object = None, path: str = "") -> str:
        scope = "" if guild_id is None else f"/guilds/{guild_id}"
        return f"/api/v10/applications/{self.id}{scope}/commands{path}"


async def new_bot(api: ApiClient, owner: Person | None = None) -> Bot:
    owner = owner or await api.register()
    application = await create(api, owner)
    token = await reset(api, owner, application["id"])
    return Bot(int(str(application["id"])), owner, {"Authorization": f"Bot {token}"})


async def bot_in_guild(api: ApiClient) -> tuple[Bot, str]:
    """A bot seated in a new guild of its owner's; the guild's id."""
    bot = await new_bot(api)
    guild = await new_guild(api, bot.owner)
    await api.services.db.run(
        lambda c: c.execute(
            "INSERT INTO members (guild_id, user_id) VALUES (%s, %s)",
            (int(str(guild["id"])), bot.id),
        )
    )
    return bot, str(guild["id"])


def chat(name: str, description: str = "Does a thing", **fields: object) -> dict[str, object]:
    return {"name": name, "description": description, **fields}


async def put(api: ApiClient, bot: Bot, body: object, guild_id: object = None) -> httpx.Response:
    return await api.http.put(bot.url(guild_id), headers=bot.auth, json=body)


async def synced(
    api: ApiClient, bot: Bot, body: list[dict[str, object]], guild_id: object = None
) -> list[dict[str, Any]]:
    response = await put(api, bot, body, guild_id)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def stored(api: ApiClient, bot: Bot) -> list[tuple[int, str, int, int]]:
    """(id, name, type, version) of every command of the bot's application, in id order."""
    rows = await api.services.db.run(
        lambda c: c.execute(
            "SELECT id, name, type, version FROM application_commands"
            " WHERE application_id = %s ORDER BY id",
            (bot.id,),
        ).fetchall()
    )
    return [(int(str(a)), str(b), int(str(c)), int(str(d))) for a, b, c, d in rows]
