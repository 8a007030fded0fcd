"""Voice with several processes, as Voice services sharing one real Redis (and, for comparison,
one process's memory board): a channel's last place and its node assignment taken in one step
whatever runs at the same moment, the states of a gateway node gone silent swept away (unless
their session was taken over), a dead voice node pruned with its channels, and a deleted
guild's calls ended."""

from __future__ import annotations

import secrets
import time
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

import orjson
import pytest
import trio

from core.access import AccessCache
from core.bus import BusLost, InProcessBus, RedisBus
from core.events import EventName
from core.store.redis import KEY_PREFIX, open_redis
from core.voice import Voice
from core.voice_states import MemoryVoiceBoard
from core.voice_states_redis import NODE_SILENT_S, RedisVoiceBoard
from tests.api.rooms import new_room
from tests.api.test_guilds import add_member
from tests.gateway.test_voice_signalling import RecordingNode, voice_channel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from core.bus import Bus
    from core.store.redis import Redis
    from tests.running import ApiClient


async def redis_bus(redis: Redis) -> RedisBus:
    bus = RedisBus(redis)
    try:  # (the relay makes the stream; none runs here)
        await bus.check_kept()
    except BusLost:
        await bus.restore([])
    return bus


@asynccontextmanager
async def two_processes(
    api: ApiClient, redis_url: str | None
) -> AsyncIterator[tuple[Voice, Voice]]:
    """Two Voice services on one Redis, as two processes have; without `redis_url`, one
    process's service twice (its memory board is the one board)."""
    db, keys = api.services.db, api.services.accounts.keys
    if redis_url is None:
        one = Voice(db, AccessCache(), InProcessBus(), MemoryVoiceBoard(), keys)
        yield one, one
        return
    async with open_redis(redis_url) as redis:
        bus: Bus = await redis_bus(redis)
        yield (
            Voice(db, AccessCache(), bus, RedisVoiceBoard(redis), keys),
            Voice(db, AccessCache(), bus, RedisVoiceBoard(redis), keys),
        )


