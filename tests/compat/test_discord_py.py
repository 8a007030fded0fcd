"""discord.py 2.7, unmodified, logging in to Trioxide with a bot token.

The library runs on asyncio in a worker thread (tests/compat/library.py); the server on Trio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from tests.compat.library import run_discord_py

if TYPE_CHECKING:
    from tests.running import ApiClient


@dataclass(frozen=True)
class SeenByBot:
    user_id: int
    user_name: str
    is_bot: bool
    application_id: int
    application_name: str
    owner_id: int


async def _log_in(token: str) -> SeenByBot:
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(token)  # GET /users/@me, then GET /oauth2/applications/@me
        application = await client.application_info()
        assert client.user is not None
        return SeenByBot(
            user_id=client.user.id,
            user_name=client.user.name,
            is_bot=client.user.bot,
            application_id=application.id,
            application_name=application.name,
            owner_id=application.owner.id,
        )
    finally:
        await client.close()


async def test_discord_py_logs_in_with_a_bot_token(api: ApiClient) -> None:
    owner = await api.register()
    created = await api.http.post(
        "/api/v10/applications", headers=owner.auth, json={"name": "Compat Bot"}
    )
    application_id = created.json()["id"]
    reset = await api.http.post(
        f"/api/v10/applications/{application_id}/bot/reset", headers=owner.auth
    )
    token = reset.json()["token"]
    seen = await run_discord_py(api, lambda: _log_in(token))

    assert seen == SeenByBot(
        user_id=int(application_id),
        user_name=created.json()["bot"]["username"],
        is_bot=True,
        application_id=int(application_id),
        application_name="Compat Bot",
        owner_id=owner.id,
    )


async def test_discord_py_reports_a_bad_token_as_login_failure(api: ApiClient) -> None:
    async def attempt() -> str:
        try:
            await _log_in("MTIz.bm90LWEtdG9rZW4")
        except discord.LoginFailure as failure:
            return str(failure)
        return "logged in"

    assert await run_discord_py(api, attempt) == "Improper token has been passed."
