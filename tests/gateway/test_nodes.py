"""Several gateway nodes as real processes, sharing PostgreSQL and a real Redis: one API (with
the relay) and two gateways. Sessions move between nodes by RESUME, whatever happened to the
node they were on, and not one event is lost, repeated or reordered on the way."""

from __future__ import annotations

import secrets
import signal
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import trio

from bench.server import running_server
from core.events import Intent
from tests.api.rooms import Room, new_room, send
from tests.api.stage import add_command, callback, interact, invocation, new_stage
from tests.api.test_guilds import add_member
from tests.gateway.client import DEFAULT_INTENTS, connect
from tests.gateway.test_dispatch import presence_of, ready
from tests.running import ApiClient
from tests.test_cli import environment

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bench.server import RunningServer
    from tests.gateway.client import GatewayClient


@asynccontextmanager
async def cluster(
    api: ApiClient, database_url: str, redis_url: str
) -> AsyncIterator[tuple[ApiClient, RunningServer, RunningServer]]:
    """The API node (with the relay) and two gateway nodes; a client for the API node that
    seats members through the test's own database connection."""
    env = environment(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TRIOXIDE_JWT_KEYS=f"nodes:{secrets.token_urlsafe(32)}",  # shared, as they must be
        TRIOXIDE_SHUTDOWN_GRACE_S="2",
    )
    async with AsyncExitStack() as stack:
        servers = []
        for roles, process_id in (("api,worker", "1"), ("gateway", "2"), ("gateway", "3")):
            node_env = {**env, "TRIOXIDE_PROCESS_ID": process_id}
            servers.append(await stack.enter_async_context(running_server(roles, node_env)))
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=servers[0].api_url))
        yield ApiClient(http, api.services), servers[1], servers[2]


async def messages(client: GatewayClient, count: int) -> list[str]:
    return [(await client.dispatch("MESSAGE_CREATE"))["id"] for _ in range(count)]


async def messages_until(client: GatewayClient, name: str) -> list[str]:
    """The ids of the messages dispatched before the dispatch `name`."""
    ids = []
    while (payload := await client.receive())["t"] != name:
        assert payload["t"] == "MESSAGE_CREATE", payload
        ids.append(payload["d"]["id"])
    return ids


async def post(api: ApiClient, room: Room, count: int) -> list[str]:
    return [(await send(api, room.owner, room, content=f"m{i}"))["id"] for i in range(count)]


async def resume(client: GatewayClient, token: str, session_id: str, seq: int) -> None:
    client.seq = seq
    await client.send(6, {"token": token, "session_id": session_id, "seq": seq})


async def test_a_killed_nodes_sessions_resume_on_the_other_with_nothing_lost(
    api: ApiClient, database_url: str, redis_url: str
) -> None:
    async with cluster(api, database_url, redis_url) as (nodes_api, first, second):
        room = await new_room(nodes_api)
        reader = await nodes_api.register()  # on the second node throughout
        lagging = await nodes_api.register()  # on the first node, reading nothing after start
        for person in (reader, lagging):
            await add_member(nodes_api, room.guild_id, person)
        async with connect(second.gateway_url) as watcher:
            await ready(watcher, reader)
            async with connect(first.gateway_url) as owner, connect(first.gateway_url) as behind:
                await ready(owner, room.owner)
                await ready(behind, lagging)
                before = await post(nodes_api, room, 3)
                assert await messages(owner, 3) == before  # through the first node
                assert await messages(watcher, 3) == before  # and through the second
                # The lagging client will have "lost" what came after its GUILD_CREATE.
                moving = [(owner.session_id, owner.seq), (behind.session_id, behind.seq)]

                first.process.kill()  # SIGKILL: no drain, nothing flushed on the way out
                with trio.fail_after(5):
                    await first.process.wait()
            while_down = await post(nodes_api, room, 3)
            assert await messages(watcher, 3) == while_down

            async with connect(second.gateway_url) as owner, connect(second.gateway_url) as behind:
                await resume(owner, room.owner.token, *moving[0])
                await resume(behind, lagging.token, *moving[1])
                assert await messages(owner, 3) == while_down
                await owner.dispatch("RESUMED")
                assert await messages(behind, 6) == before + while_down
                await behind.dispatch("RESUMED")
                after = await post(nodes_api, room, 1)
                for client in (owner, behind, watcher):
                    assert await messages(client, 1) == after


