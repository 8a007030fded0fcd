"""Prometheus metrics: counters, gauges and histograms, rendered in the text exposition format
0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).

Dependency-free and small on purpose: a hot path holds a child bound once (at import, or when
its labels are first known) and pays one attribute add per `inc()`; `labels()` is one dict
lookup once a child exists. Metrics are process-wide by nature, so the ones Trioxide keeps are
declared here, in the module-level REGISTRY; tests build a Registry of their own.

Updates happen on the Trio thread (no locks: an increment from a worker thread could be lost).

**No personal data in labels.** A label value becomes a time series that Prometheus keeps and
copies for weeks, outside every erasure and retention rule. Label values are closed sets chosen
in code (an outcome, a close code, a route template, a random node id), never a user, id,
token, email, address or anything a client typed. Label names that suggest otherwise are
refused when a metric is declared, and a new child's values are checked for what looks like an
email, an IP address or a snowflake (only when first seen, so it costs nothing afterwards).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

# Label names that would put a person (or a way to find one) into a time series. A name is
# refused when it, or one of its underscore-separated parts, is one of these, or ends in "_id".
_PERSONAL_LABELS = frozenset(
    {
        "user",
        "username",
        "member",
        "person",
        "account",
        "token",
        "ip",
        "addr",
        "address",
        "email",
        "content",
        "password",
        "nonce",
        "session",
        "id",
    }
)
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# What a label value must not look like: an email, an IPv4 address, a snowflake (a run of 15
# or more digits standing alone, so a random hex node id does not trip it).
_PERSONAL_VALUE = re.compile(
    r"[^@\s/]+@[^@\s/]+\.[a-zA-Z]|(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])|(?<!\w)\d{15,}(?!\w)"
)


class Registry:
    """The metrics rendered together, in the order they were declared."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric[Any]] = {}  # (Any: metrics of every child type)

    def register(self, metric: _Metric[Any]) -> None:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is declared twice")
        self._metrics[metric.name] = metric

    def render(self) -> bytes:
        """Every metric in the text exposition format 0.0.4, as served at /metrics."""
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.append(f"# HELP {metric.name} {_escape_help(metric.help)}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            metric.render_samples(lines)
        lines.append("")
        return "\n".join(lines).encode()


REGISTRY = Registry()
# The Content-Type of `Registry.render()`'s output.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Child = TypeVar("Child")


class _Metric(Generic[Child]):
    kind = ""

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        registry: Registry | None = None,
    ) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"metric name {name!r} is not a Prometheus name")
        for label in labelnames:
            _check_label_name(label)
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], Child] = {}
        # The one child of a metric without labels, which its own inc/set/observe update.
        self._default: Child | None = None
        if not self.labelnames:
            self._default = self._children[()] = self._new_child()
        (REGISTRY if registry is None else registry).register(self)

    def labels(self, *values: str, **named: str) -> Child:
        """The child for these label values (positional in label-name order, or by name),
        made when first asked for and cached. Bind it once where a hot path can."""
        if named:
            if values or len(named) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}")
            try:
                values = tuple([named[label] for label in self.labelnames])
            except KeyError:
                raise ValueError(f"{self.name} takes labels {self.labelnames}") from None
        found = self._children.get(values)
        if found is None:
            found = self._add_child(values)
        return found

    def remove(self, *values: str) -> None:
        """Forgets one child (e.g. a node that has left), so it is no longer rendered."""
        self._children.pop(values, None)

    def _add_child(self, values: tuple[str, ...]) -> Child:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}")
        for value in values:
            if not isinstance(value, str):
                raise TypeError(f"label values are str, not {type(value).__name__}")
            if _PERSONAL_VALUE.search(value):
                raise ValueError(f"a label value of {self.name} looks like personal data")
        child = self._children[values] = self._new_child()
        return child

    def _labelled(self) -> ValueError:
        return ValueError(f"{self.name} has labels {self.labelnames}: use .labels()")

    def _new_child(self) -> Child:
        raise NotImplementedError

    def render_samples(self, lines: list[str]) -> None:
        raise NotImplementedError

    def _render_values(
        self, lines: list[str], values: Iterable[tuple[tuple[str, ...], float]]
    ) -> None:
        for labels, value in values:
            lines.append(f"{self.name}{self._label_text(labels)} {_number(value)}")

    def _label_text(self, values: tuple[str, ...], extra: str = "") -> str:
        pairs = [
            f'{name}="{_escape_value(value)}"'
            for name, value in zip(self.labelnames, values, strict=True)
        ]
        if extra:
            pairs.append(extra)
        return "{" + ",".join(pairs) + "}" if pairs else ""


