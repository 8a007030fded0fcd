"""What one call member's SPEAKING can cost the others: relayed only when its flags change, at
most one per speaker waiting for a listener (a listener away meanwhile gets the latest when it
resumes), and every client's payloads limited per minute (4021, after which it leaves its
call)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
import trio.testing

from gateway.voice import VoiceLimits
from tests.voice.callers import calling_both, resumed
from tests.voice.conftest import new_voice_room, running_voice

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.running import ApiClient
    from tests.voice.client import VoiceClient
    from tests.voice.conftest import VoiceServer


async def until(condition: Callable[[], bool]) -> None:
    """Lets every task run until `condition` holds (the server runs in this test's Trio)."""
    with trio.fail_after(5):
        while not condition():
            await trio.testing.wait_all_tasks_blocked()


async def toggle(ws: VoiceClient, ssrc: int, flags: int) -> None:
    """A SPEAKING, handled before this returns (its heartbeat comes back after it)."""
    await ws.speak(ssrc, flags)
    await ws.heartbeat(flags)
    await ws.expect(6)


async def test_a_speaking_that_changes_nothing_is_not_relayed(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with calling_both(gateway, voice, room) as (alice, bob):
        await alice.hears_arrival(bob)
        for _ in range(10):
            await toggle(bob.ws, bob.ssrc, 1)  # as it was
        await toggle(bob.ws, bob.ssrc, 0)
        # Alice's next numbered message is the change: none of the ten repeats came.
        seq = alice.ws.seq
        assert await alice.ws.expect(5) == {
            "user_id": str(bob.joined.user_id),
            "ssrc": bob.ssrc,
            "speaking": 0,
        }
        assert alice.ws.seq == seq + 1


async def test_a_listener_away_gets_only_each_speakers_latest_speaking(
    api: ApiClient, gateway: str
) -> None:
    room = await new_voice_room(api)
    async with (
        running_voice(api, VoiceLimits(max_queued=4, max_replay=8)) as voice,
        calling_both(gateway, voice, room) as (alice, bob),
    ):
        await alice.hears_arrival(bob)
        seq_ack = await alice.drop()
        (held,) = [s for s in voice.calls.sessions if s.user_id == alice.joined.user_id]
        await until(lambda: held.link is None)
        for n in range(21):  # far more changes than Alice's queue or replay could hold
            await toggle(bob.ws, bob.ssrc, n % 2)
        async with resumed(voice, alice.joined, seq_ack) as again:
            assert await again.receive() == {
                "op": 5,
                "d": {"user_id": str(bob.joined.user_id), "ssrc": bob.ssrc, "speaking": 0},
                "seq": seq_ack + 1,
            }
            assert (await again.receive())["op"] == 4  # SESSION_DESCRIPTION, and nothing else


async def test_a_client_past_the_payload_limit_is_closed_4021_and_leaves_its_call(
    api: ApiClient, gateway: str
) -> None:
    room = await new_voice_room(api)
    async with (
        running_voice(api, VoiceLimits(payloads_per_minute=6)) as voice,
        calling_both(gateway, voice, room) as (alice, bob),
    ):
        await alice.ws.expect(11)
        # IDENTIFY, SELECT_PROTOCOL and SPEAKING were three; three heartbeats make six.
        for nonce in range(3):
            await bob.ws.heartbeat(nonce)
            await bob.ws.expect(6)
        await bob.ws.heartbeat(3)  # the seventh within a minute
        assert await bob.ws.closed_with() == 4021
        await alice.ws.expect(5)
        assert await alice.ws.expect(13) == {"user_id": str(bob.joined.user_id)}
        assert [s.user_id for s in voice.calls.sessions] == [alice.joined.user_id]
