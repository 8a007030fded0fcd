"""discord.py 2.7, unmodified, as a voice bot under test: logged in on the main gateway, trusting
the test's certificate through the `ssl` context on its connector, joining with
`channel.connect()`. It runs on an asyncio thread (tests/compat/asyncio_thread.py); the test
runs its steps there (`await thread.run(bot.join(...))`).

What the test watches goes through the library's own extension points: `connect(cls=...)`
with a VoiceClient whose connection state has a hook (every voice gateway message it gets) and
a socket listener (every datagram its socket gets; discord.py has no receiver of its own)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl
from discord.voice_state import VoiceConnectionState

from tests.compat.asyncio_thread import open_asyncio_thread
from tests.compat.voice.media import (
    OPUS_SILENCE,
    Received,
    discovery_request,
    is_rtp,
    open_xchacha,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from tests.compat.asyncio_thread import AsyncioThread
    from tests.compat.voice.certificate import Certificate


class WatchedVoiceClient(discord.VoiceClient):
    """discord.VoiceClient as shipped, watched: `messages` gets every voice gateway message,
    `datagrams` every datagram its UDP socket receives."""

    def create_connection_state(self) -> VoiceConnectionState:
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.datagrams: asyncio.Queue[bytes] = asyncio.Queue()
        self.ended = asyncio.Event()  # discord.py has let go of this voice connection
        return VoiceConnectionState(self, hook=self._heard)

    def cleanup(self) -> None:
        super().cleanup()
        self.ended.set()

    async def _heard(self, _: object, message: dict[str, Any]) -> None:
        self.messages.put_nowait(message)

    def watch_socket(self) -> None:
        """From now on, datagrams go to `datagrams` too (the listener runs on the socket
        reader's thread).

        Not for a client that will reconnect (be moved): discord.py registers its IP discovery
        listener only after sending the request, which is safe only while its socket reader is
        idle, and a listener of ours keeps it reading, so the answer could be read (and lost)
        before discord.py listens for it."""
        self._connection.add_socket_listener(self._received)

    async def settle_reader(self) -> None:
        """Makes discord.py's socket reader idle, before the client reconnects (is moved).

        After its last listener goes, the reader stays in select() until a datagram comes
        (or 30 s pass), and a reconnect's IP discovery answer read then is lost: discord.py
        listens for it only after sending the request, safe while the reader is idle and a
        race on loopback otherwise. So: a discovery request of ours brings an answer, taken
        by a listener that removes itself on the reader's own thread, which then goes idle."""
        loop = self.loop
        settled = asyncio.Event()

        def once(_: bytes) -> None:
            self._connection.remove_socket_listener(once)
            loop.call_soon_threadsafe(settled.set)

        self._connection.add_socket_listener(once)
        self._connection.send_packet(discovery_request(self.ssrc))
        await settled.wait()

    def _received(self, data: bytes) -> None:
        self.loop.call_soon_threadsafe(self.datagrams.put_nowait, data)

    async def next_message(self, op: int) -> dict[str, Any]:
        """The next voice gateway message with opcode `op` (skipping others)."""
        while (message := await self.messages.get())["op"] != op:
            pass
        return message

    async def hear(self, count: int) -> list[Received]:
        """The next `count` audio packets received, opened with this client's key (silence
        frames, which every sender adds after a stream, skipped)."""
        heard: list[Received] = []
        while len(heard) < count:
            packet = await self.datagrams.get()
            if is_rtp(packet):
                received = open_xchacha(packet, bytes(self.secret_key))
                if received.opus != OPUS_SILENCE:
                    heard.append(received)
        return heard

    async def unread(self) -> list[Received]:
        """The audio packets received and not taken by `hear` yet, opened (silence too)."""
        waiting = []
        while not self.datagrams.empty():
            if is_rtp(packet := self.datagrams.get_nowait()):
                waiting.append(open_xchacha(packet, bytes(self.secret_key)))
        return waiting


class _Frames(discord.AudioSource):
    """Pre-encoded Opus frames, one per read, for discord.py's own audio player."""

    def __init__(self, frames: Iterable[bytes]) -> None:
        self._frames = iter(frames)

    def read(self) -> bytes:
        return next(self._frames, b"")

    def is_opus(self) -> bool:
        return True


class VoiceBot:
    """One discord.py client. Its coroutines run on the asyncio thread."""

    def __init__(self, token: str, certificate: Certificate) -> None:
        self._token = token
        self._certificate = certificate
        self.client: discord.Client | None = None
        self.voice: WatchedVoiceClient | None = None
        self.states: asyncio.Queue[discord.VoiceState] = asyncio.Queue()  # its own, as dispatched
        self._running: asyncio.Task[None] | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(ssl=self._certificate.client_context())
        client = discord.Client(intents=discord.Intents.default(), connector=connector)
        self.client = client
        ready = asyncio.Event()

        @client.event
        async def on_ready() -> None:
            ready.set()

        @client.event
        async def on_voice_state_update(
            member: discord.Member, _: discord.VoiceState, after: discord.VoiceState
        ) -> None:
            if member.id == client.user.id:  # type: ignore[union-attr]
                self.states.put_nowait(after)

        self._running = asyncio.create_task(client.start(self._token))
        await ready.wait()

    async def join(self, guild_id: int, channel_id: int) -> WatchedVoiceClient:
        assert self.client is not None
        guild = self.client.get_guild(guild_id)
        assert guild is not None
        channel = guild.get_channel(channel_id)
        assert isinstance(channel, discord.VoiceChannel)
        self.voice = await channel.connect(cls=WatchedVoiceClient, timeout=20)
        while not self.voice.messages.empty():  # the handshake's: later waits are for news
            self.voice.messages.get_nowait()
        while not self.states.empty():
            self.states.get_nowait()
        return self.voice

    async def play(self, frames: list[bytes]) -> None:
        """Plays `frames` through discord.py's audio player (SPEAKING, then one frame every
        20 ms, then silence) and returns when it is done."""
        assert self.voice is not None
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Exception | None] = loop.create_future()
        self.voice.play(
            _Frames(frames), after=lambda error: loop.call_soon_threadsafe(done.set_result, error)
        )
        assert await done is None

    async def send(self, frames: list[bytes]) -> None:
        """Sends `frames` at once, each through VoiceClient.send_audio_packet (no SPEAKING)."""
        assert self.voice is not None
        for frame in frames:
            self.voice.send_audio_packet(frame, encode=False)

    async def next_state(self) -> discord.VoiceState:
        """Its own next voice state, as dispatched to it (on_voice_state_update)."""
        return await self.states.get()

    async def ended(self) -> None:
        """Waits until discord.py has let go of its voice connection."""
        assert self.voice is not None
        await self.voice.ended.wait()

    async def settle(self) -> None:
        """Call before the bot is moved (see WatchedVoiceClient.settle_reader)."""
        assert self.voice is not None
        await self.voice.settle_reader()

    async def listen(self) -> None:
        """Keeps what its socket receives from now on (see WatchedVoiceClient.watch_socket)."""
        assert self.voice is not None
        self.voice.watch_socket()

    async def reconnected(self, channel_id: int) -> None:
        """Waits until the voice client has a new session in `channel_id` (after a move)."""
        assert self.voice is not None
        await self.voice.next_message(4)  # SESSION_DESCRIPTION
        assert self.voice.channel.id == channel_id

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()  # leaves voice first
        if self._running is not None:
            await self._running


@asynccontextmanager
async def discord_py_voice(
    api_url: str, gateway_url: str, token: str, certificate: Certificate
) -> AsyncIterator[tuple[AsyncioThread, VoiceBot]]:
    """A started VoiceBot and the thread its steps run on; closed on exit."""
    original_base = discord.http.Route.BASE
    original_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = f"{api_url.rstrip('/')}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{gateway_url}/")
    try:
        async with open_asyncio_thread() as thread:
            bot = VoiceBot(token, certificate)
            try:
                await thread.run(bot.start())
                yield thread, bot
            finally:
                await thread.run(bot.close())
    finally:
        discord.http.Route.BASE = original_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = original_gateway
