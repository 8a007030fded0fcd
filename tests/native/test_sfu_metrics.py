"""The SFU's counters on /metrics: read from its media thread at scrape time, by label."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.metrics import REGISTRY
from core.sfu import open_sfu
from tests.native.sfu_client import AES, Clients

if TYPE_CHECKING:
    from core.sfu import Sfu


def scraped() -> dict[str, float]:
    """The voice samples of a scrape, by their line's name and labels."""
    samples = {}
    for line in REGISTRY.render().decode().splitlines():
        if line.startswith("trioxide_voice_"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


async def test_a_scrape_shows_what_the_media_thread_counted(sfu: Sfu, clients: Clients) -> None:
    speaker = await clients.join(sfu, 11, 1, AES)
    speaker.send(sfu, b"\x00junk")
    speaker.send(sfu, speaker.packet(b"opus", counter=5))  # alone in its channel: no listener
    counted = await clients.settled(sfu)
    samples = scraped()
    assert samples['trioxide_voice_packets_total{direction="in"}'] == counted["packets_in"]
    assert samples['trioxide_voice_bytes_total{direction="in"}'] == counted["bytes_in"]
    assert samples['trioxide_voice_packets_total{direction="out"}'] == 0
    assert samples['trioxide_voice_dropped_total{reason="malformed"}'] == 1
    assert (
        samples['trioxide_voice_events_total{event="discovery_answers"}']
        == (counted["discovery_answers"])
    )
    assert counted["discovery_answers"] >= 2  # the speaker's own, and the settling probe's


async def test_a_closed_sfu_leaves_nothing_counting() -> None:
    async with open_sfu("127.0.0.1", 0) as sfu:
        assert sfu.running
        assert 'trioxide_voice_packets_total{direction="in"}' in scraped()
    # Series seen before stay at what their sources last said, which is none now: zero.
    assert scraped()
    assert all(value == 0 for value in scraped().values())
