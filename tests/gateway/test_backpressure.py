"""A consumer too slow for the flow is closed with 4000 and loses nothing: its RESUME gets the
rest, in order, while everyone else's delivery goes on untouched."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from core.events import EventName, Published
from gateway.server import GatewayLimits
from gateway.session import slow_consumers
from tests.api.rooms import new_room
from tests.conftest import running_gateway
from tests.gateway.client import Closed, connect
from tests.gateway.test_dispatch import ready

if TYPE_CHECKING:
    from tests.running import ApiClient

EVENTS = 5000
PER_BATCH = 50
# 3 KB each: 15 MB in all, past the kernel's 4 MB send buffer and the 256 KB queue below.
FILLER = "x" * 3000


async def test_a_slow_consumer_is_closed_and_resumes_with_everything(api: ApiClient) -> None:
    room = await new_room(api)
    guild_id, channel_id = int(room.guild_id), int(room.channel_id)
    ids = [api.services.snowflakes.next_id() for _ in range(EVENTS)]
    events = [
        Published(
            event_id,
            EventName.MESSAGE_CREATE,
            guild_id,
            channel_id,
            (),
            orjson.dumps({"id": str(event_id), "channel_id": room.channel_id, "content": FILLER}),
        )
        for event_id in ids
    ]
    limits = GatewayLimits(max_queued_bytes=256 * 1024)
    closed_before = slow_consumers()[()]
    async with running_gateway(api, limits) as url, connect(url) as fast:
        await ready(fast, room.owner)
        async with connect(url, receive_buffer=8192) as slow:
            await ready(slow, room.member)
            # The fast one keeps up (it reads each batch as it comes); the slow one reads
            # nothing at all while the whole flow passes.
            fast_got: list[str] = []
            for start in range(0, EVENTS, PER_BATCH):
                await api.services.bus.publish(events[start : start + PER_BATCH])
                for _ in range(PER_BATCH):
                    fast_got.append((await fast.dispatch("MESSAGE_CREATE"))["id"])
            assert fast_got == [str(i) for i in ids]  # all of it, in order, never closed

            # The slow one reads what reached it, in order, then finds itself closed.
            slow_got: list[str] = []
            closed = None
            while closed is None:
                try:
                    slow_got.append((await slow.dispatch("MESSAGE_CREATE"))["id"])
                except Closed as error:
                    closed = error.code
            assert closed == 4000
            assert len(slow_got) < EVENTS
            assert slow_consumers()[()] == closed_before + 1  # counted, for the metrics
            session_id, seq = slow.session_id, slow.seq

        async with connect(url) as again:
            again.seq = seq
            await again.send(6, {"token": room.member.token, "session_id": session_id, "seq": seq})
            while len(slow_got) < EVENTS:
                slow_got.append((await again.dispatch("MESSAGE_CREATE"))["id"])
            assert await again.dispatch("RESUMED") == {}
        assert slow_got == [str(i) for i in ids]
