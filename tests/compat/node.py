"""Running unmodified discord.js (pinned in tests/compat/js, installed by `make test`) against
the server under test: one Node process per scenario, talking to the test in JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

JS = Path(__file__).parent / "js"
_WAIT_S = 30  # a whole library session: login, READY, a few calls, close


class NodeBot:
    """A scenario's process: what it reports, one JSON value a line, and what it is told."""

    def __init__(self, process: trio.Process, scenario: str) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self._process = process
        self._scenario = scenario
        self._buffer = b""
        self.errors = bytearray()  # its stderr, collected as it comes

    async def report(self) -> object:
        """The scenario's next report (fails, with its stderr, if it ends first)."""
        assert self._process.stdout is not None
        with trio.fail_after(_WAIT_S):
            while b"\n" not in self._buffer:
                chunk = await self._process.stdout.receive_some()
                if not chunk:
                    await self._process.wait()
                    raise AssertionError(self._failure("ended without reporting"))
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    async def tell(self, value: object) -> None:
        assert self._process.stdin is not None
        await self._process.stdin.send_all(json.dumps(value).encode() + b"\n")

    async def collect_errors(self) -> None:
        assert self._process.stderr is not None
        async for chunk in self._process.stderr:
            self.errors += chunk

    def _failure(self, what: str) -> str:
        return (
            f"discord.js scenario {self._scenario} {what}: {self.errors.decode(errors='replace')}"
        )


@asynccontextmanager
async def discord_js(
    api_url: str, token: str, scenario: str, **args: object
) -> AsyncIterator[NodeBot]:
    """`tests/compat/js/scenarios/<scenario>.mjs` running as a bot with `token`; on exit the
    process must end by itself, successfully."""
    env = {
        **os.environ,
        "TRIOXIDE_API": api_url.rstrip("/"),
        "TRIOXIDE_TOKEN": token,
        "TRIOXIDE_ARGS": json.dumps(args),
    }
    async with trio.open_nursery() as nursery:
        process: trio.Process = await nursery.start(
            partial(
                trio.run_process,
                ["node", str(JS / "run.mjs"), scenario],
                cwd=JS,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                check=False,
            )
        )
        bot = NodeBot(process, scenario)
        nursery.start_soon(bot.collect_errors)
        try:
            yield bot
            with trio.fail_after(_WAIT_S):
                code = await process.wait()
        finally:
            process.kill()
        assert code == 0, bot._failure(f"exited with {code}")
