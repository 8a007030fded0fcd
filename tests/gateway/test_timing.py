"""The gateway's clock, on trio.testing.MockClock: heartbeats asked for at 1.1 intervals,
connections closed at 1.25 (4000) and 60 s without IDENTIFY (4009), at Discord's own interval
of 41.25 s and to the mock millisecond; the 120 s resume window; nothing slept for real.

Set-up runs with the clock still (autojump off); then the clock jumps straight to each next
deadline whenever every task waits (autojump_threshold=0), so each wait below ends exactly on
the deadline that ended it. Reads wait up to 120 mock seconds (1,000 where the clock may jump
while the database answers): longer than any deadline they wait for. Where a step must read
the database (a RESUME) while other timers are pending, the clock stands still for it: a jump
while PostgreSQL answers would otherwise pass deadlines no real client would ever see pass.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest
import trio

from core.events import Intent
from gateway.limits import HEARTBEAT_INTERVAL_MS
from gateway.session import RESUME_WINDOW_S
from tests.api.rooms import new_room
from tests.gateway.client import DEFAULT_INTENTS, connect
from tests.gateway.test_dispatch import presence_of, ready

if TYPE_CHECKING:
    from trio.testing import MockClock

    from tests.api.rooms import Room
    from tests.gateway.client import GatewayClient
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
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keep_alive, client)
            assert await client.closed_with() == 4009
            nursery.cancel_scope.cancel()
        assert trio.current_time() - hello_at == pytest.approx(60.0)


async def test_a_session_is_resumable_for_the_window_then_ends_and_goes_offline(
    api: ApiClient, gateway: str, mock_clock: MockClock
) -> None:
    room = await new_room(api)
    watching = DEFAULT_INTENTS | Intent.GUILD_PRESENCES
    async with connect(gateway) as owner:
        owner.wait_s = 1000
        await owner.identify(room.owner.token, intents=watching)
        await owner.dispatch("GUILD_CREATE")
        async with connect(gateway) as member:
            await ready(member, room.member)
            assert (await presence_of(owner, room.member))["status"] == "online"
            session_id, seq = member.session_id, member.seq
            await member.close(4000)  # resumable: the session waits for its client
        mock_clock.autojump_threshold = 0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keep_alive, owner)
            await _resumable_for_the_window(gateway, owner, room, session_id, seq, mock_clock)
            nursery.cancel_scope.cancel()


async def keep_alive(client: GatewayClient) -> None:
    """Heartbeats on time, as a client does, so mock hours can pass on its connection."""
    while True:
        await client.send(1, client.seq or None)
        await trio.sleep(INTERVAL_S)


async def _resumable_for_the_window(
    gateway: str,
    owner: GatewayClient,
    room: Room,
    session_id: str,
    seq: int,
    clock: MockClock,
) -> None:
    resume = {"token": room.member.token, "session_id": session_id, "seq": seq}
    await trio.sleep(RESUME_WINDOW_S - 1)  # (mock seconds: the clock jumps)
    clock.autojump_threshold = math.inf  # still while the resume reads the database
    async with connect(gateway) as back:
        back.seq = seq
        await back.send(6, resume)
        assert await back.next_named("RESUMED") == {}
        seq = back.seq
        await back.close(4000)  # and away again
    left_at = trio.current_time()
    clock.autojump_threshold = 0
    # The window passes and the session ends (checked every quarter window); its user
    # goes offline with it. It was never offline while it could be resumed.
    assert (await presence_of(owner, room.member))["status"] == "offline"
    gone_for = trio.current_time() - left_at
    assert RESUME_WINDOW_S < gone_for <= RESUME_WINDOW_S * 1.25 + 1
    clock.autojump_threshold = math.inf
    async with connect(gateway) as late:
        await late.send(6, resume | {"seq": seq})
        assert await late.receive() == {"op": 9, "d": False, "s": None, "t": None}
