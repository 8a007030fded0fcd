"""Libraries find the gateway through `GET /gateway/bot`, so here the gateway listens on a
port known before the API starts (the default settings let the gateway pick one)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from core.config import Address
from tests.compat.asyncio_thread import collect_leftovers
from tests.running import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from core.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, gateway_addr=Address("127.0.0.1", free_port()))


@pytest.fixture(autouse=True)
def _collect_garbage_after() -> Iterator[None]:
    """What a library left behind on its asyncio loop is collected at the end of the test that
    ran it, not by some later test's garbage collection (asyncio_thread.collect_leftovers)."""
    yield
    collect_leftovers()
