"""GET /metrics over a real socket: Prometheus text, REST latency by route template and status,
and nothing personal in it."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from tests.api.test_ratelimits import frozen_clock
from tests.running import running_api

if TYPE_CHECKING:
    from core.config import Settings
    from core.store.database import Database
    from tests.api.rooms import Room
    from tests.running import ApiClient


def _count(text: str, route: str, method: str, status: int) -> int:
    found = re.search(
        rf'^trioxide_http_request_duration_seconds_count\{{route="{re.escape(route)}",'
        rf'method="{method}",status="{status}"\}} (\d+)$',
        text,
        re.MULTILINE,
    )
    return int(found.group(1)) if found else 0


async def test_metrics_is_prometheus_text(api: ApiClient) -> None:
    response = await api.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE trioxide_http_request_duration_seconds histogram\n" in response.text
    assert "# TYPE trioxide_db_pool_wait_seconds histogram\n" in response.text


async def test_request_is_counted_by_route_template_and_status_without_its_ids(
    api: ApiClient, room: Room
) -> None:
    route = "/api/v10/channels/<channel_id>/messages"
    before = (await api.http.get("/metrics")).text
    posted = await api.http.post(
        f"/api/v10/channels/{room.channel_id}/messages",
        json={"content": "a secret in the content"},
        headers=room.owner.auth,
    )
    assert posted.status_code == 200
    message_id = posted.json()["id"]
    missing = await api.http.get(
        "/api/v10/channels/1234567890123456789/messages", headers=room.owner.auth
    )
    assert missing.status_code == 404
    unrouted = await api.http.get("/api/v10/no/such/route/4242424242")
    assert unrouted.status_code == 404

    text = (await api.http.get("/metrics")).text
    assert _count(text, route, "POST", 200) == _count(before, route, "POST", 200) + 1
    assert _count(text, route, "GET", 404) == _count(before, route, "GET", 404) + 1
    assert _count(text, "unmatched", "GET", 404) == _count(before, "unmatched", "GET", 404) + 1
    for personal in (
        str(room.channel_id),
        str(room.guild_id),
        str(room.owner.id),
        message_id,
        "1234567890123456789",
        "4242424242",
        room.owner.token,
        room.owner.username,
        "secret",
        "127.0.0.1",
    ):
        assert personal not in text


async def test_metrics_is_not_rate_limited_and_a_refused_request_keeps_its_route(
    settings: Settings, db: Database
) -> None:
    limited = dataclasses.replace(settings, rate_limits=True)
    async with running_api(limited, db, frozen_clock) as api:
        before = (await api.http.get("/metrics")).text
        # Past the 50 per second that this address is allowed on any other route.
        health = [(await api.http.get("/healthz")).status_code for _ in range(60)]
        scrapes = {(await api.http.get("/metrics")).status_code for _ in range(60)}
        text = (await api.http.get("/metrics")).text
    assert health.count(429) == 10
    assert scrapes == {200}
    refused = _count(text, "/healthz", "GET", 429) - _count(before, "/healthz", "GET", 429)
    assert refused == 10
