"""Where interaction tests happen: a room with a bot seated in it, the bot's commands, and
the person's and the bot's gateway sessions."""

from __future__ import annotations

import dataclasses
import secrets
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from tests.api.rooms import Room, new_room
from tests.gateway.client import connect
from tests.gateway.test_dispatch import add_bot, ready, settle

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

    from tests.gateway.client import GatewayClient
    from tests.running import ApiClient, Person


@dataclasses.dataclass
class Stage:
    room: Room
    bot_id: str
    bot_token: str

    @property
    def bot_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bot {self.bot_token}"}


async def new_stage(api: ApiClient) -> Stage:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    return Stage(room, bot_id, token)


async def add_command(
    api: ApiClient,
    stage: Stage,
    name: str = "ping",
    *,
    type: int = 1,
    options: list[dict[str, object]] | None = None,
    default_member_permissions: int | None = None,
    global_: bool = False,
) -> dict[str, Any]:
    """A command of the stage's bot (in its guild unless `global_`), made as its bot does."""
    body: dict[str, object] = {"type": type, "name": name, "options": options or []}
    if type == 1:
        body["description"] = f"{name} command"
    if default_member_permissions is not None:
        body["default_member_permissions"] = str(default_member_permissions)
    scope = "" if global_ else f"/guilds/{stage.room.guild_id}"
    response = await api.http.post(
        f"/api/v10/applications/{stage.bot_id}{scope}/commands", headers=stage.bot_auth, json=body
    )
    assert response.status_code in (200, 201), response.text
    command: dict[str, Any] = response.json()
    return command


def invocation(stage: Stage, command: dict[str, Any], **data: object) -> dict[str, object]:
    """What Discord's client sends to run `command` in the stage's channel."""
    return {
        "type": 2,
        "application_id": stage.bot_id,
        "guild_id": stage.room.guild_id,
        "channel_id": stage.room.channel_id,
        "session_id": "a-session",
        "nonce": str(secrets.randbelow(10**18)),
        "data": {
            "id": command["id"],
            "name": command["name"],
            "type": command["type"],
            "version": command["version"],
            "options": [],
        }
        | data,
    }


async def interact(api: ApiClient, who: Person, body: dict[str, object]) -> httpx.Response:
    return await api.http.post("/api/v10/interactions", headers=who.auth, json=body)


async def callback(
    api: ApiClient,
    interaction: dict[str, Any],
    body: dict[str, object],
    *,
    with_response: bool = True,
) -> httpx.Response:
    query = "?with_response=true" if with_response else ""
    return await api.http.post(
        f"/api/v10/interactions/{interaction['id']}/{interaction['token']}/callback{query}",
        json=body,
    )


@dataclasses.dataclass
class Sessions:
    bot: GatewayClient
    member: GatewayClient  # the invoker
    owner: GatewayClient  # someone else in the channel


@asynccontextmanager
async def sessions(api: ApiClient, gateway: str, stage: Stage) -> AsyncIterator[Sessions]:
    """The bot's, the member's and the owner's sessions, READY and settled."""
    async with connect(gateway) as bot, connect(gateway) as member, connect(gateway) as owner:
        await bot.identify(stage.bot_token)
        await bot.dispatch("GUILD_CREATE")
        await ready(member, stage.room.member)
        await ready(owner, stage.room.owner)
        await settle(api, stage.room, bot, member, owner)
        yield Sessions(bot, member, owner)


async def invoke(
    api: ApiClient, stage: Stage, live: Sessions, body: dict[str, object]
) -> dict[str, Any]:
    """Runs the interaction as the member: their sessions hear of it, and the bot gets it."""
    response = await interact(api, stage.room.member, body)
    assert response.status_code == 204, response.text
    told = await live.member.next_named("INTERACTION_CREATE")
    assert told == {"id": told["id"], "nonce": body["nonce"]}
    got = await live.bot.next_named("INTERACTION_CREATE")
    assert got["id"] == told["id"]
    return got
