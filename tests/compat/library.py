"""Running unmodified discord.py against the server under test.

discord.py runs on asyncio; the server runs on Trio. The library runs in a worker thread with
its own event loop, its base URL pointed at the server, and they meet over loopback sockets."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

import discord
import trio

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from tests.running import ApiClient

T = TypeVar("T")

_LIBRARY_TIMEOUT_S = 30  # a whole library session: login, a few calls, close


async def run_discord_py(api: ApiClient, session: Callable[[], Coroutine[object, object, T]]) -> T:
    """Runs `session()` (a coroutine using discord.py) against `api`; returns its result."""
    original_base = discord.http.Route.BASE
    discord.http.Route.BASE = f"{str(api.http.base_url).rstrip('/')}/api/v10"
    try:
        with trio.fail_after(_LIBRARY_TIMEOUT_S):
            return await trio.to_thread.run_sync(lambda: asyncio.run(session()))
    finally:
        discord.http.Route.BASE = original_base
