"""This process's voice node: what the Voice service tells it (core.domain.voice.VoiceNode)
and what its conversations ask of it (conversation.Node)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from core.faults import report_fault
from gateway.voice import close

if TYPE_CHECKING:
    from core.domain.voice import VoiceState
    from core.voice import Voice
    from gateway.voice.calls import Calls
    from gateway.voice.limits import VoiceLimits
    from gateway.voice.session import Link


class VoiceGatewayNode:
    def __init__(
        self, name: str, endpoint: str, voice: Voice, calls: Calls, limits: VoiceLimits
    ) -> None:
        self.name = name
        self.endpoint = endpoint  # "host:port", as VOICE_SERVER_UPDATE names it
        self.calls = calls
        self.limits = limits
        self.links: set[Link] = set()
        self.draining = False
        self._voice = voice

    async def grant(
        self, guild_id: int, user_id: int, session_id: str, token: str
    ) -> VoiceState | None:
        """The voice state an IDENTIFY or RESUME stands for, if this node serves its channel."""
        return await self._voice.grant(guild_id, user_id, session_id, token, node=self.name)

    # VoiceNode: called synchronously by the Voice service, which must not be failed by us.

    def changed(self, state: VoiceState) -> None:
        try:
            self.calls.changed(state)
        except Exception as error:
            report_fault("voice-node", error, guild_id=state.guild_id, user_id=state.user_id)

    def call_ended(self, guild_id: int, channel_id: int) -> None:
        try:
            self.calls.call_ended(guild_id, channel_id)
        except Exception as error:
            report_fault("voice-node", error, guild_id=guild_id, channel_id=channel_id)

    # The node's own clock and end.

    async def expire_sessions(self) -> None:
        """Ends the sessions whose resume window has passed, until cancelled."""
        while True:
            await trio.sleep(self.limits.resume_window_s / 4)
            self.calls.expire(trio.current_time())

    def drain(self) -> None:
        """Every socket closes 1001 and every session ends: the clients join again, through
        a node that is still there (this one has unregistered by now)."""
        self.draining = True
        for link in list(self.links):
            link.ask_close(*close.DRAINING)
        self.calls.drain()
