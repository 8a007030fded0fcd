from __future__ import annotations

from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

import pytest
import trio

from core.relay import run_relay
from gateway.server import Gateway, GatewayTimings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.running import ApiClient


@asynccontextmanager
async def running_gateway(
    api: ApiClient, timings: GatewayTimings | None = None
) -> AsyncIterator[str]:
    """The gateway and the relay beside a test's API, sharing its services; its ws:// URL."""
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(run_relay, api.services.db, api.services.bus)
        url: str = await nursery.start(partial(Gateway(api.services, timings).serve, shutdown))
        yield url
        shutdown.set()
        nursery.cancel_scope.cancel()


@pytest.fixture
async def gateway(api: ApiClient) -> AsyncIterator[str]:
    async with running_gateway(api) as url:
        yield url
