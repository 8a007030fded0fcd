"""PostgreSQL or Redis out of reach: REST answers 503 in Discord's shape with Retry-After, at
once, and changes nothing; when the store is back, requests succeed again (issue #18: 500s,
and a keep-alive connection that stopped answering)."""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING

import trio

from api.errors import UNAVAILABLE_RETRY_AFTER_S
from bench.server import redis_server
from core.store.redis import open_redis
from tests.api.rooms import count_messages, new_room
from tests.running import running_api

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from core.config import Settings
    from core.store.database import Database
    from tests.running import ApiClient

_UNAVAILABLE = {"code": 0, "message": "503: Service Unavailable"}


def _port_nobody_listens_on() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: a connection to it is refused at once


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == _UNAVAILABLE
    assert response.headers["Retry-After"] == str(UNAVAILABLE_RETRY_AFTER_S)


async def test_database_down_answers_503_with_retry_after_and_changes_nothing(
    api: ApiClient,
) -> None:
    room = await new_room(api)
    before = await count_messages(api, room)
    real_url = api.services.db.url
    api.services.db.url = f"postgresql://trioxide@127.0.0.1:{_port_nobody_listens_on()}/trioxide"
    api.services.db.close()  # its idle connections; new ones go to the dead port
    try:
        with trio.fail_after(10):
            for _ in range(30):  # one keep-alive connection, many refusals: each is answered
                _assert_unavailable(
                    await api.http.post(room.url(), headers=room.member.auth, json={"content": "x"})
                )
            _assert_unavailable(await api.http.get(room.url(), headers=room.member.auth))
    finally:
        api.services.db.url = real_url
    assert await count_messages(api, room) == before
    # Back: the same connection, the same token.
    sent = await api.http.post(room.url(), headers=room.member.auth, json={"content": "back"})
    assert sent.status_code == 200


async def test_redis_down_fails_closed_with_503_at_once(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as redis_process:
        url = redis_process.enter_context(redis_server(tmp_path))
        async with open_redis(url) as redis, running_api(settings, db, redis=redis) as api:
            room = await new_room(api)
            assert (await api.http.get("/api/v10/users/@me", headers=room.member.auth)).is_success
            before = await count_messages(api, room)
            redis_process.close()  # redis-server stopped: the revocation check cannot be made
            # A refused connection fails at once; the deadline shows nothing waits for Redis.
            with trio.fail_after(5):
                for _ in range(30):
                    _assert_unavailable(
                        await api.http.get("/api/v10/users/@me", headers=room.member.auth)
                    )
                    _assert_unavailable(
                        await api.http.post(
                            room.url(), headers=room.member.auth, json={"content": "x"}
                        )
                    )
            assert await count_messages(api, room) == before
