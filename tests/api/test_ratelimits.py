"""Rate limits in Discord's shape: headers on every answer, 429 bodies, and the buckets."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from core.store.ratelimits import MemoryRateLimits
from tests.running import ApiClient, running_api

if TYPE_CHECKING:
    from core.config import Settings
    from core.services import Services
    from core.store.database import Database
    from core.store.redis import Redis

FROZEN_AT = 1_900_000_000.0


def frozen_clock(found: Services) -> Services:
    # A still clock: every request falls in one window, however slow the machine.
    return dataclasses.replace(found, rate_limits=MemoryRateLimits(clock=lambda: FROZEN_AT))


def assert_rate_limited(
    response_status: int, headers: dict[str, str], body: dict[str, object], *, is_global: bool
) -> None:
    assert response_status == 429
    assert body["message"] == "You are being rate limited."
    assert body["global"] is is_global
    assert isinstance(body["retry_after"], float)
    assert headers["via"]  # discord.py retries a 429 only when a proxy header is present
    assert int(headers["retry-after"]) >= 1
    assert headers["x-ratelimit-scope"] == ("global" if is_global else "user")
    assert ("x-ratelimit-global" in headers) is is_global


async def test_every_answer_carries_the_buckets_headers(limited: ApiClient) -> None:
    person = await limited.register()
    response = await limited.http.get("/api/v10/users/@me", headers=person.auth)
    assert response.status_code == 200
    headers = response.headers
    assert headers["x-ratelimit-limit"] == "50"
    assert headers["x-ratelimit-remaining"] == "49"
    assert float(headers["x-ratelimit-reset"]) == FROZEN_AT + 1
    assert float(headers["x-ratelimit-reset-after"]) == 1.0
    assert len(headers["x-ratelimit-bucket"]) == 16


async def test_logins_to_one_account_stop_after_five_a_minute(limited: ApiClient) -> None:
    person = await limited.register()
    sessions_before = await limited.count("sessions")
    answers = [
        await limited.http.post(
            "/api/v10/auth/login", json={"login": person.username, "password": "wrong-guess"}
        )
        for _ in range(6)
    ]
    assert [a.status_code for a in answers] == [400] * 5 + [429]
    assert_rate_limited(429, dict(answers[-1].headers), answers[-1].json(), is_global=False)
    assert answers[-1].json()["retry_after"] == 60.0
    # Even the right password waits now: guessing cannot continue under cover of a success.
    right = await limited.http.post(
        "/api/v10/auth/login", json={"login": person.username, "password": person.password}
    )
    assert right.status_code == 429
    assert await limited.count("sessions") == sessions_before


async def test_registrations_from_one_address_stop_after_five_a_minute(limited: ApiClient) -> None:
    for _ in range(4):  # the harness's register() is one more
        await limited.register()
    await limited.register()
    users_before = await limited.count("users")
    response = await limited.http.post(
        "/api/v10/auth/register",
        json={"username": "one_too_many", "email": "many@example.test", "password": "12345678"},
    )
    assert_rate_limited(
        response.status_code, dict(response.headers), response.json(), is_global=False
    )
    assert await limited.count("users") == users_before


async def test_the_global_limit_is_fifty_requests_a_second_per_token(limited: ApiClient) -> None:
    person = await limited.register()
    answers = [
        await limited.http.get(f"/api/v10/users/{person.id}", headers=person.auth)
        for _ in range(50)
    ]
    over = await limited.http.get("/api/v10/users/@me", headers=person.auth)
    assert {a.status_code for a in answers} == {200}
    assert_rate_limited(over.status_code, dict(over.headers), over.json(), is_global=True)
    other = await limited.register()  # another token has its own budget
    assert (await limited.http.get("/api/v10/users/@me", headers=other.auth)).status_code == 200


async def test_limits_off_means_no_headers_and_no_429(api: ApiClient) -> None:
    person = await api.register()
    answers = [
        await api.http.post(
            "/api/v10/auth/login", json={"login": person.username, "password": "wrong-guess"}
        )
        for _ in range(7)
    ]
    assert {a.status_code for a in answers} == {400}
    assert "x-ratelimit-limit" not in answers[-1].headers


async def test_processes_sharing_redis_enforce_one_limit_and_one_logout(
    settings: Settings, db: Database, redis: Redis
) -> None:
    # Two API instances with their own services, as two processes would have, and one Redis.
    shared = dataclasses.replace(settings, rate_limits=True)
    async with (
        running_api(shared, db, redis=redis) as first,
        running_api(shared, db, redis=redis) as second,
    ):
        person = await first.register()
        answers = [
            await (first if attempt % 2 else second).http.post(
                "/api/v10/auth/login", json={"login": person.username, "password": "wrong-guess"}
            )
            for attempt in range(6)
        ]
        assert [a.status_code for a in answers] == [400] * 5 + [429]

        assert (await second.http.get("/api/v10/users/@me", headers=person.auth)).status_code == 200
        logout = await first.http.post(
            "/api/v10/auth/logout", json={"refresh_token": person.refresh_token}
        )
        assert logout.status_code == 204
        after = await second.http.get("/api/v10/users/@me", headers=person.auth)
        assert after.status_code == 401, "a logout on one process stops the token on every other"
