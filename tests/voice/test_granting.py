"""A change told to the node while an IDENTIFY waits for its grant (the Voice service's read)
is not lost: the session starts with it applied, in the SFU and in its call. The grant is
held open here by wrapping the node's own, so that the change lands in between."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import pytest
import trio

from tests.voice.callers import QUIET_S, calling, connected
from tests.voice.client import AES, XCHACHA, open_udp
from tests.voice.conftest import new_voice_room
from tests.voice.test_media import patch_member

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from core.domain.voice import VoiceState
    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer


@asynccontextmanager
async def grants_held(
    voice: VoiceServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[trio.Event, trio.Event]]:
    """From here the node's grants wait, once read, until `release`; `read` is set then."""
    node = voice.gateway.node
    assert node is not None
    real = node.grant
    read, release = trio.Event(), trio.Event()

    async def held(guild_id: int, user_id: int, session_id: str, token: str) -> VoiceState | None:
        state = await real(guild_id, user_id, session_id, token)
        read.set()
        await release.wait()
        return state

    monkeypatch.setattr(node, "grant", held)
    yield read, release


@pytest.mark.parametrize("change", ["mute", "move", "leave"])
async def test_a_change_while_identify_waits_for_its_grant_is_applied(
    api: ApiClient,
    gateway: str,
    voice: VoiceServer,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
) -> None:
    room = await new_voice_room(api)
    async with (
        calling(gateway, voice, room.room.owner, room, AES) as alice,
        connected(gateway, voice, room.room.member, room) as (bob, ws),
        open_udp(voice.endpoint) as udp,
        grants_held(voice, monkeypatch) as (read, release),
    ):
        await ws.send(0, bob.identify())
        with trio.fail_after(5):
            await read.wait()
        # The REST answer comes once the node has been told (no session to apply it to yet).
        if change == "mute":
            await patch_member(api, room, bob.user_id, mute=True)
        elif change == "move":
            await patch_member(api, room, bob.user_id, channel_id=str(room.other_channel_id))
        else:
            await patch_member(api, room, bob.user_id, channel_id=None)
        release.set()
        if change == "leave":  # (its READY may or may not be written before the close)
            assert await ws.closed_with() == 4014
            assert [s.user_id for s in voice.calls.sessions] == [alice.joined.user_id]
            return
        ready = await ws.expect(2)
        (session,) = [s for s in voice.calls.sessions if s.user_id == bob.user_id]
        await ws.select(ready, udp, XCHACHA)
        await ws.speak(ready["ssrc"], 1)
        await udp.send(ready["ssrc"], b"bob")
        assert await alice.udp.nothing_within(QUIET_S)  # muted, or in another channel
        if change == "mute":
            assert (session.speaks, session.channel_id) == (False, room.channel_id)
            await alice.say(b"alice")  # a muted listener still hears
            assert await udp.receive() == (alice.ssrc, b"alice")
        else:
            assert session.channel_id == room.other_channel_id
            assert [s.user_id for s in voice.calls.members(room.channel_id)] == [
                alice.joined.user_id
            ]
