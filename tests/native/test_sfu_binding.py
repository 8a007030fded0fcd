"""Whose address an SSRC is bound to, over real loopback UDP: discovery from anyone is answered
but binds nothing; the address the client declares binds; a stranger cannot capture a victim's
audio, while the key holder's packets follow it to a new address (a NAT mapping that changed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.native.sfu_client import AES, Clients

if TYPE_CHECKING:
    from core.sfu import Sfu


@pytest.mark.parametrize("thief_first", [True, False])
async def test_a_strangers_discovery_does_not_capture_the_victims_audio(
    sfu: Sfu, clients: Clients, thief_first: bool
) -> None:
    speaker = await clients.join(sfu, 1, 10)
    victim = clients.make(2)
    thief = clients.make(victim.ssrc)
    sfu.add(victim.ssrc, 10, speaks=True, hears=True)
    if thief_first:
        await thief.discover(sfu)
        await victim.connect(sfu)
    else:
        response = await victim.discover(sfu)
        await thief.discover(sfu)  # answered too, with its own address
        sfu.bind(victim.ssrc, "127.0.0.1", int.from_bytes(response[72:]))
    sfu.set_key(victim.ssrc, AES, victim.key)

    speaker.send(sfu, speaker.packet(b"for the victim"))
    assert (await victim.hear()).payload == b"for the victim"
    # The thief, holding no key, cannot take the SSRC over by sending either.
    thief.send(sfu, thief.packet(b"me instead"))
    speaker.send(sfu, speaker.packet(b"still the victim"))
    assert (await victim.hear()).payload == b"still the victim"
    counters = await clients.settled(sfu)
    assert counters["dropped_wrong_address"] == 1
    assert counters["rebinds"] == 0
    assert sfu.address(victim.ssrc) == ("127.0.0.1", victim.port)
    assert thief.heard_nothing()
    assert speaker.heard_nothing()


async def test_the_key_holders_packet_from_a_new_address_rebinds_it(
    sfu: Sfu, clients: Clients
) -> None:
    speaker = await clients.join(sfu, 1, 10)
    listener = await clients.join(sfu, 2, 10)
    # The listener's NAT mapping changes: same SSRC and key, another source port.
    moved = clients.make(listener.ssrc)
    moved.key, moved.counter = listener.key, listener.counter
    replayed = listener.packet(b"old")
    listener.send(sfu, replayed)
    assert (await speaker.hear()).payload == b"old"
    moved.send(sfu, replayed)  # a replay proves nothing
    counters = await clients.settled(sfu)
    assert (counters["rebinds"], counters["dropped_wrong_address"]) == (0, 1)

    moved.counter = listener.counter
    moved.send(sfu, moved.packet(b"from the new port"))
    assert (await speaker.hear()).payload == b"from the new port"
    counters = await clients.settled(sfu)
    assert counters["rebinds"] == 1
    assert sfu.address(listener.ssrc) == ("127.0.0.1", moved.port)
    speaker.send(sfu, speaker.packet(b"to the new port"))
    assert (await moved.hear()).payload == b"to the new port"
    await clients.settled(sfu)
    assert listener.heard_nothing(), "the old address hears nothing more"


async def test_a_declared_address_with_no_discovery_yet_binds_at_its_discovery(
    sfu: Sfu, clients: Clients
) -> None:
    speaker = await clients.join(sfu, 1, 10)
    late = clients.make(2)
    other = clients.make(late.ssrc)
    sfu.add(late.ssrc, 10, speaks=True, hears=True)
    sfu.bind(late.ssrc, "127.0.0.1", late.port)
    sfu.set_key(late.ssrc, AES, late.key)
    await other.discover(sfu)
    await clients.settled(sfu)
    assert sfu.address(late.ssrc) is None, "not the declared address"
    await late.discover(sfu)
    await clients.settled(sfu)
    assert sfu.address(late.ssrc) == ("127.0.0.1", late.port)
    speaker.send(sfu, speaker.packet(b"x"))
    assert (await late.hear()).payload == b"x"
    assert other.heard_nothing()


@pytest.mark.parametrize(
    ("host", "port"), [("192.168.1.20", 50000), ("not an address", 5), ("127.0.0.1", 70000)]
)
async def test_an_unseen_or_unusable_declaration_takes_the_latest_discovery(
    sfu: Sfu, clients: Clients, host: str, port: int
) -> None:
    behind_nat = clients.make(1)
    sfu.add(behind_nat.ssrc, 10, speaks=True, hears=True)
    await behind_nat.discover(sfu)
    sfu.bind(behind_nat.ssrc, host, port)
    await clients.settled(sfu)
    assert sfu.address(behind_nat.ssrc) == ("127.0.0.1", behind_nat.port)
    sfu.bind(42, host, port)  # an unknown SSRC: a no-op
