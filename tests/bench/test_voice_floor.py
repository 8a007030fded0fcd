"""The C floor as the voice scenario runs it: built from ../shared/perf, run, and read. Its
sources are the workplace's, not this repository's: a checkout away from them is told where
to point TRIOXIDE_BENCH_PERF."""

from __future__ import annotations

import pytest

from bench.target import BenchError
from bench.voice_floor import PERF, available, run_floor

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("reading", [True, False])
async def test_the_c_forwarder_sends_each_packet_to_every_receiver(reading: bool) -> None:
    if not available():
        with pytest.raises(BenchError, match="TRIOXIDE_BENCH_PERF") as refused:
            await run_floor(receivers=3, packet_bytes=160, duration_s=0.5, reading=reading)
        assert str(PERF) in str(refused.value)
        return
    found = await run_floor(
        receivers=3, packet_bytes=160, duration_s=0.5, pps=2000, reading=reading
    )
    forwarder = found["forwarder"]
    assert forwarder["mode"] == "mmsg"
    assert forwarder["K"] == 3
    assert forwarder["in"] > 0
    assert forwarder["out"] + forwarder["send_err"] == 3 * forwarder["in"]
    assert forwarder["avg_size"] == 160
    assert found["sender"]["size"] == 160
