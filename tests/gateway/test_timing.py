"""The gateway's clock, on trio.testing.MockClock: heartbeats asked for at 1.1 intervals,
connections closed at 1.25 (4000) and 60 s without IDENTIFY (4009), at Discord's own interval
of 41.25 s and to the mock millisecond, with nothing slept for real.

Set-up runs with the clock still (autojump off); then the clock jumps straight to each next
deadline whenever every task waits (autojump_threshold=0), so each wait below ends exactly on
the deadline that ended it. Reads wait up to 120 mock seconds: longer than any deadline here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from gateway.limits import HEARTBEAT_INTERVAL_MS
from tests.gateway.client import connect

if TYPE_CHECKING:
    from trio.testing import MockClock

    from tests.running import ApiClient

INTERVAL_S = HEARTBEAT_INTERVAL_MS / 1000
ASK_S = INTERVAL_S * 1.1
DEADLINE_S = INTERVAL_S * 1.25


async def test_a_silent_client_is_asked_at_1_1_intervals_then_closed_4000_at_1_25(
    api: ApiClient, gateway: str, mock_clock: MockClock
) -> None:
    person = await api.register()
    async with connect(gateway) as client:
        client.wait_s = 120
        await client.identify(person.token)
        hello_at = trio.current_time()  # (the clock stood still through set-up)
        mock_clock.autojump_threshold = 0
        assert await client.receive() == {"op": 1, "d": None, "s": None, "t": None}
        assert trio.current_time() - hello_at == pytest.approx(ASK_S)
        assert await client.closed_with() == 4000  # Discord's "reconnect and resume"
        assert trio.current_time() - hello_at == pytest.approx(DEADLINE_S)


async def test_a_client_that_answers_the_ask_lives_on(
    api: ApiClient, gateway: str, mock_clock: MockClock
) -> None:
    person = await api.register()
    async with connect(gateway) as client:
        client.wait_s = 120
        await client.identify(person.token)
        mock_clock.autojump_threshold = 0
        for _ in range(3):  # each answer counts as the heartbeat it asked for
            assert (await client.receive())["op"] == 1
            asked_at = trio.current_time()
            await client.send(1, client.seq)
            assert (await client.receive())["op"] == 11
            await client.send(4, {"guild_id": None, "channel_id": None})  # op 4: taken, ignored
        assert (await client.receive())["op"] == 1
        assert trio.current_time() - asked_at == pytest.approx(ASK_S)


async def test_a_connection_that_heartbeats_but_never_identifies_closes_4009_at_60_s(
    gateway: str, mock_clock: MockClock
) -> None:
    async with connect(gateway) as client:
        client.wait_s = 120
        hello_at = trio.current_time()
        mock_clock.autojump_threshold = 0

        async def heartbeat() -> None:
            while True:
                await client.send(1, None)
                await trio.sleep(INTERVAL_S)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(heartbeat)
            assert await client.closed_with() == 4009
            nursery.cancel_scope.cancel()
        assert trio.current_time() - hello_at == pytest.approx(60.0)
