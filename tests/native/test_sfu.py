"""The SFU over real loopback UDP: IP discovery answered exactly, a speaker's packets reaching
each other listener of its channel sealed with that listener's own key and mode, byte-exact and
in order, and routing changes taking effect before the next packet."""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING

import pytest
import trio

from core.sfu import MediaThreadEnded, open_sfu
from tests.native.sfu_client import AES, XCHACHA, Clients

if TYPE_CHECKING:
    from core.sfu import Sfu

FIRST_SERVER_COUNTER = 2**31


async def test_discovery_is_answered_exactly_and_the_declared_address_is_bound(
    sfu: Sfu, clients: Clients
) -> None:
    first = clients.make(0x01020304)
    sfu.add(first.ssrc, 10, speaks=True, hears=True)
    response = await first.discover(sfu)
    expected = struct.pack(">HHI", 2, 70, first.ssrc) + b"127.0.0.1".ljust(64, b"\0")
    assert response == expected + struct.pack(">H", first.port)
    assert sfu.address(first.ssrc) is None, "discovery alone binds nothing"

    # Another socket asking for the same SSRC is answered with its own address.
    other = clients.make(first.ssrc)
    response = await other.discover(sfu)
    assert response[-2:] == struct.pack(">H", other.port)
    sfu.bind(first.ssrc, "127.0.0.1", first.port)
    assert (await clients.settled(sfu))["discovery_answers"] == 2 + 1  # and the probe
    assert sfu.address(first.ssrc) == ("127.0.0.1", first.port)


async def test_a_speaker_reaches_each_listener_in_its_own_mode(sfu: Sfu, clients: Clients) -> None:
    speaker = await clients.join(sfu, 1, 10, XCHACHA)
    listeners = [
        await clients.join(sfu, ssrc, 10, mode) for ssrc, mode in [(2, AES), (3, XCHACHA), (4, AES)]
    ]
    frames = [bytes([n]) * (n + 1) for n in range(20)]
    sent = [speaker.packet(frame) for frame in frames]
    for packet in sent:
        speaker.send(sfu, packet)
    for listener in listeners:
        for n, (frame, packet) in enumerate(zip(frames, sent, strict=True)):
            heard = await listener.hear()
            assert heard.header == packet[:12], "the RTP header is forwarded as received"
            assert heard.payload == frame
            assert heard.counter == FIRST_SERVER_COUNTER + n
    counters = await clients.settled(sfu)
    assert counters["packets_out"] == 3 * 20
    assert counters["bytes_out"] == 3 * sum(len(packet) for packet in sent)
    assert speaker.heard_nothing(), "a sender never hears itself"


async def test_csrcs_and_extension_preamble_stay_clear_and_the_body_is_sealed(
    sfu: Sfu, clients: Clients
) -> None:
    speaker = await clients.join(sfu, 1, 10, AES)
    listener = await clients.join(sfu, 2, 10, XCHACHA)
    packet = speaker.packet(b"opus", csrcs=2, extension=b"\x10\xaa\xbb\xcc")
    speaker.send(sfu, packet)
    heard = await listener.hear()
    assert heard.header == packet[: 12 + 8 + 4]
    assert heard.payload == b"\x10\xaa\xbb\xccopus"


async def test_each_listener_counts_on_its_own_across_speakers(sfu: Sfu, clients: Clients) -> None:
    first, second, third = [await clients.join(sfu, ssrc, 10) for ssrc in (1, 2, 3)]
    first.send(sfu, first.packet(b"a"))
    assert (await third.hear()).counter == FIRST_SERVER_COUNTER
    assert (await second.hear()).counter == FIRST_SERVER_COUNTER
    second.send(sfu, second.packet(b"b"))
    assert (await third.hear()).counter == FIRST_SERVER_COUNTER + 1
    assert (await first.hear()).counter == FIRST_SERVER_COUNTER


async def test_channels_are_apart(sfu: Sfu, clients: Clients) -> None:
    speaker = await clients.join(sfu, 1, 10)
    listener = await clients.join(sfu, 2, 10)
    elsewhere = await clients.join(sfu, 3, 20)
    speaker.send(sfu, speaker.packet(b"here"))
    assert (await listener.hear()).payload == b"here"
    await clients.settled(sfu)
    assert elsewhere.heard_nothing()


async def test_a_muted_speaker_is_not_forwarded_from_the_next_packet_on(
    sfu: Sfu, clients: Clients
) -> None:
    speaker = await clients.join(sfu, 1, 10)
    listener = await clients.join(sfu, 2, 10)
    speaker.send(sfu, speaker.packet(b"before"))
    assert (await listener.hear()).payload == b"before"
    # No wait between the change and the packet: the change must already apply to it.
    sfu.set_flags(speaker.ssrc, speaks=False, hears=True)
    speaker.send(sfu, speaker.packet(b"muted"))
    counters = await clients.settled(sfu)
    assert counters["dropped_muted"] == 1
    assert counters["packets_out"] == 1
    assert listener.heard_nothing()
    sfu.set_flags(speaker.ssrc, speaks=True, hears=True)
    speaker.send(sfu, speaker.packet(b"after"))
    assert (await listener.hear()).payload == b"after"