class CounterChild:
    """One counter series. Only goes up; `inc` is one attribute add."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: float = 0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class Counter(_Metric[CounterChild]):
    """A count of events since the process started. Name it `..._total`."""

    kind = "counter"

    def _new_child(self) -> CounterChild:
        return CounterChild()

    def render_samples(self, lines: list[str]) -> None:
        self._render_values(lines, ((k, child.value) for k, child in self._children.items()))

    def inc(self, amount: float = 1) -> None:
        """For a counter without labels."""
        child = self._default
        if child is None:
            raise self._labelled()
        child.value += amount


class GaugeChild:
    """One gauge series: a value set, raised or lowered."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: float = 0

    def set(self, value: float) -> None:
        self.value = value

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        self.value -= amount


class Gauge(_Metric[GaugeChild]):
    """A value that goes up and down, set by the code that knows it."""

    kind = "gauge"

    def _new_child(self) -> GaugeChild:
        return GaugeChild()

    def render_samples(self, lines: list[str]) -> None:
        self._render_values(lines, ((k, child.value) for k, child in self._children.items()))

    def set(self, value: float) -> None:
        """For a gauge without labels."""
        child = self._default
        if child is None:
            raise self._labelled()
        child.value = value


# What a CallbackGauge source reports: a value for each tuple of label values.
Reading: TypeAlias = "Callable[[], Mapping[tuple[str, ...], float]]"


class CallbackGauge(_Metric[GaugeChild]):
    """A gauge read at scrape time from the sources being tracked (e.g. each gateway's
    sessions by state); the values of sources reporting the same labels are added."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        registry: Registry | None = None,
    ) -> None:
        super().__init__(name, help, labelnames, registry=registry)
        self._sources: list[Reading] = []

    def _new_child(self) -> GaugeChild:
        return GaugeChild()

    def labels(self, *values: str, **named: str) -> GaugeChild:
        raise TypeError(f"{self.name} is read from its sources at scrape time: use track()")

    @contextmanager
    def track(self, source: Reading) -> Iterator[None]:
        """Reads `source` at every scrape while the block runs. Its keys are tuples of label
        values in label-name order (`("connected",)`); it must not block or raise."""
        self._sources.append(source)
        try:
            yield
        finally:
            self._sources.remove(source)

    def render_samples(self, lines: list[str]) -> None:
        totals: dict[tuple[str, ...], float] = dict.fromkeys(self._children, 0)
        for source in self._sources:
            for values, value in source().items():
                if values not in self._children:
                    self._add_child(values)
                totals[values] = totals.get(values, 0) + value
        self._render_values(lines, totals.items())


class CallbackCounter(CallbackGauge):
    """A counter kept elsewhere (by native code, say), read at scrape time like a
    CallbackGauge: its sources report totals since the process started."""

    kind = "counter"


class HistogramChild:
    """One histogram series: counts per bucket (not cumulative until rendered), and the sum."""

    __slots__ = ("_bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last is +Inf
        self.sum: float = 0.0

    def observe(self, value: float) -> None:
        # Buckets are "less than or equal": bisect_left finds the first bound >= value.
        self.counts[bisect_left(self._bounds, value)] += 1
        self.sum += value


class Histogram(_Metric[HistogramChild]):
    """Observations counted into fixed buckets (upper bounds, inclusive), with their sum."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
        registry: Registry | None = None,
    ) -> None:
        bounds = tuple(float(bound) for bound in buckets if bound != math.inf)
        if not bounds or list(bounds) != sorted(set(bounds)):
            raise ValueError(f"{name}: buckets must be increasing and not empty")
        if "le" in labelnames:
            raise ValueError(f"{name}: 'le' is the bucket label")
        self.bounds = bounds
        super().__init__(name, help, labelnames, registry=registry)

    def _new_child(self) -> HistogramChild:
        return HistogramChild(self.bounds)

    def observe(self, value: float) -> None:
        """For a histogram without labels."""
        child = self._default
        if child is None:
            raise self._labelled()
        child.observe(value)

    def render_samples(self, lines: list[str]) -> None:
        les = [*(_number(bound) for bound in self.bounds), "+Inf"]
        for values, child in self._children.items():
            cumulative = 0
            for le, count in zip(les, child.counts, strict=True):
                cumulative += count
                labels = self._label_text(values, f'le="{le}"')
                lines.append(f"{self.name}_bucket{labels} {cumulative}")
            labels = self._label_text(values)
            lines.append(f"{self.name}_sum{labels} {_number(child.sum)}")
            lines.append(f"{self.name}_count{labels} {cumulative}")


