"""An asyncio event loop in a thread of its own, for libraries that run on asyncio (discord.py,
hikari) while the test runs on Trio: the test hands it coroutines and awaits their results, so
a library client can live across many steps of one test (join, play, be moved, leave)."""

from __future__ import annotations

import asyncio
import gc
import queue
import sys
import threading
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import trio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine

T = TypeVar("T")

_STEP_TIMEOUT_S = 30  # one step of a library: log in, join voice, play a few seconds of audio


class AsyncioThread:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    async def run(
        self, step: Coroutine[object, object, T], timeout_s: float = _STEP_TIMEOUT_S
    ) -> T:
        """Runs `step` on the loop and returns its result (or raises its error); a step that
        outlasts `timeout_s` is cancelled there and fails here."""
        future = asyncio.run_coroutine_threadsafe(step, self.loop)
        try:
            with trio.fail_after(timeout_s):
                return await trio.to_thread.run_sync(future.result, abandon_on_cancel=True)
        finally:
            future.cancel()


@asynccontextmanager
async def open_asyncio_thread() -> AsyncIterator[AsyncioThread]:
    """The loop runs (under asyncio.run) until the block ends; then what a test left running on
    it is cancelled and asyncio.run cleans up as it does for any asyncio program."""
    handover: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = (
        queue.SimpleQueue()
    )

    async def main() -> None:
        stop = asyncio.Event()
        handover.put((asyncio.get_running_loop(), stop))
        await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="compat-asyncio")
    thread.start()
    loop, stop = await trio.to_thread.run_sync(handover.get)
    try:
        yield AsyncioThread(loop)
    finally:
        loop.call_soon_threadsafe(stop.set)
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(thread.join)


def collect_leftovers() -> None:
    """Collects what an asyncio library left behind, now rather than in some later test. Its
    own unclosed asyncio transports, sockets and aiohttp connectors found then are the
    library's, not Trioxide's (the server never runs asyncio): they are dropped; anything else
    still fails the test."""
    default = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, ResourceWarning) and _is_asyncio_leftover(unraisable):
            return
        default(unraisable)

    sys.unraisablehook = hook
    try:
        gc.collect()
    finally:
        sys.unraisablehook = default


def _is_asyncio_leftover(unraisable: sys.UnraisableHookArgs) -> bool:
    message = str(unraisable.exc_value)
    return (
        "unclosed transport" in message
        or ("unclosed <socket.socket" in message and "type=1" in message)
        or "Unclosed connector" in message
    )
