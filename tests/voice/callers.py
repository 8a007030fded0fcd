"""People in a call, as the voice tests set them up: joined through the main gateway's op 4,
then connected to the voice gateway (`connected`), or all the way to keyed audio having sent
SPEAKING (`calling`, `calling_both`); and a dropped connection taken up again (`Caller.drop`, `resumed`)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.voice.client import AES, XCHACHA, connect_voice, open_udp
from tests.voice.conftest import in_voice

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.running import Person
    from tests.voice.client import Joined, VoiceClient, VoiceUdp
    from tests.voice.conftest import VoiceRoom, VoiceServer

QUIET_S = 0.3  # how long "nothing arrives" is watched for: loopback delivers in microseconds


@dataclass
class Caller:
    joined: Joined
    main: Any  # the main gateway client
    ws: VoiceClient
    udp: VoiceUdp
    ssrc: int

    async def say(self, opus: bytes) -> None:
        await self.udp.send(self.ssrc, opus)

    async def hears_arrival(self, other: Caller) -> None:
        """Reads `other` joining this call after this caller: CLIENTS_CONNECT, then its
        SPEAKING."""
        assert await self.ws.expect(11) == {"user_ids": [str(other.joined.user_id)]}
        assert await self.ws.expect(5) == {
            "user_id": str(other.joined.user_id),
            "ssrc": other.ssrc,
            "speaking": 1,
        }

    async def drop(self) -> int:
        """Acknowledges all it has (a heartbeat and its ACK), then drops the socket with a
        reset: the `seq_ack` a RESUME names."""
        await self.ws.heartbeat(1)
        await self.ws.expect(6)
        self.ws.abort()
        return self.ws.seq


@asynccontextmanager
async def connected(
    gateway: str, voice: VoiceServer, who: Person, room: VoiceRoom
) -> AsyncIterator[tuple[Joined, VoiceClient]]:
    """`who` in the room's voice channel, and a voice connection that had its HELLO (not
    identified yet)."""
    async with (
        in_voice(gateway, who, room.guild_id, room.channel_id) as (joined, _),
        connect_voice(voice.endpoint, voice.cert_path) as client,
    ):
        yield joined, client


@asynccontextmanager
async def calling(
    gateway: str, voice: VoiceServer, who: Person, room: VoiceRoom, mode: str, channel: int = 0
) -> AsyncIterator[Caller]:
    """`who` in the room's voice channel (or `channel`), keyed in `mode`, having sent SPEAKING."""
    async with (
        in_voice(gateway, who, room.guild_id, channel or room.channel_id) as (joined, main),
        connect_voice(voice.endpoint, voice.cert_path) as ws,
        open_udp(voice.endpoint) as udp,
    ):
        ready = await ws.identify(joined)
        await ws.select(ready, udp, mode)
        await ws.speak(ready["ssrc"], 1)
        yield Caller(joined, main, ws, udp, ready["ssrc"])


@asynccontextmanager
async def calling_both(
    gateway: str, voice: VoiceServer, room: VoiceRoom, modes: tuple[str, str] = (AES, XCHACHA)
) -> AsyncIterator[tuple[Caller, Caller]]:
    """The room's owner (Alice), then its member (Bob), calling in its voice channel in the
    two `modes`: one of each, as a call of both libraries would be."""
    async with (
        calling(gateway, voice, room.room.owner, room, modes[0]) as alice,
        calling(gateway, voice, room.room.member, room, modes[1]) as bob,
    ):
        yield alice, bob


@asynccontextmanager
async def resumed(voice: VoiceServer, joined: Joined, seq_ack: int) -> AsyncIterator[VoiceClient]:
    """A new connection that RESUMEd `joined`'s session having had messages up to `seq_ack`:
    RESUMED read, and numbering going on from `seq_ack`."""
    async with connect_voice(voice.endpoint, voice.cert_path) as again:
        again.seq = seq_ack
        await again.send(7, joined.resume(seq_ack))
        assert await again.receive() == {"op": 9, "d": None}
        yield again
