"""Voice tokens are never kept nor carried in the clear: the voice board keeps their digests,
the bus and the gateway's journal (both in Redis) the sealed form; the session alone gets the
token, live and replayed on another gateway node, and it is the one a voice IDENTIFY needs."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import orjson
import trio

from core.events import EventName
from core.store.redis import KEY_PREFIX
from tests.api.rooms import new_room
from tests.gateway.client import connect
from tests.gateway.test_nodes import cluster, resume
from tests.gateway.test_voice_signalling import (
    RecordingNode,
    join,
    joined,
    ready,
    voice_channel,
)

if TYPE_CHECKING:
    from core.store.redis import Redis
    from tests.running import ApiClient


async def redis_holds(redis: Redis, text: str) -> list[str]:
    """The keys of ours whose values contain `text` anywhere: strings, hashes, sets, sorted
    sets and streams (the bus, the journal)."""
    found = []
    cursor = b"0"
    while True:
        cursor, keys = await redis.execute("SCAN", cursor, "MATCH", f"{KEY_PREFIX}*", "COUNT", 500)
        for raw in keys:
            key = bytes(raw).decode()
            kind = bytes(await redis.execute("TYPE", key)).decode()
            reads = {
                "string": ("GET", key),
                "hash": ("HGETALL", key),
                "set": ("SMEMBERS", key),
                "zset": ("ZRANGE", key, 0, -1),
                "stream": ("XRANGE", key, "-", "+"),
                "list": ("LRANGE", key, 0, -1),
            }
            if kind in reads and text.encode() in repr(await redis.execute(*reads[kind])).encode():
                found.append(key)
        if bytes(cursor) == b"0":
            return found


async def test_the_token_reaches_its_session_live_and_replayed_and_never_redis(
    api: ApiClient, database_url: str, redis_url: str, redis: Redis
) -> None:
    async with cluster(api, database_url, redis_url) as (nodes_api, first, second):
        room = await new_room(nodes_api)
        channel = await voice_channel(nodes_api, room)
        async with connect(first.gateway_url) as old:
            await ready(old, room.member)
            before = old.seq
            await join(old, room.guild_id, channel)
            _, live = await joined(old)
            token = live["token"]
            assert len(token) == 32
            assert not token.startswith("sealed:")
            async with connect(second.gateway_url) as new:
                await resume(new, room.member.token, old.session_id, before)
                # (A session that was in voice resumes: voice events are journaled whole.)
                replayed_state = await new.next_named("VOICE_STATE_UPDATE")
                replayed: dict[str, Any] = await new.next_named("VOICE_SERVER_UPDATE")
                assert replayed == live  # from the first node's journal, revealed again
                assert replayed_state["channel_id"] == channel
                # The bus and the journal hold neither the token nor its digest; the board
                # its digest alone.
                assert await redis_holds(redis, token) == []
                digest = hashlib.sha256(token.encode()).hexdigest()
                assert await redis_holds(redis, digest) == [f"{KEY_PREFIX}voice:{room.guild_id}"]
                # (Leaving, so that no state outlives the cluster: other tests sweep Redis.)
                await join(new, room.guild_id, None)
                assert (await new.next_named("VOICE_STATE_UPDATE"))["channel_id"] is None


async def test_only_the_token_grants_and_the_bus_carries_it_sealed(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    channel = await voice_channel(api, room)
    voice = api.services.voice
    node = RecordingNode("node-tokens", "127.0.0.1:50996")
    async with (
        trio.open_nursery() as nursery,
        api.services.bus.subscribe() as bus,
        connect(gateway) as member,
    ):
        await nursery.start(voice.serve_node, node)
        await ready(member, room.member)
        await join(member, room.guild_id, channel)
        _, server = await joined(member)
        token = server["token"]
        carried = [
            event
            for batch in [bus.receive_nowait() for _ in range(bus.statistics().current_buffer_used)]
            for event in batch.events
        ]
        [sealed] = [
            orjson.loads(e.payload)["token"]
            for e in carried
            if e.name is EventName.VOICE_SERVER_UPDATE
        ]
        assert sealed.startswith("sealed:")
        assert not any(token.encode() in e.payload for e in carried)
        [state] = await voice.board.of_user([int(room.guild_id)], room.member.id)
        assert state.token_digest == hashlib.sha256(token.encode()).hexdigest()
        assert node.changes[-1].token_digest == state.token_digest
        guild, user = int(room.guild_id), room.member.id
        assert await voice.grant(guild, user, member.session_id, token) == state
        assert await voice.grant(guild, user, member.session_id, state.token_digest) is None
        assert await voice.grant(guild, user, member.session_id, token.upper()) is None
        nursery.cancel_scope.cancel()
