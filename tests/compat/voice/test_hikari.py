"""hikari 2.7, unmodified: `bot.voice.connect_to(guild, channel, voice_connection_type)` sends
op 4, waits for VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE, and hands what they carry to the
voice connection type (hikari has no voice transport of its own: libraries such as
Lavalink clients plug one in). The one here records what it is given."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import hikari

from tests.api.rooms import new_room
from tests.compat.asyncio_thread import open_asyncio_thread
from tests.compat.voice.guild import moderate, voice_channel, voice_state
from tests.gateway.test_dispatch import add_bot

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer

    _OnClose = Callable[["RecordedConnection"], Awaitable[None]]

WAIT_S = 10  # connect_to's own wait for the two events


class RecordedConnection(hikari.api.VoiceConnection):
    """The least VoiceConnection: what connect_to initialized it with, and the voice events
    hikari notifies it of afterwards."""

    def __init__(self, given: dict[str, Any], on_close: _OnClose) -> None:
        self.given = given
        self._on_close = on_close
        self.events: asyncio.Queue[hikari.VoiceEvent] = asyncio.Queue()
        self._alive = True

    @classmethod
    async def initialize(  # type: ignore[override]  # hikari passes all by keyword
        cls, *, on_close: _OnClose, **given: Any
    ) -> RecordedConnection:
        return cls(given, on_close)

    @property
    def channel_id(self) -> hikari.Snowflake:
        return hikari.Snowflake(self.given["channel_id"])

    @property
    def guild_id(self) -> hikari.Snowflake:
        return hikari.Snowflake(self.given["guild_id"])

    @property
    def is_alive(self) -> bool:
        return self._alive

    @property
    def shard_id(self) -> int:
        return int(self.given["shard_id"])

    @property
    def owner(self) -> hikari.api.VoiceComponent:
        owner: hikari.api.VoiceComponent = self.given["owner"]
        return owner

    async def disconnect(self) -> None:
        self._alive = False
        await self._on_close(self)  # hikari leaves the channel (op 4, no channel)

    async def join(self) -> None:
        pass

    async def notify(self, event: hikari.VoiceEvent) -> None:
        self.events.put_nowait(event)


async def test_hikari_connect_to_receives_both_voice_events(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    channel_id = await voice_channel(api, room)
    rest_url = f"{str(api.http.base_url).rstrip('/')}/api/v10"
    async with open_asyncio_thread() as thread:
        bot = hikari.GatewayBot(
            token,
            banner=None,
            logs=None,
            suppress_optimization_warning=True,
            rest_url=rest_url,
            intents=hikari.Intents.GUILDS | hikari.Intents.GUILD_VOICE_STATES,
        )
        own_states: asyncio.Queue[hikari.VoiceStateUpdateEvent] = asyncio.Queue()

        async def on_state(event: hikari.VoiceStateUpdateEvent) -> None:
            if event.state.user_id == int(bot_id):
                own_states.put_nowait(event)

        bot.subscribe(hikari.VoiceStateUpdateEvent, on_state)
        await thread.run(bot.start(check_for_updates=False))
        try:
            connection = await thread.run(
                bot.voice.connect_to(
                    int(room.guild_id), int(channel_id), RecordedConnection, timeout=WAIT_S
                )
            )
            state = await voice_state(api, room, bot_id)
            assert state is not None
            given = connection.given
            # From VOICE_STATE_UPDATE: the main gateway session; from VOICE_SERVER_UPDATE:
            # the endpoint (hikari puts wss:// in front) and a voice token.
            assert given["session_id"] == state["session_id"]
            assert given["endpoint"] == f"wss://{voice.endpoint}"
            assert isinstance(given["token"], str)
            assert given["token"]
            assert (given["guild_id"], given["channel_id"], given["user_id"]) == (
                int(room.guild_id),
                int(channel_id),
                int(bot_id),
            )

            # Later voice events of its guild reach the connection.
            await moderate(api, room, bot_id, mute=True)
            event = await thread.run(connection.events.get())
            assert isinstance(event, hikari.VoiceStateUpdateEvent)
            assert event.state.is_guild_muted

            await thread.run(bot.voice.disconnect(int(room.guild_id)))
            while (await thread.run(own_states.get())).state.channel_id is not None:
                pass  # the join's and the mute's
            assert await voice_state(api, room, bot_id) is None
        finally:
            await thread.run(bot.close())
