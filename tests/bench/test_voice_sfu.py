"""The voice generator against Trioxide's own SFU (core/sfu.py, in this process): IP discovery
from each participant's socket binds it, and then every packet a speaker sends reaches each
listener of its channel once, re-encrypted with that listener's key and mode, and no one else."""

from __future__ import annotations

import pytest

from bench.voice_client import discover
from bench.voice_generator import Pace, Participant, run_generator, udp_socket
from core.sfu import open_sfu

pytestmark = pytest.mark.timeout(120)

AES, XCHACHA = "aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize"
CHANNEL_IDS = (1001, 1002)


async def test_each_speakers_packets_reach_the_listeners_of_its_channel_once() -> None:
    speakers = [
        Participant(udp_socket(), 10 + c, (AES, XCHACHA)[c], bytes([c + 1]) * 32, c)
        for c in range(2)
    ]
    listeners = [
        Participant(udp_socket(), 20 + i, (XCHACHA, AES)[i % 2], bytes([0x30 + i]) * 32, i % 2)
        for i in range(6)
    ]
    try:
        async with open_sfu("127.0.0.1", 0) as sfu:
            server = ("127.0.0.1", sfu.port)
            for participant in [*speakers, *listeners]:
                speaks = participant in speakers
                channel_id = CHANNEL_IDS[participant.channel]
                sfu.add(participant.ssrc, channel_id, speaks=speaks, hears=not speaks)
                seen = await discover(participant.sock, participant.ssrc, server)
                assert seen == participant.sock.getsockname()
                participant.sock.connect(server)
                sfu.bind(participant.ssrc, *seen)  # as SELECT_PROTOCOL does
                sfu.set_key(participant.ssrc, participant.mode, participant.key)
            assert participant.sock.gettimeout() is None  # left blocking for the generator
            outcome = await run_generator(
                speakers,
                listeners,
                Pace(rate_per_s=400.0, duration_s=0.5, drain_s=0.5),
                server_port=sfu.port,
            )
            counters = sfu.counters()
    finally:
        for participant in [*speakers, *listeners]:
            participant.sock.close()
    report = outcome.report
    assert report["sent"] > 0
    assert report["expected"] == 3 * report["sent"]
    assert report["received"] == report["expected"]
    for figure in ("lost", "duplicates", "bad_tag", "not_ours", "misrouted", "wrong_ssrc"):
        assert report[figure] == 0, figure
    assert outcome.server_drops == 0
    assert outcome.listener_drops == 0
    assert counters["discovery_answers"] == 8
    assert counters["packets_out"] == report["received"]
