"""The web client's tests: the whole server (API with the client's files, gateway, relay and
the interaction sweep) on ports known before it starts, so the page's origin, the gateway URL it
is sent and the links attachments are signed for all agree, and a headless Chromium."""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import TYPE_CHECKING

import pytest
import trio

from core.config import Address
from core.interactions import run_interaction_sweep
from core.relay import run_relay
from gateway.server import Gateway, GatewayLimits
from tests.running import free_port, running_api
from tests.web.browser import Web, open_browser

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from core.config import Settings
    from core.store.database import Database


@pytest.fixture
def settings(settings: Settings) -> Settings:
    api_port = free_port()
    return dataclasses.replace(
        settings,
        api_addr=Address("127.0.0.1", api_port),
        gateway_addr=Address("127.0.0.1", free_port()),
        public_url=f"http://127.0.0.1:{api_port}",
    )


@pytest.fixture
def gateway_limits() -> GatewayLimits | None:
    """The gateway's limits; None: its defaults. A test module may override this fixture."""
    return None


@pytest.fixture
async def web(
    settings: Settings, db: Database, gateway_limits: GatewayLimits | None
) -> AsyncIterator[Web]:
    shutdown = trio.Event()
    async with running_api(settings, db) as api, trio.open_nursery() as nursery:
        await nursery.start(run_relay, api.services.db, api.services.bus)
        await nursery.start(run_interaction_sweep, api.services.interactions)
        await nursery.start(partial(Gateway(api.services, gateway_limits).serve, shutdown))
        async with open_browser() as (thread, browser):
            yield Web(f"http://{settings.api_addr}", api, thread, browser)
        shutdown.set()
        nursery.cancel_scope.cancel()
