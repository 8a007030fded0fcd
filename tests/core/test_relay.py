"""The outbox relay against a real PostgreSQL: what commits is published, in id order, woken
by NOTIFY, with polling and reconnection behind it; what rolls back never is. Redis going away,
or coming back without the stream, loses nothing and ends nothing."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import TYPE_CHECKING

import pytest
import trio

from core import faults
from core.bus import STREAM, Batch, Bus, InProcessBus, RedisBus, SeenIds
from core.events import Event, EventName, Published
from core.journal import Journal
from core.relay import OUTBOX_RETENTION_S, forget_published, run_relay
from core.snowflakes import SnowflakeGenerator, first_snowflake_at
from core.store import outbox
from core.store.database import open_database
from core.store.migrations import apply_migrations, load_migrations
from core.store.redis import RedisConnectionError, open_redis
from tests.api.rooms import new_room
from tests.conftest import fresh_database
from tests.faults.servers import OwnRedis

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Sequence
    from contextlib import AbstractAsyncContextManager
    from pathlib import Path

    from core.bus import Position
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


# Outages. Issue #18: a Redis restart ended the worker, and what was committed meanwhile never
# reached anyone.


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A redis-server of this test's own, persisting nothing: one a test may kill, or empty."""
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries within milliseconds: what is tested is that the relay retries, not when."""
    monkeypatch.setattr(faults, "RETRY_S", 0.01)
    monkeypatch.setattr(faults, "RETRY_MAX_S", 0.05)


async def first_times(
    received: trio.MemoryReceiveChannel[Batch], seen: SeenIds, count: int
) -> list[int]:
    """The channel ids of the next `count` events received for the first time, as a gateway
    counts them (it drops an id it has seen)."""
    found: list[int] = []
    with trio.fail_after(10):
        while len(found) < count:
            batch = await received.receive()
            found += [e.channel_id or 0 for e in batch.events if seen.first_time(e.id)]
    return found


class FailingBus:
    """A bus that refuses its first `failures` publishes with `error`."""

    def __init__(self, error: Exception, failures: int) -> None:
        self._bus = InProcessBus()
        self._error = error
        self._failures = failures

    async def publish(self, events: Sequence[Published]) -> Position:
        if self._failures:
            self._failures -= 1
            raise self._error
        return await self._bus.publish(events)

    def subscribe(self) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[Batch]]:
        return self._bus.subscribe()

    async def check_kept(self) -> None:
        await self._bus.check_kept()

    async def restore(self, batches: Sequence[Sequence[Published]]) -> None:
        await self._bus.restore(batches)

    async def between(self, after: Position, before: Position) -> list[Batch]:
        return await self._bus.between(after, before)


@pytest.mark.usefixtures("quick_retries")
@pytest.mark.parametrize(
    ("error", "level"),
    [
        (RedisConnectionError("cannot connect (OSError)"), logging.WARNING),
        (RuntimeError("a bug"), logging.ERROR),
    ],
)
async def test_a_failing_publish_is_retried_logged_once_and_ends_nothing(
    own_db: Database, error: Exception, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    bus = FailingBus(error, failures=5)
    await commit(own_db, 1)
    with caplog.at_level(logging.INFO, logger="core.faults"):
        async with bus.subscribe() as received, trio.open_nursery() as nursery:
            nursery.start_soon(run_relay, own_db, bus)
            assert await next_channels(received) == [1]
            await commit(own_db, 2)
            assert await next_channels(received) == [2]
            nursery.cancel_scope.cancel()
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    said = "store unavailable" if level == logging.WARNING else "fault"
    assert [(r.levelno, r.getMessage(), getattr(r, "boundary", None)) for r in logged] == [
        (level, said, "relay")
    ]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == ["recovered"]
    assert await own_db.autocommit(lambda c: outbox.pending(c, 10)) == []


@pytest.mark.usefixtures("quick_retries")
async def test_events_committed_while_redis_is_down_are_published_once_it_is_back(
    own_db: Database, own_redis: OwnRedis
) -> None:
    seen = SeenIds()
    async with (
        open_redis(own_redis.url) as for_relay,
        open_redis(own_redis.url) as for_reader,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(
            lambda task_status: run_relay(
                own_db, RedisBus(for_relay), poll_s=0.05, task_status=task_status
            )
        )
        async with RedisBus(for_reader).subscribe() as received:
            await commit(own_db, 1)
            assert await first_times(received, seen, 1) == [1]
            await trio.to_thread.run_sync(own_redis.kill)
            await commit(own_db, 2)
            await commit(own_db, 3, 4)
            await trio.to_thread.run_sync(own_redis.start)  # empty: the stream is gone
            await commit(own_db, 5)
            # Each once, in order; the replay of 1 is dropped by its id.
            assert await first_times(received, seen, 4) == [2, 3, 4, 5]
        nursery.cancel_scope.cancel()
    assert await own_db.autocommit(lambda c: outbox.pending(c, 10)) == []


async def published_unseen(db: Database, *channel_ids: int, ago_s: float = 0) -> None:
    """Events marked published `ago_s` ago that no subscriber read: as a stream since lost
    leaves them."""
    ids = snowflakes.next_ids(len(channel_ids))

    def write(connection: Connection) -> None:
        for event_id, channel_id in zip(ids, channel_ids, strict=True):
            connection.execute(*outbox.append(event_id, typing_in(channel_id)))
        connection.execute(
            "UPDATE outbox SET published_at = now() - make_interval(secs => %s) WHERE id = ANY(%s)",
            (ago_s, ids),
        )

    await db.run(write)


async def test_a_lost_stream_is_restored_with_the_recent_events_before_new_ones(
    own_db: Database, own_redis: OwnRedis
) -> None:
    async with open_redis(own_redis.url) as client, trio.open_nursery() as nursery:
        bus = RedisBus(client)
        async with bus.subscribe() as received:  # on a Redis without the stream: from "0-0"
            await published_unseen(own_db, 1, ago_s=2 * 300)  # past the bus's keep window
            await published_unseen(own_db, 2, 3)
            await nursery.start(
                lambda task_status: run_relay(own_db, bus, poll_s=3600, task_status=task_status)
            )
            await commit(own_db, 4)
            assert await next_channels(received) == [2, 3]  # the restore, before anything new
            assert await next_channels(received) == [4]
        nursery.cancel_scope.cancel()


async def test_an_idle_relay_restores_a_lost_stream_within_its_poll(
    own_db: Database, own_redis: OwnRedis
) -> None:
    async with open_redis(own_redis.url) as client, trio.open_nursery() as nursery:
        bus = RedisBus(client)
        await nursery.start(
            lambda task_status: run_relay(own_db, bus, poll_s=0.05, task_status=task_status)
        )
        async with bus.subscribe() as received:
            await commit(own_db, 1)
            assert await next_channels(received) == [1]
            await client.execute("DEL", STREAM)
            # Nothing committed since: the restore alone brings back 1, which the subscriber
            # drops by id as a gateway does.
            assert await next_channels(received) == [1]
        nursery.cancel_scope.cancel()


async def test_a_subscriber_reads_a_stream_made_again_behind_its_last_entry(
    own_redis: OwnRedis,
) -> None:
    # About 1 s: the subscriber looks for a new stream once a read has blocked empty (1 s).
    async with open_redis(own_redis.url) as client:
        bus = RedisBus(client)
        await bus.restore([])
        async with bus.subscribe() as received:
            # An entry from an hour ahead, as a Redis whose clock was ahead leaves behind.
            ahead_ms = int(time.time() * 1000) + 3_600_000
            headers = json.dumps([[20, "TYPING_START", None, 20, [], 2, None]])
            await client.execute("XADD", STREAM, f"{ahead_ms}-0", "h", headers, "p", "{}")
            assert await next_channels(received) == [20]
            await client.execute("DEL", STREAM)
            await bus.restore([])
            await bus.publish([typing_event(21)])  # numbered by now: before what it read
            assert await next_channels(received) == [21]


async def test_a_subscriber_skips_replayed_events_from_before_it_subscribed(
    own_redis: OwnRedis,
) -> None:
    now = dt.datetime.now(dt.UTC)
    before = first_snowflake_at(now - dt.timedelta(seconds=1))
    after = first_snowflake_at(now + dt.timedelta(seconds=1))
    async with open_redis(own_redis.url) as client:
        bus = RedisBus(client)
        await bus.restore([])
        async with bus.subscribe() as received:
            await bus.restore([[typing_event(before), typing_event(after)]])
            batch = await received.receive()
    assert [e.id for e in batch.events] == [after]
