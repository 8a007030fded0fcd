"""PostgreSQL stopped (`pg_ctl stop -m immediate`) and started again under one process serving
every role, with sessions connected: they stay, the API says 503, a new IDENTIFY is closed
resumable; once the database is back everything recovers by itself, nothing lost or repeated.
Issue #18: the next IDENTIFY used to end every connection and the process."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from bench.server import running_server
from tests.api.rooms import new_room
from tests.faults.nodes import ChannelReader, api_client, node_environment, post, post_when_back
from tests.gateway.client import DEFAULT_INTENTS, connect
from tests.gateway.test_dispatch import ready

if TYPE_CHECKING:
    from pathlib import Path

    from core.config import Settings
    from tests.faults.servers import OwnPostgres

# How long a new IDENTIFY may wait for the database before it is closed: the pool's wait
# (TRIOXIDE_DB_TIMEOUT_S below) and a connection attempt, with room to spare.
IDENTIFY_CLOSE_S = 10


async def test_postgres_stopped_and_restarted_under_sessions_recovers_by_itself(
    own_postgres: OwnPostgres, settings: Settings, tmp_path: Path
) -> None:
    # Several seconds: a server process starts on a new cluster (migrations), the cluster stops
    # and recovers from its WAL, and requests wait out the pool's timeout meanwhile.
    database_url = own_postgres.url("trioxide")
    env = node_environment(database_url, TRIOXIDE_DB_TIMEOUT_S="2")
    async with (
        running_server("api,gateway,worker", env) as server,
        api_client(server.api_url, database_url, settings, tmp_path) as api,
    ):
        room = await new_room(api)
        reader = ChannelReader(server.gateway_url, room.owner)
        try:
            await reader.open()
            before = await post_when_back(api, room, room.owner.auth, "before")
            assert await reader.messages(1) == [before]

            await trio.to_thread.run_sync(own_postgres.stop_immediately)
            await reader.heartbeat()  # a session from before the outage is still served
            during = await post(api, room, room.owner.auth, "during")
            assert during.status_code == 503, (during.status_code, during.text)
            async with connect(server.gateway_url) as newcomer:
                await newcomer.send(
                    2, {"token": room.member.token, "intents": DEFAULT_INTENTS, "properties": {}}
                )
                with trio.fail_after(IDENTIFY_CLOSE_S):
                    assert await newcomer.closed_with() == 4000  # resumable: try again later
            await reader.heartbeat()

            await trio.to_thread.run_sync(own_postgres.start)
            after = await post_when_back(api, room, room.owner.auth, "after")
            assert await reader.messages(1) == [after]
            async with connect(server.gateway_url) as newcomer:
                await ready(newcomer, room.member)
            barrier = await post_when_back(api, room, room.owner.auth, "barrier")
            assert await reader.messages(1) == [barrier]  # `after` came once
            assert reader.resumes == 0
        finally:
            await reader.aclose()
        assert server.process.poll() is None, "the process ended"