async def test_a_deafened_listener_gets_nothing(sfu: Sfu, clients: Clients) -> None:
    speaker = await clients.join(sfu, 1, 10)
    deaf = await clients.join(sfu, 2, 10)
    hearing = await clients.join(sfu, 3, 10)
    sfu.set_flags(deaf.ssrc, speaks=True, hears=False)
    speaker.send(sfu, speaker.packet(b"x"))
    assert (await hearing.hear()).payload == b"x"
    await clients.settled(sfu)
    assert deaf.heard_nothing()
    # Deafened, it still speaks.
    deaf.send(sfu, deaf.packet(b"y"))
    assert (await hearing.hear()).payload == b"y"
    assert (await speaker.hear()).payload == b"y"


async def test_move_and_remove_reroute_at_once(sfu: Sfu, clients: Clients) -> None:
    speaker = await clients.join(sfu, 1, 10)
    old = await clients.join(sfu, 2, 10)
    new = await clients.join(sfu, 3, 20)
    sfu.move(speaker.ssrc, 20)
    speaker.send(sfu, speaker.packet(b"moved"))
    assert (await new.hear()).payload == b"moved"
    await clients.settled(sfu)
    assert old.heard_nothing()

    sfu.remove(new.ssrc)
    speaker.send(sfu, speaker.packet(b"alone"))
    counters = await clients.settled(sfu)
    assert counters["packets_out"] == 1
    assert new.heard_nothing()
    new.send(sfu, new.packet(b"gone"))
    counters = await clients.settled(sfu)
    assert counters["dropped_unknown_ssrc"] == 1
    assert speaker.heard_nothing()


async def test_a_listener_without_key_or_address_is_skipped(sfu: Sfu, clients: Clients) -> None:
    speaker = await clients.join(sfu, 1, 10)
    listener = await clients.join(sfu, 2, 10)
    unkeyed = clients.make(3)
    sfu.add(unkeyed.ssrc, 10, speaks=True, hears=True)
    await unkeyed.connect(sfu)
    unbound = clients.make(4)
    sfu.add(unbound.ssrc, 10, speaks=True, hears=True)
    sfu.set_key(unbound.ssrc, AES, unbound.key)
    speaker.send(sfu, speaker.packet(b"x"))
    assert (await listener.hear()).payload == b"x"
    counters = await clients.settled(sfu)
    assert counters["packets_out"] == 1
    assert unkeyed.heard_nothing()
    assert unbound.heard_nothing()


async def test_open_sfu_binds_any_address_and_frees_the_port_on_exit() -> None:
    async with open_sfu("0.0.0.0", 0) as sfu:
        port = sfu.port
        assert port > 0
    # The thread is joined and its socket closed: the port is free again.
    async with open_sfu("127.0.0.1", port) as again:
        assert again.port == port


async def test_a_new_key_restarts_the_listeners_counter_and_the_same_key_carries_on(
    sfu: Sfu, clients: Clients
) -> None:
    speaker = await clients.join(sfu, 1, 10)
    listener = await clients.join(sfu, 2, 10)
    speaker.send(sfu, speaker.packet(b"a"))
    assert (await listener.hear()).counter == FIRST_SERVER_COUNTER
    sfu.set_key(listener.ssrc, listener.mode, listener.key)  # a resume: same key
    speaker.send(sfu, speaker.packet(b"b"))
    assert (await listener.hear()).counter == FIRST_SERVER_COUNTER + 1
    listener.key = bytes(range(32))
    sfu.set_key(listener.ssrc, listener.mode, listener.key)
    speaker.send(sfu, speaker.packet(b"c"))
    heard = await listener.hear()
    assert (heard.payload, heard.counter) == (b"c", FIRST_SERVER_COUNTER)


async def _stop_the_thread_behind_its_back(opened: list[Sfu], cancelled: trio.Event) -> None:
    async with open_sfu("127.0.0.1", 0) as sfu:
        opened.append(sfu)
        assert sfu.running
        # The real thread, stopped without open_sfu asking: to it, as a panic would be.
        sfu._handle.close()
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()


async def test_a_media_thread_that_ends_early_is_reported_once_and_ends_the_context(
    caplog: pytest.LogCaptureFixture,
) -> None:
    opened: list[Sfu] = []
    body_cancelled = trio.Event()
    with trio.fail_after(5), pytest.raises(ExceptionGroup) as caught:
        await _stop_the_thread_behind_its_back(opened, body_cancelled)
    assert [type(error) for error in caught.value.exceptions] == [MediaThreadEnded]
    assert body_cancelled.is_set()
    assert not opened[0].running
    faults = [r for r in caplog.records if getattr(r, "boundary", None) == "sfu"]
    assert [(r.levelno, r.getMessage()) for r in faults] == [(logging.ERROR, "fault")]


async def test_a_normal_exit_reports_nothing(caplog: pytest.LogCaptureFixture) -> None:
    async with open_sfu("127.0.0.1", 0) as sfu:
        await trio.lowlevel.checkpoint()
    assert not sfu.running
    assert not [r for r in caplog.records if getattr(r, "boundary", None) == "sfu"]
