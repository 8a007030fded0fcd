"""The voice gateway running beside a test's API and main gateway (sharing their services),
and people who joined a voice channel through the main gateway's op 4."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest
import trio

from gateway.voice import VoiceGateway, VoiceLimits
from tests.api.rooms import new_room
from tests.api.test_guilds import add_member
from tests.gateway.client import connect
from tests.gateway.test_voice_signalling import join, voice_channel
from tests.voice.client import Joined

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from core.services import Services
    from gateway.voice.calls import Calls
    from tests.api.rooms import Room
    from tests.gateway.client import GatewayClient
    from tests.running import ApiClient, Person


@dataclass
class VoiceServer:
    endpoint: str  # "127.0.0.1:port", as VOICE_SERVER_UPDATE names it
    cert_path: Path
    gateway: VoiceGateway
    shutdown: trio.Event

    @property
    def calls(self) -> Calls:
        assert self.gateway.node is not None
        return self.gateway.node.calls


@asynccontextmanager
async def running_voice(
    api: ApiClient, limits: VoiceLimits | None = None, services: Services | None = None
) -> AsyncIterator[VoiceServer]:
    """A voice node on a free loopback port (UDP and TCP), registered with the test's Voice
    service (`services`: the API's, with other settings), drained on exit."""
    shutdown = trio.Event()
    voice = VoiceGateway(services or api.services, limits)
    async with trio.open_nursery() as nursery:
        endpoint: str = await nursery.start(partial(voice.serve, shutdown))
        assert voice.certificate is not None
        yield VoiceServer(endpoint, voice.certificate.cert_path, voice, shutdown)
        shutdown.set()


@pytest.fixture
async def voice(api: ApiClient, gateway: str) -> AsyncIterator[VoiceServer]:
    async with running_voice(api) as server:
        yield server


@dataclass
class VoiceRoom:
    room: Room
    channel_id: int  # a voice channel of the room's guild
    other_channel_id: int  # another one

    @property
    def guild_id(self) -> int:
        return int(self.room.guild_id)


async def new_voice_room(api: ApiClient) -> VoiceRoom:
    room = await new_room(api)
    return VoiceRoom(room, int(await voice_channel(api, room)), int(await voice_channel(api, room)))


async def join_voice(
    main: GatewayClient, guild_id: int, channel_id: int | None
) -> dict[str, Any] | None:
    """op 4 on the main gateway; the VOICE_SERVER_UPDATE it brings (None for a leave)."""
    await join(main, str(guild_id), None if channel_id is None else str(channel_id))
    if channel_id is None:
        return None
    return await main.next_named("VOICE_SERVER_UPDATE")


@asynccontextmanager
async def in_voice(
    gateway: str, who: Person, guild_id: int, channel_id: int
) -> AsyncIterator[tuple[Joined, GatewayClient]]:
    """`who` on the main gateway (kept open: the voice state lives as long as its session),
    joined to `channel_id`: what the voice gateway needs, and the main client."""
    async with connect(gateway) as main:
        await main.identify(who.token)
        server = await join_voice(main, guild_id, channel_id)
        assert server is not None
        assert server["endpoint"] is not None, "no voice node registered"
        yield (
            Joined(
                guild_id=guild_id,
                channel_id=channel_id,
                user_id=who.id,
                session_id=main.session_id,
                token=server["token"],
                endpoint=server["endpoint"],
            ),
            main,
        )


async def newcomer(api: ApiClient, room: VoiceRoom) -> Person:
    """A third member of the room's guild."""
    person = await api.register()
    await add_member(api, room.guild_id, person)
    return person
