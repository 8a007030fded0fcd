"""Snowflake generation from Python: native one-at-a-time and batch, beside a plain Python one.

Usage: python bench/snowflake.py [--seconds S]

A call's cost is timed in bursts of 2,000 ids that fit inside one millisecond, because a
sustained loop of calls would run into the format's own cap (4,096 ids per millisecond, one per
244 ns) and measure that instead. The sustained rates are reported separately, beside the cap.
"""

from __future__ import annotations

import argparse
import threading
import time
from itertools import pairwise
from typing import TYPE_CHECKING

from core.snowflakes import (
    DISCORD_EPOCH_MS,
    MAX_SNOWFLAKE_BATCH,
    SnowflakeGenerator,
    decode_snowflake,
)

if TYPE_CHECKING:
    from collections.abc import Callable

BURST = 2_000
CAP_IDS_PER_S = 4096 * 1000


class PlainPythonGenerator:
    """The same rules written plainly in Python: the yardstick the native one must beat."""

    def __init__(self, worker_id: int, process_id: int) -> None:
        self._node = (worker_id << 17) | (process_id << 12)
        self._lock = threading.Lock()
        self._last_ms = -1
        self._increment = 0

    def next_id(self) -> int:
        with self._lock:
            while True:
                now_ms = time.time_ns() // 1_000_000 - DISCORD_EPOCH_MS
                if now_ms > self._last_ms:
                    self._last_ms, self._increment = now_ms, 0
                    break
                if self._increment < 4095:
                    self._increment += 1
                    break
                if now_ms < self._last_ms:  # clock behind: borrow the next millisecond
                    self._last_ms, self._increment = self._last_ms + 1, 0
                    break
            return (self._last_ms << 22) | self._node | self._increment


def _empty() -> None:
    pass


def _next_millisecond() -> None:
    start = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 == start:
        pass


def call_ns(call: Callable[[], object], seconds: float) -> float:
    """Mean ns per call, timed only inside bursts that fit in one millisecond."""
    spent_ns = calls = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        _next_millisecond()
        start = time.perf_counter_ns()
        for _ in range(BURST):
            call()
        spent_ns += time.perf_counter_ns() - start
        calls += BURST
    return spent_ns / calls


def sustained_per_s(take: Callable[[], list[int]], seconds: float) -> tuple[float, list[int]]:
    """Ids per second over `seconds` of back-to-back calls, and the last call's ids."""
    count = 0
    ids: list[int] = []
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        ids = take()
        count += len(ids)
    return count / elapsed, ids


def check(ids: list[int], worker_id: int, process_id: int) -> None:
    assert all(a < b for a, b in pairwise(ids)), "ids must strictly increase"
    now_ms = time.time_ns() // 1_000_000
    for snowflake in ids[:: max(1, len(ids) // 100)]:
        unix_ms, worker, process, increment = decode_snowflake(snowflake)
        assert (worker, process) == (worker_id, process_id)
        assert now_ms - 60_000 < unix_ms <= now_ms + 1_000
        assert 0 <= increment <= 4095


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    seconds = parser.parse_args().seconds

    native = SnowflakeGenerator(1, 2)
    plain = PlainPythonGenerator(1, 2)
    check([native.next_id() for _ in range(10_000)], 1, 2)
    check([plain.next_id() for _ in range(10_000)], 1, 2)

    empty_ns = call_ns(_empty, seconds)
    native_ns = call_ns(native.next_id, seconds)
    plain_ns = call_ns(plain.next_id, seconds)

    one_rate, ids = sustained_per_s(lambda: [native.next_id() for _ in range(BURST)], seconds)
    check(ids, 1, 2)
    batch_rate, ids = sustained_per_s(lambda: native.next_ids(MAX_SNOWFLAKE_BATCH), seconds)
    check(ids, 1, 2)
    plain_rate, ids = sustained_per_s(lambda: [plain.next_id() for _ in range(BURST)], seconds)
    check(ids, 1, 2)

    print(
        f"snowflake: empty call {empty_ns:.0f} ns"
        f" | next_id {native_ns:.0f} ns ({native_ns / empty_ns:.1f}x empty)"
        f" | plain Python {plain_ns:.0f} ns ({plain_ns / native_ns:.1f}x native)"
        f" | sustained one-at-a-time {one_rate / 1e6:.2f}M ids/s"
        f" | batch {batch_rate / 1e6:.3f}M ids/s ({batch_rate / CAP_IDS_PER_S:.1%} of the"
        f" {CAP_IDS_PER_S / 1e6:.3f}M/s cap)"
        f" | plain Python sustained {plain_rate / 1e6:.2f}M ids/s"
        f" (batch {batch_rate / plain_rate:.1f}x)"
    )


if __name__ == "__main__":
    main()
