from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from tests.api.rooms import Room, new_room
from tests.api.test_ratelimits import frozen_clock
from tests.running import running_api

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from core.config import Settings
    from core.store.database import Database
    from tests.running import ApiClient


@pytest.fixture
async def room(api: ApiClient) -> Room:
    return await new_room(api)


@pytest.fixture
async def limited(settings: Settings, db: Database) -> AsyncIterator[ApiClient]:
    """An API with rate limits on, under a still clock: every request falls in one window,
    however slow the machine."""
    async with running_api(
        dataclasses.replace(settings, rate_limits=True), db, frozen_clock
    ) as api:
        yield api
