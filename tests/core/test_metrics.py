"""The metrics registry and its text exposition format (Prometheus 0.0.4)."""

from __future__ import annotations

import math
import secrets
from typing import TYPE_CHECKING

import greenback
import pytest
import trio
import trio.testing

from core import metrics
from core.metrics import CallbackGauge, Counter, Gauge, Histogram, Registry
from core.store.database import open_database
from core.store.redis import KEY_PREFIX, RedisConnectionError, RedisError, open_redis

if TYPE_CHECKING:
    from pathlib import Path

    from trio.testing import MockClock

    from core.store.database import Connection
    from core.store.redis import Redis


def test_render_writes_help_type_and_samples_exactly() -> None:
    registry = Registry()
    requests = Counter(
        "app_requests_total", "Requests.\nBy outcome.", ("outcome",), registry=registry
    )
    requests.labels(outcome="ok").inc()
    requests.labels("ok").inc(2)
    requests.labels(outcome="refused").inc()
    temperature = Gauge("app_temperature", "A gauge \\ without labels.", registry=registry)
    temperature.set(21.5)
    assert registry.render() == (
        b"# HELP app_requests_total Requests.\\nBy outcome.\n"
        b"# TYPE app_requests_total counter\n"
        b'app_requests_total{outcome="ok"} 3\n'
        b'app_requests_total{outcome="refused"} 1\n'
        b"# HELP app_temperature A gauge \\\\ without labels.\n"
        b"# TYPE app_temperature gauge\n"
        b"app_temperature 21.5\n"
    )


def test_unlabelled_metrics_render_zero_before_any_update() -> None:
    registry = Registry()
    Counter("app_events_total", "Events.", registry=registry)
    Counter("app_by_kind_total", "By kind.", ("kind",), registry=registry)
    assert registry.render() == (
        b"# HELP app_events_total Events.\n"
        b"# TYPE app_events_total counter\n"
        b"app_events_total 0\n"
        b"# HELP app_by_kind_total By kind.\n"
        b"# TYPE app_by_kind_total counter\n"
    )


def test_label_values_are_escaped() -> None:
    registry = Registry()
    counter = Counter("app_odd_total", "Odd values.", ("route",), registry=registry)
    counter.labels(route='a\\b"c\nd').inc()
    assert b'app_odd_total{route="a\\\\b\\"c\\nd"} 1\n' in registry.render()


def test_histogram_buckets_are_cumulative_with_sum_count_and_inf() -> None:
    registry = Registry()
    latency = Histogram(
        "app_latency_seconds", "Latency.", ("method",), buckets=(0.1, 1, 5), registry=registry
    )
    child = latency.labels(method="GET")
    for value in (0.05, 0.1, 0.5, 2.0, 7.0):  # 0.1 is on a bound: "le" includes it
        child.observe(value)
    assert registry.render().decode().splitlines()[2:] == [
        'app_latency_seconds_bucket{method="GET",le="0.1"} 2',
        'app_latency_seconds_bucket{method="GET",le="1"} 3',
        'app_latency_seconds_bucket{method="GET",le="5"} 4',
        'app_latency_seconds_bucket{method="GET",le="+Inf"} 5',
        'app_latency_seconds_sum{method="GET"} 9.65',
        'app_latency_seconds_count{method="GET"} 5',
    ]


def test_histogram_without_labels_renders_its_buckets() -> None:
    registry = Registry()
    sizes = Histogram("app_sizes", "Sizes.", buckets=(0, 10), registry=registry)
    sizes.observe(0)
    sizes.observe(math.inf)
    assert registry.render().decode().splitlines()[2:] == [
        'app_sizes_bucket{le="0"} 1',
        'app_sizes_bucket{le="10"} 1',
        'app_sizes_bucket{le="+Inf"} 2',
        "app_sizes_sum +Inf",
        "app_sizes_count 2",
    ]


def test_callback_gauge_adds_its_sources_at_scrape_time_while_tracked() -> None:
    registry = Registry()
    sessions = CallbackGauge("app_sessions", "Sessions.", ("state",), registry=registry)
    counts = {"connected": 2, "detached": 1}

    def read() -> dict[tuple[str, ...], float]:
        return {(state,): count for state, count in counts.items()}

    with sessions.track(read), sessions.track(lambda: {("connected",): 5}):
        counts["connected"] = 3  # read when rendered, not when tracked
        assert registry.render().decode().splitlines()[2:] == [
            'app_sessions{state="connected"} 8',
            'app_sessions{state="detached"} 1',
        ]
    with pytest.raises(TypeError, match="track"):
        sessions.labels(state="connected")
    # Untracked: the series stay, at zero.
    assert registry.render().decode().splitlines()[2:] == [
        'app_sessions{state="connected"} 0',
        'app_sessions{state="detached"} 0',
    ]


def test_labels_returns_the_same_cached_child() -> None:
    counter = Counter("app_cached_total", "Cached.", ("kind",), registry=Registry())
    assert counter.labels(kind="a") is counter.labels("a")


