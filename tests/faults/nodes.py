"""What the fault tests do with real Trioxide processes: reach their API with a client that
seats members through the test's own database, post as a bot, and read a channel over the
gateway as a real client would, resuming when the server asks it to."""

from __future__ import annotations

import secrets
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import pytest
import trio

from core.services import build_services
from core.store.database import open_database
from core.store.migrations import load_migrations
from core.store.objects import LocalObjectStore
from tests.gateway.client import Closed, connect
from tests.gateway.test_dispatch import ready
from tests.gateway.test_nodes import resume
from tests.running import ApiClient
from tests.test_cli import environment

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from core.config import Settings
    from tests.api.rooms import Room
    from tests.gateway.client import GatewayClient
    from tests.running import Person

# What a message takes, at most, to arrive once its store is back: the relay's longest retry
# backoff (4 s) and a resume, with room to spare on a loaded machine.
ARRIVAL_S = 30


def node_environment(database_url: str, **more: str) -> dict[str, str]:
    """What every process of one deployment shares: the database, the signing keys."""
    return environment(
        DATABASE_URL=database_url,
        TRIOXIDE_JWT_KEYS=f"faults:{secrets.token_urlsafe(32)}",
        TRIOXIDE_SHUTDOWN_GRACE_S="2",
        **more,
    )


@asynccontextmanager
async def api_client(
    api_url: str, database_url: str, settings: Settings, folder: Path
) -> AsyncIterator[ApiClient]:
    """A client for a process's API, and services over the test's own connection to its
    database (tests seat members through them). The process must have migrated it."""
    async with (
        open_database(database_url, pool_size=2, timeout_s=5) as db,
        httpx.AsyncClient(base_url=api_url, timeout=30) as http,
    ):
        services = await build_services(settings, db, load_migrations(), LocalObjectStore(folder))
        yield ApiClient(http, services)


class ChannelReader:
    """A person's gateway session that reads the MESSAGE_CREATEs it is sent, in order. On a
    resumable close (4000) or op 7 it connects again and RESUMEs, as a real client does."""

    def __init__(self, url: str, who: Person) -> None:
        self._url = url
        self._who = who
        self._stack = AsyncExitStack()
        self._client: GatewayClient | None = None
        self.resumes = 0

    async def open(self) -> None:
        self._client = await self._stack.enter_async_context(connect(self._url))
        await ready(self._client, self._who)

    async def aclose(self) -> None:
        await self._stack.aclose()

    async def messages(self, count: int) -> list[str]:
        """The ids of the next `count` messages; fails if they take longer than ARRIVAL_S."""
        found: list[str] = []
        with trio.fail_after(ARRIVAL_S):
            while len(found) < count:
                assert self._client is not None
                try:
                    payload = await self._client.receive()
                except trio.TooSlowError:  # (quiet for a while: the store may still be away)
                    continue
                except Closed as closed:
                    if closed.code != 4000:
                        pytest.fail(f"closed with {closed.code}, not resumable (4000)")
                    await self._resume()
                    continue
                if payload["op"] == 7:  # RECONNECT: the server asks us to resume elsewhere
                    await self._resume()
                elif payload["op"] == 9:
                    pytest.fail(f"the session was invalidated: {payload}")
                elif payload["op"] == 0 and payload["t"] == "MESSAGE_CREATE":
                    found.append(payload["d"]["id"])
        return found

    async def heartbeat(self) -> None:
        """Sends a heartbeat (op 1) and waits for its ACK (op 11), which must come next."""
        assert self._client is not None
        await self._client.send(1, self._client.seq or None)
        assert (await self._client.receive())["op"] == 11

    async def _resume(self) -> None:
        assert self._client is not None
        session_id, seq = self._client.session_id, self._client.seq
        await self._stack.aclose()
        self._stack = AsyncExitStack()
        self._client = await self._stack.enter_async_context(connect(self._url))
        await resume(self._client, self._who.token, session_id, seq)
        self._client.session_id = session_id
        self.resumes += 1


async def post(api: ApiClient, room: Room, auth: dict[str, str], content: str) -> httpx.Response:
    return await api.http.post(room.url(), headers=auth, json={"content": content})


async def post_when_back(api: ApiClient, room: Room, auth: dict[str, str], content: str) -> str:
    """Posts until the API answers 200 (it answers 503 until its store is back); the id."""
    with trio.fail_after(ARRIVAL_S):
        while True:
            response = await post(api, room, auth, content)
            if response.status_code == 200:
                return str(response.json()["id"])
            assert response.status_code == 503, (response.status_code, response.text)
            await trio.sleep(0.2)  # polling the API: how a client retries after a 503
