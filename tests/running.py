"""The API running for a test: served on a free loopback port, with a client and the services
behind it (so a test can look past the wire)."""

from __future__ import annotations

import dataclasses
import secrets
import socket
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import trio

from api import serve_api
from core.services import Services, build_services
from core.store.migrations import load_migrations
from core.store.objects import LocalObjectStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from core.config import Settings
    from core.store.database import Database
    from core.store.objects import ObjectStore
    from core.store.redis import Redis


def free_port() -> int:
    """A loopback TCP port free now, for a listener whose address must be known before it
    starts (the gateway URL the API hands out, the origin a page is served from)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def running_api(
    settings: Settings,
    db: Database,
    adjust: Callable[[Services], Services] = lambda found: found,
    redis: Redis | None = None,
    objects: ObjectStore | None = None,
) -> AsyncIterator[ApiClient]:
    """The API served on a free loopback port, and a client for it; stopped on exit.
    `adjust` may swap parts of the services (e.g. the database) after they are built; with
    `redis`, limits and revocations are shared as between processes; `objects` replaces the
    local attachment store."""
    objects = objects or LocalObjectStore(settings.data_dir / "objects")
    found = adjust(await build_services(settings, db, load_migrations(), objects, redis))
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(serve_api, found, shutdown)
        async with httpx.AsyncClient(base_url=urls[0]) as http:
            yield ApiClient(http, found)
        shutdown.set()


@dataclasses.dataclass
class ApiClient:
    """An HTTP client for a running API, and that API's services (to look behind the wire)."""

    http: httpx.AsyncClient
    services: Services

    async def count(self, table: str) -> int:
        """Rows in `table`: how a test shows that rejected input changed nothing."""
        row = await self.services.db.run(
            lambda c: c.execute(f"SELECT count(*) FROM {table}").fetchone()
        )
        assert row is not None
        return int(str(row[0]))

    async def register(
        self, username: str | None = None, password: str = "correct horse"
    ) -> Person:
        username = username or f"user_{secrets.token_hex(5)}"
        response = await self.http.post(
            "/api/v10/auth/register",
            json={"username": username, "email": f"{username}@example.test", "password": password},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Person(
            id=int(body["user"]["id"]),
            username=username,
            password=password,
            token=body["token"],
            refresh_token=body["refresh_token"],
        )

    async def login(self, person: Person) -> dict[str, str]:
        """A new session for `person`: Discord's `{token, refresh_token, expires_in, user_id}`."""
        response = await self.http.post(
            "/api/v10/auth/login", json={"login": person.username, "password": person.password}
        )
        assert response.status_code == 200, response.text
        body: dict[str, str] = response.json()
        return body


@dataclasses.dataclass
class Person:
    id: int
    username: str
    password: str
    token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}