async def test_a_draining_node_sends_its_sessions_to_resume_elsewhere(
    api: ApiClient, database_url: str, redis_url: str
) -> None:
    async with cluster(api, database_url, redis_url) as (nodes_api, first, second):
        room = await new_room(nodes_api)
        async with connect(first.gateway_url) as owner:
            await ready(owner, room.owner)
            before = await post(nodes_api, room, 2)
            assert await messages(owner, 2) == before
            first.process.send_signal(signal.SIGTERM)
            reconnect = await owner.receive()
            assert (reconnect["op"], reconnect["d"]) == (7, None)
            assert await owner.closed_with() == 4000  # resumable
            moving = owner.session_id, owner.seq
        meanwhile = await post(nodes_api, room, 2)
        async with connect(second.gateway_url) as owner:
            await resume(owner, room.owner.token, *moving)
            assert await messages(owner, 2) == meanwhile
            await owner.dispatch("RESUMED")
            after = await post(nodes_api, room, 1)
            assert await messages(owner, 1) == after


async def test_a_session_resumed_on_another_node_leaves_the_live_one(
    api: ApiClient, database_url: str, redis_url: str
) -> None:
    async with cluster(api, database_url, redis_url) as (nodes_api, first, second):
        room = await new_room(nodes_api)
        async with connect(first.gateway_url) as old:
            await ready(old, room.owner)
            before = await post(nodes_api, room, 2)
            assert await messages(old, 1) == before[:1]  # the second is in flight, unread
            async with connect(second.gateway_url) as new:
                await resume(new, room.owner.token, old.session_id, old.seq)
                # Replayed before RESUMED when the first node had sent it by the takeover, else
                # delivered live after it (from the first node's bus position): once, in order.
                replayed = await messages_until(new, "RESUMED")
                assert replayed + await messages(new, 1 - len(replayed)) == before[1:]
                after = await post(nodes_api, room, 1)
                assert await messages(new, 1) == after
                # The first node let the session go: its connection is closed, resumable. The
                # second message may or may not have reached it first: the new node replayed
                # it either way, from the journal.
                assert await old.closed_with() == 4000


async def test_presence_is_one_picture_across_nodes(
    api: ApiClient, database_url: str, redis_url: str
) -> None:
    async with cluster(api, database_url, redis_url) as (nodes_api, first, second):
        room = await new_room(nodes_api)
        watching = DEFAULT_INTENTS | Intent.GUILD_PRESENCES
        async with connect(first.gateway_url) as owner, connect(second.gateway_url) as member:
            await owner.identify(room.owner.token, intents=watching)
            await owner.dispatch("GUILD_CREATE")
            await member.identify(room.member.token, presence={"status": "dnd", "activities": []})
            await member.dispatch("GUILD_CREATE")
            assert (await presence_of(owner, room.member))["status"] == "dnd"
            async with connect(first.gateway_url) as late:  # the member is on the other node
                await late.identify(room.owner.token, intents=watching)
                presences = (await late.dispatch("GUILD_CREATE"))["presences"]
                assert {p["user"]["id"]: p["status"] for p in presences} == {
                    str(room.owner.id): "online",
                    str(room.member.id): "dnd",
                }
            # The member's latest session decides what others see; when it ends, the one
            # left on the other node does.
            async with connect(first.gateway_url) as again:
                await again.identify(room.member.token, presence={"status": "idle"})
                assert (await presence_of(owner, room.member))["status"] == "idle"
                await again.close(1000)
            assert (await presence_of(owner, room.member))["status"] == "dnd"
            await member.close(1000)
            assert (await presence_of(owner, room.member))["status"] == "offline"


async def test_an_interaction_replayed_on_another_node_carries_its_token(
    api: ApiClient, database_url: str, redis_url: str
) -> None:
    """INTERACTION_CREATE is stored without its token (the gateway derives it): a bot resuming
    on another node gets it replayed from the outbox with the same token, and can answer."""
    async with cluster(api, database_url, redis_url) as (nodes_api, first, second):
        stage = await new_stage(nodes_api)
        command = await add_command(nodes_api, stage)
        async with connect(first.gateway_url) as old:
            await old.identify(stage.bot_token)
            await old.dispatch("GUILD_CREATE")
            before = old.seq
            invoked = await interact(nodes_api, stage.room.member, invocation(stage, command))
            assert invoked.status_code == 204, invoked.text
            live = await old.next_named("INTERACTION_CREATE")
            async with connect(second.gateway_url) as new:
                await resume(new, stage.bot_token, old.session_id, before)
                replayed = await new.next_named("INTERACTION_CREATE")
        assert replayed["id"] == live["id"]
        assert replayed["token"] == live["token"]
        assert not live["token"].startswith("sealed:")
        answered = await callback(nodes_api, replayed, {"type": 4, "data": {"content": "ok"}})
        assert answered.status_code == 200, answered.text
