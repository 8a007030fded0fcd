"""/metrics on the gateway's listener: sessions by state, identifies and closes, faults."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx

from tests.api.rooms import new_room
from tests.gateway.client import connect
from tests.gateway.test_dispatch import ready

if TYPE_CHECKING:
    from tests.running import ApiClient


def sample(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in Prometheus text, 0 when absent."""
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" (\S+)\n"
    found = re.search(pattern, text)
    return float(found[1]) if found else 0.0


async def scrape(gateway: str) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(gateway.replace("ws://", "http://") + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


async def test_the_gateway_serves_its_metrics_where_it_listens(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    before = await scrape(gateway)
    async with connect(gateway) as client, connect(gateway) as bad:
        await ready(client, room.member)
        await bad.send(1, -1)
        assert await bad.closed_with() == 4002
        during = await scrape(gateway)
        assert sample(during, "trioxide_gateway_sessions", 'state="connected"') >= 1
        code = 'code="4002"'
        closes = "trioxide_gateway_closes_total"
        assert sample(during, closes, code) == sample(before, closes, code) + 1
        ok = 'outcome="ok"'
        identifies = "trioxide_gateway_identifies_total"
        assert sample(during, identifies, ok) >= sample(before, identifies, ok) + 1
    assert room.member.token not in during  # nothing personal in a label
    assert str(room.member.id) not in during
