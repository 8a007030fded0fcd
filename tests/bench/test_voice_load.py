"""The voice generator against a small forwarder written here in Python from Discord's packet
layout (not from the generator's code): what the speakers send opens with their keys, what the
listeners get is counted exactly, and a forwarder's mistakes show up as what they are."""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)

from bench.voice_generator import Pace, Participant, run_generator, udp_socket

if TYPE_CHECKING:
    import socket
    from collections.abc import Iterator

pytestmark = pytest.mark.timeout(120)

AES, XCHACHA = "aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize"
SERVER_COUNTER = 2**31  # where the server's own counters start, as the design says


def _nonce(mode: str, counter: bytes) -> bytes:
    return counter + bytes(8 if mode == AES else 20)


def seal(mode: str, key: bytes, header: bytes, plain: bytes, counter: int) -> bytes:
    tail = counter.to_bytes(4, "big")
    if mode == AES:
        sealed = AESGCM(key).encrypt(_nonce(mode, tail), plain, header)
    else:
        sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(plain, header, _nonce(mode, tail), key)
    return header + sealed + tail


def open_packet(mode: str, key: bytes, packet: bytes) -> tuple[bytes, bytes]:
    """(header, plaintext) of a packet without CSRCs or extension, as the generator sends."""
    header, sealed, tail = packet[:12], packet[12:-4], packet[-4:]
    if mode == AES:
        return header, AESGCM(key).decrypt(_nonce(mode, tail), sealed, header)
    return header, crypto_aead_xchacha20poly1305_ietf_decrypt(
        sealed, header, _nonce(mode, tail), key
    )


@dataclass
class Forwarder:
    """A tiny SFU on its own thread: each speaker's packet opened with the speaker's key and
    sealed again, with the forwarder's own counter, for every listener of the speaker's
    channel. `duplicate_every`, `cross_route`, `wrong_key` and `backlog` make it misbehave."""

    speakers: dict[int, Participant]  # by SSRC
    listeners: list[tuple[Participant, tuple[str, int]]]
    duplicate_every: int = 0
    cross_route: bool = False
    wrong_key: bool = False
    keep: bool = False  # keep some of what is sent, to send again with the next run
    backlog: list[tuple[bytes, tuple[str, int]]] = field(default_factory=list)
    sock: socket.socket = field(default_factory=udp_socket)
    opened: dict[int, list[int]] = field(default_factory=dict)  # SSRC → RTP counters seen
    rtp: list[tuple[int, int, int, int]] = field(default_factory=list)  # SSRC, byte 0, PT, seq
    stop: threading.Event = field(default_factory=threading.Event)
    counter: int = SERVER_COUNTER

    def run(self) -> None:
        self.sock.settimeout(0.05)  # to notice `stop`
        while not self.stop.is_set():
            try:
                packet = self.sock.recv(2048)
            except TimeoutError:
                continue
            if self.backlog and not self.keep:
                for kept, to in self.backlog:  # what a backlogged server sends late
                    self.sock.sendto(kept, to)
                self.backlog = []
            ssrc = struct.unpack_from(">I", packet, 8)[0]
            speaker = self.speakers[ssrc]
            header, plain = open_packet(speaker.mode, speaker.key, packet)
            self.opened.setdefault(ssrc, []).append(int.from_bytes(packet[-4:], "big"))
            self.rtp.append((ssrc, packet[0], packet[1], struct.unpack_from(">H", packet, 2)[0]))
            copies = 2 if self.duplicate_every and self.counter % self.duplicate_every == 0 else 1
            for listener, address in self.listeners:
                if listener.channel != speaker.channel and not self.cross_route:
                    continue
                key = bytes(32) if self.wrong_key else listener.key
                for _ in range(copies):
                    sealed = seal(listener.mode, key, header, plain, self.counter)
                    self.sock.sendto(sealed, address)
                    if self.keep and len(self.backlog) < 10:
                        self.backlog.append((sealed, address))
                    self.counter += 1


def _participants(
    channels: int, listeners_each: int
) -> tuple[list[Participant], list[Participant]]:
    speakers = [
        Participant(udp_socket(), 100 + c, (AES, XCHACHA)[c % 2], bytes([c + 1]) * 32, c)
        for c in range(channels)
    ]
    listeners = [
        Participant(
            udp_socket(), 200 + i, (XCHACHA, AES)[i % 2], bytes([0x40 + i]) * 32, i % channels
        )
        for i in range(channels * listeners_each)
    ]
    return speakers, listeners


