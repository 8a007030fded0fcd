"""Snowflakes from Python, checked against a plainly written reference of Discord's layout."""

from __future__ import annotations

import threading
import time
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.snowflakes import (
    DISCORD_EPOCH_MS,
    MAX_SNOWFLAKE_BATCH,
    SnowflakeGenerator,
    SnowflakeValueError,
    decode_snowflake,
)


def reference_compose(unix_ms: int, worker: int, process: int, increment: int) -> int:
    """Discord's "Snowflakes" reference, written out."""
    return ((unix_ms - DISCORD_EPOCH_MS) << 22) | (worker << 17) | (process << 12) | increment


@given(
    unix_ms=st.integers(DISCORD_EPOCH_MS, DISCORD_EPOCH_MS + (1 << 41) - 1),
    worker=st.integers(0, 31),
    process=st.integers(0, 31),
    increment=st.integers(0, 4095),
)
def test_decode_inverts_discords_layout(
    unix_ms: int, worker: int, process: int, increment: int
) -> None:
    snowflake = reference_compose(unix_ms, worker, process, increment)
    assert decode_snowflake(snowflake) == (unix_ms, worker, process, increment)


def test_ids_carry_the_clock_and_the_node() -> None:
    generator = SnowflakeGenerator(5, 9)
    before_ms = time.time_ns() // 1_000_000
    snowflake = generator.next_id()
    after_ms = time.time_ns() // 1_000_000
    unix_ms, worker, process, _ = decode_snowflake(snowflake)
    assert before_ms <= unix_ms <= after_ms
    assert (worker, process) == (5, 9) == (generator.worker_id, generator.process_id)
    assert snowflake < 2**63, "ids fit PostgreSQL's bigint"


def test_ids_strictly_increase_one_at_a_time_and_in_batches() -> None:
    generator = SnowflakeGenerator(0, 0)
    ids = [generator.next_id() for _ in range(20_000)]
    ids += generator.next_ids(MAX_SNOWFLAKE_BATCH)
    ids += [generator.next_id() for _ in range(10)]
    assert all(a < b for a, b in pairwise(ids))
    assert len(ids) == 20_010 + MAX_SNOWFLAKE_BATCH


def test_a_full_millisecond_moves_to_the_next() -> None:
    # 3 * 4096 ids cannot fit in one millisecond: increments wrap to 0 in later ones.
    ids = SnowflakeGenerator(1, 1).next_ids(3 * 4096)
    parts = [decode_snowflake(snowflake) for snowflake in ids]
    assert max(increment for *_, increment in parts) <= 4095
    assert len({unix_ms for unix_ms, *_ in parts}) >= 3


def test_ids_are_unique_across_threads() -> None:
    generator = SnowflakeGenerator(2, 3)
    results: list[list[int]] = [[] for _ in range(4)]

    def take(slot: list[int], batched: bool) -> None:
        for _ in range(50):
            if batched:
                slot.extend(generator.next_ids(500))
            else:
                slot.extend(generator.next_id() for _ in range(500))

    threads = [
        threading.Thread(target=take, args=(results[i], i % 2 == 0)) for i in range(len(results))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [snowflake for result in results for snowflake in result]
    assert len(everything) == 4 * 50 * 500
    assert len(set(everything)) == len(everything)
    for result in results:  # each thread sees its own ids in increasing order
        assert all(a < b for a, b in pairwise(result))


def test_clock_behind_the_last_id_never_repeats_or_goes_back() -> None:
    # A previous run issued an id 10 s in the future (its clock was ahead, or ours stepped
    # back). 10,000 ids need more than two milliseconds' worth: they borrow later
    # milliseconds instead of waiting 10 s for the clock to catch up.
    now_ms = time.time_ns() // 1_000_000
    last_of_previous_run = reference_compose(now_ms + 10_000, 31, 31, 4095)
    generator = SnowflakeGenerator(0, 0, after=last_of_previous_run)
    ids = generator.next_ids(5_000) + [generator.next_id() for _ in range(5_000)]
    assert ids[0] > last_of_previous_run
    assert all(a < b for a, b in pairwise(ids))
    assert decode_snowflake(ids[0])[0] == now_ms + 10_001


@pytest.mark.parametrize(
    ("worker", "process", "says"),
    [(32, 0, "worker id 32 is out of range (0 to 31)"), (0, 40, "process id 40")],
)
def test_node_ids_out_of_range_are_refused(worker: int, process: int, says: str) -> None:
    with pytest.raises(SnowflakeValueError) as raised:
        SnowflakeGenerator(worker, process)
    assert says in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_oversized_batch_is_refused_and_empty_batch_is_empty() -> None:
    generator = SnowflakeGenerator(0, 0)
    with pytest.raises(SnowflakeValueError, match="over the limit"):
        generator.next_ids(MAX_SNOWFLAKE_BATCH + 1)
    assert generator.next_ids(0) == []


def test_negative_ids_are_refused() -> None:
    with pytest.raises(OverflowError):
        decode_snowflake(-1)
    with pytest.raises(OverflowError):
        SnowflakeGenerator(0, 0, after=-5)
