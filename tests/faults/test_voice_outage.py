"""Redis killed while a member is in voice: a kick committed meanwhile stands (204, the member
is gone), its voice side is reported as a fault rather than turning the answer into a 5xx."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from core.bus import BusLost, RedisBus
from core.domain.permissions import Permission
from core.metrics import FAULTS
from core.store.redis import open_redis
from tests.api.rooms import grant, new_room
from tests.gateway.test_dispatch import add_bot
from tests.gateway.test_voice_signalling import voice_channel
from tests.running import running_api

if TYPE_CHECKING:
    from core.config import Settings
    from core.store.database import Database
    from tests.faults.servers import OwnRedis


async def test_a_kick_while_redis_is_away_stands_and_reports_the_voice_fault(
    settings: Settings, db: Database, own_redis: OwnRedis
) -> None:
    async with (
        open_redis(own_redis.url) as redis,
        running_api(settings, db, redis=redis) as api,
    ):
        try:  # (the relay makes the stream; none runs here)
            await RedisBus(redis).check_kept()
        except BusLost:
            await RedisBus(redis).restore([])
        room = await new_room(api)
        bot_id, token = await add_bot(api, room)
        await grant(api, room, bot_id, int(Permission.KICK_MEMBERS))
        bot = {"Authorization": f"Bot {token}"}  # a bot's token is checked without Redis
        guild, channel = int(room.guild_id), int(await voice_channel(api, room))
        voice = api.services.voice
        await voice.request(
            "in-voice", room.member.id, guild, channel, self_mute=False, self_deaf=False
        )
        assert await voice.states_of([guild])
        faults = FAULTS.labels(boundary="voice-after-commit")
        before = faults.value
        await trio.to_thread.run_sync(own_redis.kill)
        url = f"/api/v10/guilds/{guild}/members/{room.member.id}"
        kicked = await api.http.delete(url, headers=bot)
        assert kicked.status_code == 204, kicked.text
        assert faults.value == before + 1
        gone = await api.http.get(url, headers=bot)
        assert gone.status_code == 404, gone.text