@pytest.fixture
def forwarded() -> Iterator[tuple[Forwarder, list[Participant], list[Participant]]]:
    speakers, listeners = _participants(channels=2, listeners_each=3)
    forwarder = Forwarder(
        {s.ssrc: s for s in speakers}, [(p, p.sock.getsockname()) for p in listeners]
    )
    for participant in [*speakers, *listeners]:
        participant.sock.connect(forwarder.sock.getsockname())
    thread = threading.Thread(target=forwarder.run)
    thread.start()
    try:
        yield forwarder, speakers, listeners
    finally:
        forwarder.stop.set()
        thread.join()
        for participant in [*speakers, *listeners]:
            participant.sock.close()
        forwarder.sock.close()


_PACE = Pace(rate_per_s=400.0, duration_s=0.5, drain_s=0.5)


async def test_every_packet_opens_with_its_speakers_key_and_reaches_each_listener_once(
    forwarded: tuple[Forwarder, list[Participant], list[Participant]],
) -> None:
    forwarder, speakers, listeners = forwarded
    outcome = await run_generator(speakers, listeners, _PACE)
    report = outcome.report
    sent = [s["sent"] for s in report["speakers"]]
    # Round robin over the speakers at 400/s for half a second (the pacer sends the first at once).
    assert sum(sent) == report["sent"] in (200, 201)
    assert abs(sent[0] - sent[1]) <= 1
    # The forwarder opened every packet with its speaker's key: counters 0, 1, 2… each.
    assert {ssrc: sorted(c) for ssrc, c in forwarder.opened.items()} == {
        s.ssrc: list(range(n)) for s, n in zip(speakers, sent, strict=True)
    }
    assert {(first, pt) for _, first, pt, _ in forwarder.rtp} == {(0x80, 120)}
    # Three listeners per channel: each packet three times, once each.
    assert report["expected"] == report["received"] == 3 * report["sent"]
    assert [h["received"] for h in report["listeners"]] == [sent[i % 2] for i in range(6)]
    for figure in ("lost", "duplicates", "bad_tag", "not_ours", "misrouted", "wrong_ssrc"):
        assert report[figure] == 0, figure
    assert report["stale"] == 0
    assert outcome.listener_drops == 0
    assert report["latency_us"]["count"] == report["received"]
    assert 0 < report["latency_us"]["p50"] <= report["latency_us"]["p99"]
    assert len(report["latency_samples_us"]) == report["received"]
    # The RTP state carries forward: a second run's counters are new to the server.
    assert [s.counter for s in speakers] == sent
    again = await run_generator(speakers, listeners, _PACE)
    assert again.report["received"] == 3 * again.report["sent"]
    assert sorted(forwarder.opened[speakers[0].ssrc]) == list(range(speakers[0].counter))
    for speaker in speakers:  # sequence numbers too, from 0 in step with the counter
        seqs = sorted(seq for ssrc, _, _, seq in forwarder.rtp if ssrc == speaker.ssrc)
        assert seqs == list(range(speaker.counter))
        assert speaker.sequence == speaker.counter


async def test_a_forwarders_mistakes_are_counted_as_what_they_are(
    forwarded: tuple[Forwarder, list[Participant], list[Participant]],
) -> None:
    forwarder, speakers, listeners = forwarded
    forwarder.duplicate_every = 2
    duplicated = (await run_generator(speakers, listeners, _PACE)).report
    assert duplicated["received"] == duplicated["expected"]
    assert duplicated["duplicates"] > 0
    assert duplicated["lost"] == 0

    forwarder.duplicate_every, forwarder.cross_route = 0, True
    crossed = (await run_generator(speakers, listeners, _PACE)).report
    assert crossed["received"] == crossed["expected"]
    assert crossed["misrouted"] == crossed["expected"]  # as many again, to the wrong channel

    forwarder.cross_route, forwarder.keep = False, True
    await run_generator(speakers, listeners, _PACE)  # fills the backlog
    forwarder.keep = False
    late = (await run_generator(speakers, listeners, _PACE)).report
    assert late["received"] == late["expected"]  # the earlier run's packets are not counted…
    assert late["stale"] == 10  # …but as stale
    assert late["duplicates"] == 0

    forwarder.wrong_key = True
    garbled = (await run_generator(speakers, listeners, _PACE)).report
    assert garbled["received"] == 0
    assert garbled["lost"] == garbled["expected"] == garbled["bad_tag"] > 0
