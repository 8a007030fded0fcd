"""The outbox relay against a real PostgreSQL: what commits is published, in id order, woken
by NOTIFY, with polling and reconnection behind it; what rolls back never is."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import pytest
import trio

from core.bus import Batch, Bus, InProcessBus, RedisBus, SeenIds
from core.events import Event, EventName, Published
from core.journal import Journal
from core.relay import OUTBOX_RETENTION_S, forget_published, run_relay
from core.snowflakes import SnowflakeGenerator, first_snowflake_at
from core.store import outbox
from core.store.database import open_database
from core.store.migrations import apply_migrations, load_migrations
from core.store.redis import open_redis
from tests.api.rooms import new_room
from tests.conftest import fresh_database

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from core.store.database import Connection, Database
    from tests.running import ApiClient

journal = Journal(SnowflakeGenerator(1, 1))
snowflakes = SnowflakeGenerator(1, 2)  # for rows this file writes by hand


def typing_in(channel_id: int) -> Event:
    return Event(EventName.TYPING_START, {"channel_id": str(channel_id)}, channel_id=channel_id)


@pytest.fixture
def own_database_url(postgres_admin_url: str) -> Iterator[str]:
    """A migrated database of this test's own: the relay publishes everything pending."""
    with fresh_database(postgres_admin_url) as url:
        apply_migrations(url, load_migrations())
        yield url


@pytest.fixture
async def own_db(own_database_url: str) -> AsyncIterator[Database]:
    async with open_database(own_database_url, pool_size=4, timeout_s=5) as database:
        yield database


async def commit(db: Database, *channel_ids: int) -> None:
    await db.run(lambda c: journal.emit(c, *(typing_in(i) for i in channel_ids)))


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    """Each relay test against the in-process bus and the Redis Stream one."""
    if request.param == "memory":
        yield InProcessBus()
        return
    async with open_redis(request.getfixturevalue("redis_url")) as client:
        yield RedisBus(client)


async def next_channels(received: trio.MemoryReceiveChannel[Batch]) -> list[int]:
    with trio.fail_after(5):
        batch = await received.receive()
    return [event.channel_id or 0 for event in batch.events]


async def test_what_was_pending_is_published_in_order_and_marked(
    own_db: Database, bus: Bus
) -> None:
    await commit(own_db, 1, 2)
    await commit(own_db, 3)
    async with bus.subscribe() as received, trio.open_nursery() as nursery:
        await nursery.start(run_relay, own_db, bus)
        assert await next_channels(received) == [1, 2, 3]
        assert await own_db.autocommit(lambda c: outbox.pending(c, 10)) == []
        nursery.cancel_scope.cancel()


async def test_a_commit_wakes_the_relay_and_a_rollback_publishes_nothing(
    own_db: Database, bus: Bus
) -> None:
    async with bus.subscribe() as received, trio.open_nursery() as nursery:
        # Polling once an hour: only the NOTIFY of a commit can wake it in time.
        await nursery.start(
            lambda task_status: run_relay(own_db, bus, poll_s=3600, task_status=task_status)
        )

        def rolled_back(connection: Connection) -> None:
            journal.emit(connection, typing_in(7))
            raise LookupError("changed my mind")

        with pytest.raises(LookupError):
            await own_db.run(rolled_back)
        await commit(own_db, 8)
        assert await next_channels(received) == [8]
        nursery.cancel_scope.cancel()


async def test_polling_finds_events_whose_notification_never_came(
    own_db: Database, bus: Bus
) -> None:
    await own_db.run(lambda c: c.execute("ALTER TABLE outbox DISABLE TRIGGER outbox_notify"))
    async with bus.subscribe() as received, trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_relay(own_db, bus, poll_s=0.05, task_status=task_status)
        )
        await commit(own_db, 5)
        assert await next_channels(received) == [5]
        nursery.cancel_scope.cancel()


async def test_the_relay_comes_back_after_its_connection_is_cut(own_db: Database, bus: Bus) -> None:
    async with bus.subscribe() as received, trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_relay(own_db, bus, poll_s=3600, task_status=task_status)
        )
        cut = await own_db.autocommit(
            lambda c: c.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%%' AND datname = current_database()"
            ).fetchone()
        )
        assert cut == (1,)
        await commit(own_db, 6)
        assert await next_channels(received) == [6]
        nursery.cancel_scope.cancel()


