from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.api.rooms import Room, new_room

if TYPE_CHECKING:
    from tests.running import ApiClient


@pytest.fixture
async def room(api: ApiClient) -> Room:
    return await new_room(api)
