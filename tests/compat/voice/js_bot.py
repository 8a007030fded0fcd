"""The discord.js voice bot (tests/compat/js/scenarios/voice.mjs) as the tests drive it: one
method a step, each returning the step's report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.compat.node import NodeBot


class JsVoiceBot:
    def __init__(self, bot: NodeBot) -> None:
        self._bot = bot

    async def _step(self, do: str, **fields: object) -> dict[str, Any]:
        await self._bot.tell({"do": do, **fields})
        report = await self._bot.report()
        assert isinstance(report, dict)
        return report

    async def join(self, channel_id: str, *, self_deaf: bool = False) -> dict[str, Any]:
        """Joins and waits for VoiceConnectionStatus.Ready: status, channel_id, mode, ssrc."""
        return await self._step("join", channel_id=channel_id, self_deaf=self_deaf)

    async def listen(self, user_id: str) -> None:
        await self._step("listen", user_id=user_id)

    async def frames(self, user_id: str, count: int) -> list[bytes]:
        """The next `count` frames heard from `user_id`, in the order heard."""
        report = await self._step("frames", user_id=user_id, count=count)
        return [bytes.fromhex(frame) for frame in report["frames"]]

    async def unheard(self, user_id: str) -> list[bytes]:
        """Frames heard from `user_id` and not taken yet (no waiting)."""
        report = await self._step("unheard", user_id=user_id)
        return [bytes.fromhex(frame) for frame in report["frames"]]

    async def ssrc(self, user_id: str) -> int:
        """The SSRC that op 5 mapped to `user_id` (waits for one)."""
        ssrc = (await self._step("ssrc", user_id=user_id))["ssrc"]
        assert isinstance(ssrc, int)
        return ssrc

    async def ssrc_gone(self, user_id: str) -> None:
        """Waits until `user_id` has no SSRC mapped any more (op 13)."""
        await self._step("ssrc", user_id=user_id, gone=True)

    async def play(self, frames: list[bytes]) -> None:
        await self._step("play", frames=[frame.hex() for frame in frames])

    async def status(self, status: str) -> dict[str, Any]:
        """Waits for a VoiceConnectionStatus ("disconnected", ...): what describes it then."""
        return await self._step("status", status=status)

    async def resumed(self, count: int = 1) -> dict[str, Any]:
        """Waits until the connection has resumed `count` times and is ready."""
        return await self._step("resumed", count=count)

    async def moved(self, channel_id: str) -> dict[str, Any]:
        """Waits until the connection is ready in `channel_id`."""
        return await self._step("moved", channel_id=channel_id)

    async def done(self) -> None:
        await self._bot.tell({"do": "done"})
