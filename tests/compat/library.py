"""Running unmodified discord.py against the server under test.

discord.py runs on asyncio; the server runs on Trio. The library runs in a worker thread with
its own event loop, its base URL pointed at the server, and they meet over loopback sockets."""

from __future__ import annotations

import asyncio
import threading
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
            # A thread of its own that ends with the session: the loop (and whatever the
            # library left on it) is not kept alive by a pooled worker thread's locals.
            return await trio.to_thread.run_sync(_in_own_thread, session)
    finally:
        discord.http.Route.BASE = original_base


def _in_own_thread(session: Callable[[], Coroutine[object, object, T]]) -> T:
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(asyncio.run(session()))
        except BaseException as error:  # handed to the caller below
            errors.append(error)

    thread = threading.Thread(target=run, name="compat-discord-py")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]
