"""The SFU tests' running SFU (on a free loopback port) and the UDP clients they make of it
(tests/native/sfu_client.py), closed with the test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from core.sfu import open_sfu
from tests.native.sfu_client import Clients

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from core.sfu import Sfu


@pytest.fixture
async def sfu() -> AsyncIterator[Sfu]:
    async with open_sfu("127.0.0.1", 0) as running:
        yield running


@pytest.fixture
def clients() -> Iterator[Clients]:
    made = Clients()
    yield made
    made.close()
