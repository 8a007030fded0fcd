"""Datagrams the SFU must not forward, over real loopback UDP: each is dropped, counted under
its reason, and changes nothing for the packets after it; bad keys and modes are refused."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import pytest

from core.sfu import open_sfu
from tests.native.sfu_client import AES, XCHACHA, Clients

if TYPE_CHECKING:
    from core.sfu import Sfu


def dropped(counters: dict[str, int]) -> dict[str, int]:
    return {
        name: count for name, count in counters.items() if name.startswith("dropped_") and count
    }


async def test_forged_replayed_and_stolen_packets_are_dropped(sfu: Sfu, clients: Clients) -> None:
    speaker = await clients.join(sfu, 1, 10, XCHACHA)
    listener = await clients.join(sfu, 2, 10, AES)
    thief = clients.make(speaker.ssrc, XCHACHA)  # its own key: it does not hold the speaker's

    good = speaker.packet(b"good")
    forged = bytearray(speaker.packet(b"forged"))
    forged[13] ^= 1
    speaker.send(sfu, good)
    speaker.send(sfu, bytes(forged))
    speaker.send(sfu, good)  # replayed
    thief.send(sfu, thief.packet(b"stolen", counter=100))  # another address, another key
    counters = await clients.settled(sfu)
    assert dropped(counters) == {
        "dropped_bad_tag": 1,
        "dropped_replayed": 1,
        "dropped_wrong_address": 1,
    }
    assert (await listener.hear()).payload == b"good"
    assert listener.heard_nothing()

    # The forged packet's counter was not used up: the real one with it still goes through.
    speaker.send(sfu, speaker.packet(b"late", counter=1))
    assert (await listener.hear()).payload == b"late"


async def test_counters_older_than_the_window_are_dropped(sfu: Sfu, clients: Clients) -> None:
    speaker = await clients.join(sfu, 1, 10)
    listener = await clients.join(sfu, 2, 10)
    speaker.send(sfu, speaker.packet(b"new", counter=5000))
    speaker.send(sfu, speaker.packet(b"reordered", counter=4000))
    speaker.send(sfu, speaker.packet(b"ancient", counter=3000))
    assert (await listener.hear()).payload == b"new"
    assert (await listener.hear()).payload == b"reordered"
    counters = await clients.settled(sfu)
    assert dropped(counters) == {"dropped_replayed": 1}


async def test_unknown_unkeyed_and_junk_datagrams_are_counted(sfu: Sfu, clients: Clients) -> None:
    speaker = await clients.join(sfu, 1, 10)
    listener = await clients.join(sfu, 2, 10)
    stranger = clients.make(99)
    unkeyed = clients.make(3)
    sfu.add(unkeyed.ssrc, 10, speaks=True, hears=True)
    await unkeyed.connect(sfu)
    rtcp = struct.pack(">BBHI", 0x80, 201, 1, speaker.ssrc)
    datagrams = [
        (stranger, stranger.packet(b"who")),
        (stranger, struct.pack(">HHI", 1, 70, stranger.ssrc) + bytes(66)),
        (unkeyed, unkeyed.packet(b"no key yet")),
        (speaker, struct.pack("<I", 7) + bytes(4)),  # @discordjs/voice's keep-alive
        (speaker, rtcp + bytes(24)),
        (speaker, b"\x80\x6f" + speaker.packet(b"pt 111")[2:]),
        (speaker, b"\x80\x78short"),
        (speaker, b"\x00junk"),
        (speaker, b""),
        (speaker, bytes(74)),  # discovery-shaped, but type 0
    ]
    for sender, datagram in datagrams:
        sender.send(sfu, datagram)
    counters = await clients.settled(sfu)
    assert dropped(counters) == {
        "dropped_unknown_ssrc": 2,
        "dropped_not_keyed": 1,
        "dropped_keepalive": 1,
        "dropped_rtcp": 1,
        "dropped_not_opus": 1,
        "dropped_malformed": 4,
    }
    assert stranger.heard_nothing(), "an unknown SSRC's discovery is not answered"
    assert counters["discovery_answers"] == 3 + 1  # and the probe
    assert counters["packets_out"] == 0
    assert counters["bytes_in"] == (3 + 1) * 74 + sum(len(datagram) for _, datagram in datagrams)
    # None of it disturbed the channel.
    speaker.send(sfu, speaker.packet(b"still fine"))
    assert (await listener.hear()).payload == b"still fine"


async def test_a_new_key_applies_to_the_next_packet(sfu: Sfu, clients: Clients) -> None:
    speaker = await clients.join(sfu, 1, 10)
    listener = await clients.join(sfu, 2, 10)
    old = speaker.packet(b"old key")
    speaker.key = bytes(range(32))
    sfu.set_key(speaker.ssrc, XCHACHA, speaker.key)
    speaker.mode = XCHACHA
    speaker.send(sfu, old)
    speaker.send(sfu, speaker.packet(b"new key"))
    assert (await listener.hear()).payload == b"new key"
    counters = await clients.settled(sfu)
    assert dropped(counters) == {"dropped_bad_tag": 1}


async def test_bad_modes_and_keys_are_refused_and_change_nothing(
    sfu: Sfu, clients: Clients
) -> None:
    speaker = await clients.join(sfu, 1, 10)
    listener = await clients.join(sfu, 2, 10)
    with pytest.raises(ValueError, match="unknown encryption mode"):
        sfu.set_key(speaker.ssrc, "xsalsa20_poly1305_lite", speaker.key)
    with pytest.raises(ValueError, match="32 bytes, not 16"):
        sfu.set_key(speaker.ssrc, AES, bytes(16))
    speaker.send(sfu, speaker.packet(b"same key"))
    assert (await listener.hear()).payload == b"same key"


async def test_changes_to_unknown_ssrcs_are_no_ops(sfu: Sfu, clients: Clients) -> None:
    speaker = await clients.join(sfu, 1, 10)
    listener = await clients.join(sfu, 2, 10)
    sfu.set_flags(42, speaks=False, hears=False)
    sfu.move(42, 10)
    sfu.remove(42)
    sfu.set_key(42, AES, bytes(32))
    assert sfu.address(42) is None
    speaker.send(sfu, speaker.packet(b"unchanged"))
    assert (await listener.hear()).payload == b"unchanged"


async def test_a_host_that_is_not_ipv4_is_refused() -> None:
    with pytest.raises(OSError, match="IPv4"):
        async with open_sfu("::1", 0):
            pass
