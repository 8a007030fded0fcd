"""The server under load, reached only through its public API: provisioning what a scenario
needs (a person who owns guilds, bots seated in them) and cleaning it up again.

Everything goes through Discord API v10 routes, plus two of Trioxide's own where Discord has
no API (registering an account, creating an application); anything that answers otherwise than
Discord's shapes stops the run with one line naming the route."""

from __future__ import annotations

import ipaddress
import secrets
import socket
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import trio

from bench.http import Connection, connect

_PROVISIONING_CONNECTIONS = 8


class BenchError(Exception):
    """A run cannot go on: the message is the one line the operator sees."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @classmethod
    def of(cls, url: str, allow_remote: bool) -> Address:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "ws") or not parts.hostname:
            raise BenchError(f"{url!r} is not an http:// URL (https is not supported)")
        address = cls(parts.hostname, parts.port or 80)
        if not allow_remote and not address.is_loopback():
            raise BenchError(f"{parts.hostname} is not loopback: pass --allow-remote to load it")
        return address

    def is_loopback(self) -> bool:
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise BenchError(f"cannot resolve {self.host}: {error.strerror}") from None
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


@dataclass(frozen=True)
class Space:
    guild_id: str
    channel_id: str


@dataclass(frozen=True)
class Bot:
    user_id: str
    token: str
    space: int  # index into Fleet.spaces


@dataclass
class Fleet:
    """What a scenario provisioned: deleted again by `Target.clean_up`."""

    owner_token: str = ""
    owner_id: str = ""
    spaces: list[Space] = field(default_factory=list)
    bots: list[Bot] = field(default_factory=list)


def _shaped(answer_body: object, route: str, *keys: str) -> dict[str, Any]:
    if not isinstance(answer_body, dict) or any(key not in answer_body for key in keys):
        raise BenchError(f"{route} answered without Discord's shape (expected {', '.join(keys)})")
    return answer_body


class Target:
    def __init__(self, address: Address) -> None:
        self.address = address

    async def call(
        self,
        connection: Connection,
        method: str,
        path: str,
        token: str | None,
        body: object = None,
        *,
        bot: bool = False,
        expect: tuple[int, ...] = (200, 201, 204),
    ) -> Any:  # noqa: ANN401  # parsed JSON, checked by the caller with _shaped

        route = f"{method} /api/v10{path}"
        headers = {} if token is None else {"Authorization": f"{'Bot ' if bot else ''}{token}"}
        try:
            answer = await connection.request(method, f"/api/v10{path}", headers=headers, body=body)
        except (OSError, ConnectionError) as error:
            raise BenchError(f"{route}: the server went away ({error})") from None
        if answer.status in (401, 403) and 401 not in expect:
            raise BenchError(f"{route}: the server refused the token ({answer.status})")
        if answer.status not in expect:
            raise BenchError(f"{route}: unexpected {answer.status}: {answer.body[:200]!r}")
        if not answer.body:
            return None
        try:
            return answer.json()
        except ValueError:
            raise BenchError(f"{route} answered something that is not JSON") from None

    async def open(self, stack: AsyncExitStack) -> Connection:
        try:
            return await stack.enter_async_context(connect(self.address.host, self.address.port))
        except OSError as error:
            raise BenchError(
                f"cannot reach the server at {self.address.host}:{self.address.port}"
                f" ({error.strerror or error})"
            ) from None

    async def provision(
        self, fleet: Fleet, *, spaces: int, bots: int, owner_token: str | None = None
    ) -> None:
        """Fills `fleet` as it goes, so whatever was made is cleaned up even after a failure."""
        async with AsyncExitStack() as stack:
            connection = await self.open(stack)
            if owner_token is None:
                name = f"bench_{secrets.token_hex(5)}"
                registered = await self.call(
                    connection,
                    "POST",
                    "/auth/register",
                    None,
                    {"username": name, "email": f"{name}@bench.invalid", "password": name * 2},
                )
                owner_token = str(_shaped(registered, "POST /auth/register", "token")["token"])
            me = _shaped(
                await self.call(connection, "GET", "/users/@me", owner_token), "/@me", "id"
            )
            fleet.owner_token, fleet.owner_id = owner_token, str(me["id"])
            for index in range(spaces):
                guild = await self.call(
                    connection, "POST", "/guilds", owner_token, {"name": f"bench {index}"}
                )
                guild_id = str(_shaped(guild, "POST /guilds", "id")["id"])
                fleet.spaces.append(Space(guild_id, ""))
                channels = await self.call(
                    connection, "GET", f"/guilds/{guild_id}/channels", owner_token
                )
                text = [c for c in channels or [] if isinstance(c, dict) and c.get("type") == 0]
                if not text:
                    raise BenchError(f"GET /guilds/{guild_id}/channels listed no text channel")
                fleet.spaces[-1] = Space(guild_id, str(text[0]["id"]))
            connections = [connection] + [
                await self.open(stack) for _ in range(_PROVISIONING_CONNECTIONS - 1)
            ]
            async with trio.open_nursery() as nursery:
                for offset, each in enumerate(connections):
                    indexes = range(offset, bots, len(connections))
                    nursery.start_soon(self._add_bots, each, fleet, indexes)

    async def _add_bots(self, connection: Connection, fleet: Fleet, indexes: range) -> None:
        token = fleet.owner_token
        for index in indexes:
            created = await self.call(
                connection, "POST", "/applications", token, {"name": f"bench bot {index}"}
            )
            bot_id = str(_shaped(created, "POST /applications", "id")["id"])
            reset = await self.call(connection, "POST", f"/applications/{bot_id}/bot/reset", token)
            bot_token = str(_shaped(reset, "POST /applications/{id}/bot/reset", "token")["token"])
            space = index % len(fleet.spaces)
            await self.call(
                connection,
                "PUT",
                f"/guilds/{fleet.spaces[space].guild_id}/members/{bot_id}",
                token,
                {},
            )
            fleet.bots.append(Bot(bot_id, bot_token, space))

    async def clean_up(self, fleet: Fleet) -> None:
        """Deletes the guilds (and with them their messages and memberships), best effort."""
        if not fleet.owner_token:
            return
        with trio.move_on_after(30):
            async with AsyncExitStack() as stack:
                try:
                    connection = await self.open(stack)
                    for space in fleet.spaces:
                        await self.call(
                            connection, "DELETE", f"/guilds/{space.guild_id}", fleet.owner_token
                        )
                except BenchError:
                    pass  # the run's own error is the one to report