def test_a_second_delivery_of_an_id_is_dropped_and_memory_stays_bounded() -> None:
    seen = SeenIds(size=2)
    assert [seen.first_time(i) for i in (1, 2, 1, 3)] == [True, True, False, True]
    assert seen.first_time(1)  # forgotten: the window holds the last two ids only


async def test_a_posted_message_reaches_the_bus_as_the_api_answered_it(api: ApiClient) -> None:
    room = await new_room(api)
    bus = api.services.bus
    async with bus.subscribe() as received, trio.open_nursery() as nursery:
        await nursery.start(run_relay, api.services.db, bus)
        response = await api.http.post(room.url(), headers=room.member.auth, json={"content": "hi"})
        assert response.status_code == 200
        sent = response.json()
        with trio.fail_after(5):
            # The shared test database may hold other tests' events: skip to ours.
            while True:
                batch = await received.receive()
                found = [e for e in batch.events if json.loads(e.payload).get("id") == sent["id"]]
                if found:
                    break
        (event,) = found
        assert event.name is EventName.MESSAGE_CREATE
        assert (event.guild_id, event.channel_id) == (int(room.guild_id), int(room.channel_id))
        assert json.loads(event.payload) == sent
        # With the guild's access_version as it stood after the commit: gateways check the
        # audience against it without a read of their own.
        version = await api.services.db.run(
            lambda c: c.execute(
                "SELECT access_version FROM guilds WHERE id = %s", (int(room.guild_id),)
            ).fetchone()
        )
        assert version is not None
        assert event.access_version == version[0]
        nursery.cancel_scope.cancel()


def typing_event(event_id: int) -> Published:
    return Published(event_id, EventName.TYPING_START, None, event_id, (), b"{}")


async def test_the_redis_bus_carries_every_field_of_an_event(redis_url: str) -> None:
    event = Published(7, EventName.MESSAGE_CREATE, 11, 13, (17, 19), b'{"id":"7"}', 23)
    async with open_redis(redis_url) as client:
        bus = RedisBus(client)
        start = await bus.publish([typing_event(6)])
        end = await bus.publish([event, typing_event(8)])
        await bus.publish([typing_event(9)])
        (batch,) = await bus.between(start, (end[0], end[1] + 1))
    assert batch.events == [event, typing_event(8)]


async def test_the_redis_bus_gives_back_what_was_published_between_two_positions(
    redis_url: str,
) -> None:
    async with open_redis(redis_url) as client:
        bus = RedisBus(client)
        first = await bus.publish([typing_event(1)])
        await bus.publish([typing_event(2), typing_event(3)])
        await bus.publish([typing_event(4)])
        last = await bus.publish([typing_event(5)])
        between = await bus.between(first, last)
    assert [[e.id for e in b.events] for b in between] == [[2, 3], [4]]
    assert first < between[0].position < between[1].position < last


async def test_a_redis_subscriber_loses_nothing_when_its_connection_is_cut(
    redis_url: str,
) -> None:
    async with open_redis(redis_url) as client, open_redis(redis_url) as other:
        bus = RedisBus(client)
        async with bus.subscribe() as received:
            await bus.publish([typing_event(11)])
            assert await next_channels(received) == [11]
            # Every other client's connection, the subscriber's blocking read among them.
            await other.execute("CLIENT", "KILL", "TYPE", "NORMAL", "SKIPME", "yes")
            await RedisBus(other).publish([typing_event(12)])
            await RedisBus(other).publish([typing_event(13)])
            assert await next_channels(received) == [12]
            assert await next_channels(received) == [13]


async def test_published_events_past_their_retention_are_forgotten_and_no_others(
    own_db: Database,
) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2 * OUTBOX_RETENTION_S)
    old = [first_snowflake_at(long_ago) + n for n in range(4)]
    recent = snowflakes.next_ids(2)

    def write(connection: Connection) -> None:
        for event_id in old + recent:
            connection.execute(*outbox.append(event_id, typing_in(1)))
        outbox.mark_published(connection, old[:3] + recent[:1])

    await own_db.run(write)
    # In batches of one: the loop goes on until a batch comes back short.
    assert await forget_published(own_db, batch=1) == 3
    left = await own_db.autocommit(lambda c: c.execute("SELECT id FROM outbox").fetchall())
    # The old event never published stays (the relay still owes it); recent ones stay.
    assert sorted(int(str(row[0])) for row in left) == sorted([old[3], *recent])