def test_removed_child_is_no_longer_rendered() -> None:
    registry = Registry()
    lag = Gauge("app_lag_seconds", "Lag.", ("node",), registry=registry)
    lag.labels(node="a1").set(1)
    lag.labels(node="b2").set(2)
    lag.remove("a1")
    assert registry.render().decode().splitlines()[2:] == ['app_lag_seconds{node="b2"} 2']


@pytest.mark.parametrize(
    "label", ["user", "user_id", "token", "ip", "email", "guild_id", "Client_IP"]
)
def test_personal_label_name_is_refused(label: str) -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="personal data"):
        Counter("app_refused_total", "Refused.", (label,), registry=registry)
    assert registry.render() == b""  # nothing was registered


@pytest.mark.parametrize(
    "value", ["someone@example.com", "10.0.0.1", "/api/v10/channels/1234567890123456789"]
)
def test_label_value_that_looks_personal_is_refused(value: str) -> None:
    registry = Registry()
    counter = Counter("app_values_total", "Values.", ("route",), registry=registry)
    with pytest.raises(ValueError, match="personal data"):
        counter.labels(route=value)
    assert b"app_values_total{" not in registry.render()


@pytest.mark.parametrize(
    "value", ["/api/v10/users/@me", "4000", "unmatched", "9f86d081884c7d659a2feaa0c55ad015"]
)
def test_ordinary_label_values_are_accepted(value: str) -> None:
    counter = Counter("app_fine_total", "Fine.", ("route",), registry=Registry())
    counter.labels(route=value).inc()
    assert counter.labels(route=value).value == 1


def test_wrong_labels_are_refused() -> None:
    counter = Counter("app_two_total", "Two.", ("kind", "code"), registry=Registry())
    with pytest.raises(ValueError, match="takes labels"):
        counter.labels(kind="a")
    with pytest.raises(ValueError, match="takes labels"):
        counter.labels(kind="a", code="1", extra="2")
    with pytest.raises(ValueError, match=r"use \.labels"):
        counter.inc()


def test_a_name_declared_twice_is_refused() -> None:
    registry = Registry()
    Counter("app_twice_total", "Once.", registry=registry)
    with pytest.raises(ValueError, match="declared twice"):
        Gauge("app_twice_total", "Twice.", registry=registry)


def test_trioxide_metrics_are_declared_in_the_default_registry() -> None:
    rendered = metrics.REGISTRY.render().decode()
    for name in (
        "trioxide_gateway_sessions",
        "trioxide_gateway_identifies_total",
        "trioxide_gateway_resumes_total",
        "trioxide_gateway_closes_total",
        "trioxide_gateway_deliveries_total",
        "trioxide_gateway_slow_consumer_closes_total",
        "trioxide_gateway_replay_size",
        "trioxide_bus_lag_seconds",
        "trioxide_outbox_lag_seconds",
        "trioxide_outbox_published_total",
        "trioxide_faults_total",
        "trioxide_http_request_duration_seconds",
        "trioxide_db_pool_wait_seconds",
        "trioxide_redis_errors_total",
    ):
        assert f"# TYPE {name} " in rendered


def _value(counter: Counter, *labels: str) -> float:
    return counter.labels(*labels).value


async def test_redis_errors_are_counted_by_kind(
    tmp_path: Path, redis: Redis, redis_url: str
) -> None:
    kinds = ("connect", "broken", "reply")
    before = [_value(metrics.REDIS_ERRORS, kind) for kind in kinds]
    async with open_redis(f"unix://{tmp_path}/nothing.sock") as absent:
        with pytest.raises(RedisConnectionError):
            await absent.ping()
    name = f"{KEY_PREFIX}test:{secrets.token_hex(4)}"
    await redis.execute("SET", name, "text")  # leaves a connection in the pool
    with pytest.raises(RedisError, match="WRONGTYPE"):
        await redis.execute("LPUSH", name, "x")
    async with open_redis(redis_url) as other:  # breaks that idle connection
        await other.execute("CLIENT", "KILL", "TYPE", "NORMAL", "SKIPME", "yes")
    assert await redis.execute("GET", name) == b"text"  # retried on a new connection
    after = [_value(metrics.REDIS_ERRORS, kind) for kind in kinds]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]


async def test_pool_wait_is_observed_zero_when_free_and_its_length_when_not(
    database_url: str, mock_clock: MockClock
) -> None:
    wait = metrics.DB_POOL_WAIT.labels()
    counts, total = list(wait.counts), wait.sum
    async with open_database(database_url, pool_size=1, timeout_s=5) as small:
        held, release = trio.Event(), trio.Event()

        def hold(connection: Connection) -> None:
            held.set()
            greenback.await_(release.wait())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(small.run, hold)
            await held.wait()
            nursery.start_soon(small.run, lambda c: c.execute("SELECT 1").fetchone())
            await trio.testing.wait_all_tasks_blocked()
            mock_clock.jump(0.3)  # the second call has waited 0.3 s for the only connection
            release.set()
    added = [after - before for after, before in zip(wait.counts, counts, strict=True)]
    bounds = [*metrics.DB_POOL_WAIT.bounds, math.inf]
    assert {bounds[i]: n for i, n in enumerate(added) if n} == {0.0: 1, 0.5: 1}
    assert wait.sum - total == pytest.approx(0.3)
