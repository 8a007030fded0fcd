"""redis-server SIGKILLed and restarted, empty, under two processes (api,worker and gateway):
every message the API accepted reaches a connected client once, in order, and both processes
live. Issue #18: the worker used to exit, and what was committed meanwhile reached no one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import trio

from bench.server import read_log_until, running_server
from core.events import Intent
from core.store.redis import open_redis
from gateway import server
from gateway.limits import GatewayLimits
from tests.api.rooms import new_room
from tests.conftest import fresh_database, running_gateway
from tests.faults.nodes import ChannelReader, api_client, node_environment, post, post_when_back
from tests.gateway.client import DEFAULT_INTENTS, connect
from tests.gateway.test_dispatch import add_bot, settle
from tests.running import running_api

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from core.config import Settings
    from core.store.database import Database
    from tests.faults.servers import OwnRedis


async def test_redis_killed_and_restarted_under_two_processes_loses_and_repeats_nothing(
    postgres_admin_url: str, own_redis: OwnRedis, settings: Settings, tmp_path: Path
) -> None:
    # Several seconds: two server processes start (migrations, listeners), Redis is killed and
    # started again, and the relay's retry backoff runs before the outage's messages go out.
    with fresh_database(postgres_admin_url) as database_url:
        env = node_environment(database_url, REDIS_URL=own_redis.url)
        async with (
            running_server("api,worker", {**env, "TRIOXIDE_PROCESS_ID": "1"}) as worker,
            running_server("gateway", {**env, "TRIOXIDE_PROCESS_ID": "2"}) as gateway,
            api_client(worker.api_url, database_url, settings, tmp_path) as api,
        ):
            room = await new_room(api)
            _, bot_token = await add_bot(api, room)
            bot = {"Authorization": f"Bot {bot_token}"}  # a bot's token is checked without Redis
            reader = ChannelReader(gateway.gateway_url, room.owner)
            try:
                await reader.open()
                before = [await post_when_back(api, room, bot, f"before {n}") for n in range(3)]
                assert await reader.messages(3) == before

                await trio.to_thread.run_sync(own_redis.kill)
                during = []
                for n in range(3):
                    response = await post(api, room, bot, f"during {n}")
                    assert response.status_code in (200, 503), response.text
                    if response.status_code == 200:  # committed: it must arrive
                        during.append(str(response.json()["id"]))
                await trio.to_thread.run_sync(own_redis.start)  # empty: the stream is gone
                after = [await post_when_back(api, room, bot, f"after {n}") for n in range(3)]

                # Each once, in order, whatever the gateway did meanwhile (close 4000, resume).
                assert await reader.messages(len(during) + 3) == during + after
                # Nothing more is on its way: the next message is the next one posted.
                barrier = await post_when_back(api, room, bot, "barrier")
                assert await reader.messages(1) == [barrier]
            finally:
                await reader.aclose()
            assert worker.process.poll() is None, "the api,worker process ended"
            assert gateway.process.poll() is None, "the gateway process ended"


async def test_a_session_held_up_by_a_redis_outage_is_closed_4000_and_resumes_whole(
    settings: Settings, db: Database, own_redis: OwnRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # About two seconds: the outage deadline is shrunk to one second, and it must pass. With
    # several nodes a dispatch waits for the journal in Redis; while Redis is away, a session
    # held up past the deadline is closed resumably, and once Redis is back its RESUME gets
    # what was held, once and in order.
    limits = GatewayLimits(bus_outage_close_s=1.0)
    async with (
        open_redis(own_redis.url) as redis,
        running_api(settings, db, redis=redis) as api,
        running_gateway(api, limits) as url,
    ):
        room = await new_room(api)
        _, token = await add_bot(api, room)  # a bot's token is checked without Redis
        async with connect(url) as bot:
            bot.wait_s = 10
            await bot.identify(token, intents=DEFAULT_INTENTS | Intent.GUILD_MEMBERS)
            await bot.dispatch("GUILD_CREATE")
            # Everything the set-up committed reaches the bot first: an event still on its way
            # would be held by the outage too, and close the bot before its op 8 is sent.
            await settle(api, room, bot)
            session_id, seq = bot.session_id, bot.seq
            await trio.to_thread.run_sync(own_redis.kill)
            await bot.send(8, {"guild_id": room.guild_id, "query": "", "limit": 0})
            async with connect(url) as newcomer:  # more than may wait is waiting: turned away
                monkeypatch.setattr(server, "MAX_STAGED", 0)
                await newcomer.send(2, {"token": token, "intents": 0, "properties": {}})
                assert await newcomer.closed_with() == 4000
                monkeypatch.undo()
            assert await bot.closed_with() == 4000  # held: nothing came, and it was told so
        await trio.to_thread.run_sync(own_redis.start)  # empty
        async with connect(url) as bot:
            bot.wait_s = 10
            bot.seq = seq
            await bot.send(6, {"token": token, "session_id": session_id, "seq": seq})
            chunk = await bot.dispatch("GUILD_MEMBERS_CHUNK")  # what was held, first
            assert len(chunk["members"]) == 3
            assert await bot.dispatch("RESUMED") == {}


async def test_a_gateway_started_while_redis_is_away_waits_for_it_and_serves(
    postgres_admin_url: str, own_redis: OwnRedis, tmp_path: Path
) -> None:
    # A few seconds: a server process starts, and waits out one retry after Redis is back.
    await trio.to_thread.run_sync(own_redis.kill)
    with fresh_database(postgres_admin_url) as database_url:
        env = {
            **os.environ,
            **node_environment(database_url, REDIS_URL=own_redis.url),
            "TRIOXIDE_GATEWAY_ADDR": "127.0.0.1:0",
            "TRIOXIDE_DATA_DIR": str(tmp_path / "data"),
            "TRIOXIDE_LOG_FORMAT": "json",
        }
        command = [sys.executable, "-m", "trioxide", "serve", "--roles", "gateway"]
        process = await trio.lowlevel.open_process(command, env=env, stdout=subprocess.PIPE)
        try:
            log: list[dict[str, object]] = []
            with trio.fail_after(30):
                await read_log_until(process, log, "store unavailable")  # it met the outage
                assert process.returncode is None
                await trio.to_thread.run_sync(own_redis.start)
                await read_log_until(process, log, "ready")  # and carried on once Redis was back
            assert process.returncode is None
        finally:
            process.send_signal(signal.SIGTERM)
            with trio.fail_after(15):
                await process.wait()