@pytest.fixture(params=["memory", "redis"])
def board_url(request: pytest.FixtureRequest) -> str | None:
    """Where the board is: None for memory, else Redis's URL."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


async def test_a_channels_last_place_goes_to_one_of_many_joining_at_once(
    api: ApiClient, board_url: str | None
) -> None:
    room = await new_room(api)
    guild = int(room.guild_id)
    channel = int(await voice_channel(api, room, user_limit=2))
    people = [await api.register() for _ in range(6)]
    for person in people:
        await add_member(api, room.guild_id, person)
    async with two_processes(api, board_url) as (one, two):
        async with trio.open_nursery() as nursery:  # each join yields at every Redis round trip
            for n, person in enumerate(people):
                voice = one if n % 2 else two
                nursery.start_soon(
                    partial(
                        voice.request,
                        f"s-{person.id}",
                        person.id,
                        guild,
                        channel,
                        self_mute=False,
                        self_deaf=False,
                    )
                )
        states = (await one.board.of_guilds([guild]))[guild]
        assert len(states) == 2
        assert {s.channel_id for s in states.values()} == {channel}


async def test_a_channel_emptied_and_joined_at_once_keeps_its_node(
    api: ApiClient, board_url: str | None
) -> None:
    """A leave that empties the channel releases its node; a join at the same moment either
    came first (the channel is not empty: kept) or after (assigned again): never a member in
    a channel without a node."""
    room = await new_room(api)
    guild = int(room.guild_id)
    node = RecordingNode(f"node-{guild}", "10.0.0.2:8082")
    async with two_processes(api, board_url) as (one, two), trio.open_nursery() as nursery:
        await nursery.start(one.serve_node, node)
        for _ in range(10):
            channel = int(await voice_channel(api, room))
            owner, member = room.owner.id, room.member.id
            await one.request("owner", owner, guild, channel, self_mute=False, self_deaf=False)
            async with trio.open_nursery() as racing:
                racing.start_soon(
                    partial(
                        two.request, "owner", owner, guild, None, self_mute=False, self_deaf=False
                    )
                )
                racing.start_soon(
                    partial(
                        one.request,
                        "member",
                        member,
                        guild,
                        channel,
                        self_mute=False,
                        self_deaf=False,
                    )
                )
            [left] = (await one.board.of_guilds([guild]))[guild].values()
            assert left.user_id == member
            assert await one.board.node_of(channel) == node.name
            await two.end_session("member", member, [guild])
            assert await one.board.node_of(channel) is None
        nursery.cancel_scope.cancel()


async def test_a_silent_gateway_nodes_voice_states_are_swept_but_a_taken_over_one_stays(
    api: ApiClient, redis: Redis, redis_url: str
) -> None:
    room = await new_room(api)
    guild = int(room.guild_id)
    channel = int(await voice_channel(api, room))
    dead, live = f"gw-dead-{secrets.token_hex(4)}", f"gw-live-{secrets.token_hex(4)}"
    node = RecordingNode(f"node-{guild}", "10.0.0.3:8082")
    bus = await redis_bus(redis)
    async with (
        two_processes(api, redis_url) as (one, two),
        trio.open_nursery() as nursery,
        bus.subscribe() as batches,
    ):
        await nursery.start(two.serve_node, node)
        # Both sessions were held by the gateway node that falls silent; the member's was
        # then taken over by the live one (a RESUME there).
        for session, user in (("s-owner", room.owner.id), ("s-member", room.member.id)):
            await one.request(
                session, user, guild, channel, self_mute=False, self_deaf=False, holder=dead
            )
        await two.adopt("s-member", room.member.id, [guild], live)
        assert await two.sweep(live, silent_s=3600) == 0  # nobody silent that long
        swept = await two.sweep(live, silent_s=0)  # the dead node's stamp is in the past
        assert swept == 1
        [kept] = (await one.board.of_guilds([guild]))[guild].values()
        assert kept.user_id == room.member.id
        assert await two.sweep(live, silent_s=0) == 0  # swept once, by one node
        assert node.changes[-1].channel_id is None
        assert node.changes[-1].user_id == room.owner.id
        with trio.fail_after(5):
            while True:
                batch = await batches.receive()
                told = [
                    orjson.loads(e.payload)
                    for e in batch.events
                    if e.name is EventName.VOICE_STATE_UPDATE
                ]
                if any(t["channel_id"] is None for t in told):
                    break
        assert told[-1]["user_id"] == str(room.owner.id)
        assert told[-1]["member"]["user"]["id"] == str(room.owner.id)
        # The adopted session ends with its new node: its held entry goes with it.
        await two.end_session("s-member", room.member.id, [guild], live)
        assert await one.board.of_guilds([guild]) == {}
        assert await one.board.node_of(channel) is None
        nursery.cancel_scope.cancel()


async def test_a_dead_voice_node_is_pruned_with_its_channels_which_go_to_a_live_one(
    api: ApiClient, redis: Redis, redis_url: str
) -> None:
    """A voice node that stopped refreshing its entry (its process died) leaves the board,
    endpoint and channel assignments with it, pruned by one of the processes that look; the
    next join gives its channel to a live node."""
    room = await new_room(api)
    guild = int(room.guild_id)
    channel = int(await voice_channel(api, room))
    dead = f"voice-dead-{secrets.token_hex(4)}"
    async with two_processes(api, redis_url) as (one, two), trio.open_nursery() as nursery:
        await one.board.register(dead, "10.0.0.9:8082")  # the only node: it gets the channel
        await two.request(
            "s-owner", room.owner.id, guild, channel, self_mute=False, self_deaf=False
        )
        assert await two.board.node_of(channel) == dead
        live = RecordingNode(f"voice-live-{secrets.token_hex(4)}", "10.0.0.8:8082")
        await nursery.start(two.serve_node, live)
        assert await one.board.prune_nodes() == []  # both spoke lately
        # The dead node's last word was NODE_SILENT_S ago.
        stamp = time.time() - NODE_SILENT_S - 1
        await redis.execute("ZADD", f"{KEY_PREFIX}voice-nodes", stamp, dead)
        pruned: list[list[str]] = []

        async def prune(voice: Voice) -> None:
            pruned.append(await voice.board.prune_nodes())

        async with trio.open_nursery() as racing:
            racing.start_soon(prune, one)
            racing.start_soon(prune, two)
        assert sorted(pruned) == [[], [dead]]  # by one of them
        assert await redis.execute("ZSCORE", f"{KEY_PREFIX}voice-nodes", dead) is None
        assert await redis.execute("HGET", f"{KEY_PREFIX}voice-endpoints", dead) is None
        assert await redis.execute("EXISTS", f"{KEY_PREFIX}voice-served:{dead}") == 0
        assert await one.board.node_of(channel) is None
        assert await one.board.nodes() == {live.name: live.endpoint}
        await two.request(
            "s-member", room.member.id, guild, channel, self_mute=False, self_deaf=False
        )
        assert await one.board.node_of(channel) == live.name
        assert live.changes[-1].user_id == room.member.id
        nursery.cancel_scope.cancel()
    # The live one unregistered on its way out, its channel with it.
    assert await redis.execute("ZSCORE", f"{KEY_PREFIX}voice-nodes", live.name) is None
    assert await redis.execute("GET", f"{KEY_PREFIX}voice-channel:{channel}") is None