def _check_label_name(label: str) -> None:
    if not _LABEL_NAME.fullmatch(label) or label.startswith("__"):
        raise ValueError(f"label name {label!r} is not a Prometheus label name")
    parts = label.lower().split("_")
    if label.lower().endswith("_id") or not _PERSONAL_LABELS.isdisjoint(parts):
        raise ValueError(f"label name {label!r} would carry personal data; see core/metrics.py")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


# Buckets for request and wait durations, in seconds.
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A pool wait is zero almost always; what matters is when it is not.
WAIT_BUCKETS = (0.0, 0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
# Dispatches replayed by a RESUME: the resume window keeps at most 10,000.
REPLAY_BUCKETS = (0, 1, 10, 50, 100, 500, 1000, 2500, 5000, 10000)

# The gateway's. Suggested outcomes: ok, invalid (4004/4007...), rate_limited, unavailable.
GATEWAY_SESSIONS = CallbackGauge(
    "trioxide_gateway_sessions",
    "Gateway sessions, by state: connected, or detached (resumable, its connection gone).",
    ("state",),
)
GATEWAY_IDENTIFIES = Counter(
    "trioxide_gateway_identifies_total", "IDENTIFYs received, by outcome.", ("outcome",)
)
GATEWAY_RESUMES = Counter(
    "trioxide_gateway_resumes_total", "RESUMEs received, by outcome.", ("outcome",)
)
GATEWAY_CLOSES = Counter(
    "trioxide_gateway_closes_total",
    "Gateway connections closed by the server, by close code.",
    ("code",),
)
GATEWAY_DELIVERIES = Counter(
    "trioxide_gateway_deliveries_total", "Dispatches delivered to sessions (one per recipient)."
)
GATEWAY_SLOW_CONSUMER_CLOSES = CallbackCounter(
    "trioxide_gateway_slow_consumer_closes_total",
    "Connections closed (4000) because they fell too far behind.",
)
# The SFU's counters, kept by its media thread (core/sfu.py) and read at scrape time.
VOICE_PACKETS = CallbackCounter(
    "trioxide_voice_packets_total",
    "SFU datagrams received (in) and voice packets forwarded (out; one per listener).",
    ("direction",),
)
VOICE_BYTES = CallbackCounter(
    "trioxide_voice_bytes_total", "Bytes of those datagrams, by direction.", ("direction",)
)
VOICE_DROPPED = CallbackCounter(
    "trioxide_voice_dropped_total",
    "Datagrams the SFU dropped, by reason (malformed, unknown_ssrc, wrong_address, bad_tag,"
    " replayed, muted, not_keyed, rtcp, keepalive, not_opus, send_failed, ...).",
    ("reason",),
)
VOICE_EVENTS = CallbackCounter(
    "trioxide_voice_events_total",
    "SFU events: discovery_answers (IP discovery), rebinds (an SSRC moved to a new address by"
    " an authenticated packet), io_errors (receive errors).",
    ("event",),
)
GATEWAY_REPLAY_SIZE = Histogram(
    "trioxide_gateway_replay_size",
    "Dispatches replayed per successful RESUME.",
    buckets=REPLAY_BUCKETS,
)
BUS_LAG = Gauge(
    "trioxide_bus_lag_seconds",
    "How far behind the bus this gateway node's reader is, by node (a random node id).",
    ("node",),
)

# The worker's (the outbox relay).
OUTBOX_LAG = Gauge(
    "trioxide_outbox_lag_seconds", "Age of the oldest unpublished outbox event (0 when none)."
)
OUTBOX_PUBLISHED = Counter("trioxide_outbox_published_total", "Outbox events published to the bus.")

# Every long-lived loop's fault boundary. Boundaries: connection, fanout, relay, bus_reader,
# journal, presence, request.
FAULTS = Counter(
    "trioxide_faults_total",
    "Unexpected exceptions caught at a fault boundary, by boundary.",
    ("boundary",),
)

# The REST API's.
HTTP_REQUEST_DURATION = Histogram(
    "trioxide_http_request_duration_seconds",
    "REST requests from arrival to the end of the answer, by route template (unmatched when "
    "no route matched), method and status.",
    ("route", "method", "status"),
    buckets=SECONDS_BUCKETS,
)

# The stores'.
DB_POOL_WAIT = Histogram(
    "trioxide_db_pool_wait_seconds",
    "Time a database call waited for a pooled connection (0 when one was free).",
    buckets=WAIT_BUCKETS,
)
REDIS_ERRORS = Counter(
    "trioxide_redis_errors_total",
    "Redis errors, by kind: connect (could not connect), broken (the connection broke "
    "during a command), reply (Redis answered with an error).",
    ("kind",),
)
