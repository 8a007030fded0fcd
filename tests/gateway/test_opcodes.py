"""Every opcode in Discord's table (Gateway, "Gateway Opcodes") gets its documented behaviour
or is ignored; only numbers outside it close 4001 (issue 19)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.api.rooms import new_room
from tests.api.test_guilds import new_guild
from tests.gateway.client import connect

if TYPE_CHECKING:
    from tests.running import ApiClient


async def test_request_soundboard_sounds_answers_each_guild_of_the_session(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    elsewhere = await new_guild(api, await api.register())  # not the member's
    async with connect(gateway) as client:
        await client.identify(room.member.token)
        await client.dispatch("GUILD_CREATE")
        # As discord.py's Guild.fetch_soundboard_sounds and JDA's requestSoundboardSounds send
        # it; a guild asked for twice or not the session's is answered once or not at all.
        await client.send(
            31, {"guild_ids": [room.guild_id, str(elsewhere["id"]), int(room.guild_id)]}
        )
        sounds = await client.dispatch("SOUNDBOARD_SOUNDS")
        assert sounds == {"guild_id": room.guild_id, "soundboard_sounds": []}
        # Nothing else came: the next frame answers the heartbeat sent after it.
        await client.send(1, client.seq)
        assert (await client.receive())["op"] == 11


async def test_request_channel_info_answers_for_a_guild_of_the_session(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    elsewhere = await new_guild(api, await api.register())
    async with connect(gateway) as client:
        await client.identify(room.member.token)
        await client.dispatch("GUILD_CREATE")
        # hikari's GatewayShard.request_channel_info(guild, fields=[STATUS, VOICE_START_TIME])
        for guild_id in (str(elsewhere["id"]), room.guild_id):
            await client.send(43, {"guild_id": guild_id, "fields": ["status", "voice_start_time"]})
        info = await client.dispatch("CHANNEL_INFO")
        assert info == {"guild_id": room.guild_id, "channels": []}


@pytest.mark.parametrize("op", [0, 7, 9, 10, 11])
async def test_opcodes_the_gateway_sends_are_ignored_from_a_client(
    api: ApiClient, gateway: str, op: int
) -> None:
    person = await api.register()
    async with connect(gateway) as client:
        await client.send(op, None)  # before IDENTIFY too
        await client.identify(person.token)
        await client.send(op, {"anything": True})
        await client.send(1, client.seq)
        assert (await client.receive())["op"] == 11  # still open, nothing sent for it


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        pytest.param({"op": 31, "d": {"guild_ids": ["1"]}}, 4003, id="before-identify"),
        pytest.param({"op": 43, "d": {"guild_id": "1", "fields": []}}, 4003, id="43-first"),
        pytest.param({"op": 5, "d": None}, 4001, id="not-in-the-table"),
        pytest.param({"op": 32, "d": None}, 4001, id="past-the-table"),
    ],
)
async def test_soundboard_requests_need_a_session_and_unknown_opcodes_close_4001(
    gateway: str, payload: object, code: int
) -> None:
    async with connect(gateway) as client:
        await client.send_text(json.dumps(payload))
        assert await client.closed_with() == code


@pytest.mark.parametrize(
    "d",
    [None, {}, {"guild_ids": "1"}, {"guild_ids": ["x"]}, {"guild_ids": [-1]}],
)
async def test_a_malformed_soundboard_request_closes_4002(
    api: ApiClient, gateway: str, d: object
) -> None:
    person = await api.register()
    async with connect(gateway) as client:
        await client.identify(person.token)
        await client.send(31, d)
        assert await client.closed_with() == 4002


@pytest.mark.parametrize(
    "d",
    [
        None,
        {"guild_ids": ["1"], "fields": ["status"]},
        {"guild_id": "1"},
        {"guild_id": "1", "fields": ["topic"]},
        {"guild_id": "1", "fields": [1]},
    ],
)
async def test_a_malformed_channel_info_request_closes_4002(
    api: ApiClient, gateway: str, d: object
) -> None:
    person = await api.register()
    async with connect(gateway) as client:
        await client.identify(person.token)
        await client.send(43, d)
        assert await client.closed_with() == 4002
