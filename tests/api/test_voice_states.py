"""Voice states over REST and moderation, with real gateway sessions in voice: GET and PATCH
voice-states, server mute, deafen, moves and disconnects through PATCH members, and the ends
that kicks, bans, deleted channels and lost permissions bring; and two processes' Voice
services sharing one Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest
import trio

from core.access import AccessCache
from core.bus import BusLost, RedisBus
from core.domain.permissions import Permission
from core.domain.voice import reveal_voice_token
from core.events import EventName
from core.voice import Voice
from core.voice_states_redis import RedisVoiceBoard
from tests.api.rooms import grant, new_room
from tests.gateway.client import connect
from tests.gateway.test_voice_signalling import (
    STAGE,
    RecordingNode,
    join,
    joined,
    marker,
    ready,
    voice_channel,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from core.bus import Batch
    from core.domain.tokens import JwtKeys
    from core.domain.voice import VoiceState
    from core.store.redis import Redis
    from tests.api.rooms import Room
    from tests.running import ApiClient


def voice_url(room: Room, who: str) -> str:
    return f"/api/v10/guilds/{room.guild_id}/voice-states/{who}"


def member_url(room: Room, user_id: int) -> str:
    return f"/api/v10/guilds/{room.guild_id}/members/{user_id}"


def code_of(response: Any) -> tuple[int, int]:
    return response.status_code, response.json().get("code")


async def test_get_voice_state_of_oneself_and_others(api: ApiClient, gateway: str) -> None:
    room = await new_room(api)
    channel = await voice_channel(api, room)
    assert code_of(await api.http.get(voice_url(room, "@me"), headers=room.member.auth)) == (
        404,
        10065,
    )
    async with connect(gateway) as member:
        await ready(member, room.member)
        await join(member, room.guild_id, channel, mute=True)
        state, _ = await joined(member)
        mine = await api.http.get(voice_url(room, "@me"), headers=room.member.auth)
        assert mine.status_code == 200, mine.text
        assert mine.json() == state
        theirs = await api.http.get(voice_url(room, str(room.member.id)), headers=room.owner.auth)
        assert theirs.json() == state
        owner_none = await api.http.get(
            voice_url(room, str(room.owner.id)), headers=room.owner.auth
        )
        assert code_of(owner_none) == (404, 10065)
        stranger = await api.register()
        outside = await api.http.get(voice_url(room, "@me"), headers=stranger.auth)
        assert code_of(outside) == (404, 10004)


async def test_server_mute_deafen_move_and_disconnect(api: ApiClient, gateway: str) -> None:
    room = await new_room(api)
    first, second = await voice_channel(api, room), await voice_channel(api, room)
    async with connect(gateway) as member, connect(gateway) as owner:
        await ready(member, room.member)
        await ready(owner, room.owner)
        url = member_url(room, room.member.id)
        # Not in voice: mute is kept for later; a move is 40032 and changes nothing.
        assert code_of(
            await api.http.patch(url, headers=room.owner.auth, json={"channel_id": second})
        ) == (400, 40032)
        assert code_of(
            await api.http.patch(url, headers=room.owner.auth, json={"channel_id": None})
        ) == (400, 40032)
        await join(member, room.guild_id, first)
        await joined(member)
        await owner.next_named("VOICE_STATE_UPDATE")

        muted = await api.http.patch(url, headers=room.owner.auth, json={"mute": True})
        assert muted.status_code == 200
        assert muted.json()["mute"] is True
        for client in (member, owner):
            state = await client.next_named("VOICE_STATE_UPDATE")
            assert (state["mute"], state["deaf"], state["channel_id"]) == (True, False, first)
        await api.http.patch(url, headers=room.owner.auth, json={"deaf": True})
        assert (await owner.next_named("VOICE_STATE_UPDATE"))["deaf"] is True
        assert await marker(api, room, member) == ["VOICE_STATE_UPDATE"]  # the deafen
        # A member without MOVE_MEMBERS moves nobody.
        refused = await api.http.patch(
            member_url(room, room.owner.id), headers=room.member.auth, json={"channel_id": first}
        )
        assert code_of(refused) == (403, 50013)

        moved = await api.http.patch(url, headers=room.owner.auth, json={"channel_id": second})
        assert moved.status_code == 200, moved.text
        state, server = await joined(member)
        assert state["channel_id"] == second
        assert state["mute"] is True
        assert server["guild_id"] == room.guild_id
        assert (await owner.next_named("VOICE_STATE_UPDATE"))["channel_id"] == second
        text = await api.http.patch(
            url, headers=room.owner.auth, json={"channel_id": room.channel_id}
        )
        assert code_of(text) == (400, 50035)

        gone = await api.http.patch(url, headers=room.owner.auth, json={"channel_id": None})
        assert gone.status_code == 200, gone.text
        for client in (member, owner):
            assert (await client.next_named("VOICE_STATE_UPDATE"))["channel_id"] is None
        assert await marker(api, room, member) == []
    member_row = await api.http.get(url, headers=room.owner.auth)
    assert (member_row.json()["mute"], member_row.json()["deaf"]) == (True, True)


async def test_a_move_needs_a_channel_the_member_may_connect_to(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    first, locked = await voice_channel(api, room), await voice_channel(api, room)
    await api.http.put(
        f"/api/v10/channels/{locked}/permissions/{room.member.id}",
        headers=room.owner.auth,
        json={"type": 1, "allow": "0", "deny": str(int(Permission.CONNECT))},
    )
    async with connect(gateway) as member:
        await ready(member, room.member)
        await join(member, room.guild_id, first)
        await joined(member)
        url = member_url(room, room.member.id)
        refused = await api.http.patch(url, headers=room.owner.auth, json={"channel_id": locked})
        assert code_of(refused) == (403, 50013)
        assert await marker(api, room, member) == []


async def test_a_stage_channels_speakers(api: ApiClient, gateway: str) -> None:
    room = await new_room(api)
    stage = await voice_channel(api, room, kind=STAGE)
    plain = await voice_channel(api, room)
    async with connect(gateway) as member, connect(gateway) as owner:
        await ready(member, room.member)
        await ready(owner, room.owner)
        await join(member, room.guild_id, stage)
        state, _ = await joined(member)
        assert state["suppress"] is True  # the audience, until invited
        assert await owner.next_named("VOICE_STATE_UPDATE") == state
        me = voice_url(room, "@me")
        stamp = "2030-01-01T00:00:00.000000+00:00"
        asked = await api.http.patch(
            me,
            headers=room.member.auth,
            json={"channel_id": stage, "request_to_speak_timestamp": stamp},
        )
        assert asked.status_code == 204, asked.text
        assert (await owner.next_named("VOICE_STATE_UPDATE"))["request_to_speak_timestamp"] == stamp
        # Unsuppressing oneself needs MUTE_MEMBERS; so does anything done to another user.
        assert code_of(
            await api.http.patch(me, headers=room.member.auth, json={"suppress": False})
        ) == (403, 50013)
        wrong = await api.http.patch(
            voice_url(room, str(room.member.id)),
            headers=room.owner.auth,
            json={"channel_id": plain, "suppress": False},
        )
        assert code_of(wrong) == (400, 50035)
        missing = await api.http.patch(
            voice_url(room, str(room.member.id)), headers=room.owner.auth, json={"suppress": False}
        )
        assert code_of(missing) == (400, 50035)
        invited = await api.http.patch(
            voice_url(room, str(room.member.id)),
            headers=room.owner.auth,
            json={"channel_id": stage, "suppress": False},
        )
        assert invited.status_code == 204, invited.text
        speaker = await owner.next_named("VOICE_STATE_UPDATE")
        assert speaker["suppress"] is False
        await api.http.patch(me, headers=room.member.auth, json={"suppress": True})
        back = await owner.next_named("VOICE_STATE_UPDATE")
        assert back["suppress"] is True
        assert back["request_to_speak_timestamp"] is None
        assert await marker(api, room, member) == [
            "VOICE_STATE_UPDATE",
            "VOICE_STATE_UPDATE",
            "VOICE_STATE_UPDATE",
        ]
        # Not a stage: 50024; not in voice: 10065.
        await join(member, room.guild_id, plain)
        await joined(member)
        assert code_of(
            await api.http.patch(me, headers=room.member.auth, json={"suppress": True})
        ) == (400, 50024)
        assert code_of(
            await api.http.patch(
                voice_url(room, "@me"), headers=room.owner.auth, json={"suppress": True}
            )
        ) == (404, 10065)


async def left_voice(owner: Any, user_id: int) -> None:
    with trio.fail_after(5):
        while True:
            state = await owner.next_named("VOICE_STATE_UPDATE")
            if state["user_id"] == str(user_id) and state["channel_id"] is None:
                return


class OrderNode(RecordingNode):
    """A voice node that notes, each time it is told a user left or a call ended, whether
    the sessions' VOICE_STATE_UPDATE `channel_id: null` was on the bus already."""

    def __init__(self, name: str, endpoint: str, bus: trio.MemoryReceiveChannel[Batch]) -> None:
        super().__init__(name, endpoint)
        self._bus = bus
        self._left: set[int] = set()  # users whose leave is on the bus
        self.told: list[tuple[str, bool]] = []  # what it was told, and whether it was

    def _published(self, user_id: int) -> bool:
        while True:
            try:
                batch = self._bus.receive_nowait()
            except trio.WouldBlock:
                return user_id in self._left
            for event in batch.events:
                if event.name is EventName.VOICE_STATE_UPDATE:
                    state = orjson.loads(event.payload)
                    if state["channel_id"] is None:
                        self._left.add(int(state["user_id"]))

    def changed(self, state: VoiceState) -> None:
        super().changed(state)
        if state.channel_id is None:
            self.told.append(("left", self._published(state.user_id)))

    def call_ended(self, guild_id: int, channel_id: int) -> None:
        super().call_ended(guild_id, channel_id)
        self._published(0)
        self.told.append(("ended", bool(self._left)))


@pytest.mark.parametrize("end", ["overwrite", "role", "kick", "ban", "disconnect", "delete"])
async def test_kick_ban_lost_connect_and_a_deleted_channel_end_voice_states(
    api: ApiClient, gateway: str, end: str
) -> None:
    room = await new_room(api)
    channel = await voice_channel(api, room)
    owner_auth = room.owner.auth
    if end == "role":  # CONNECT through a role alone: @everyone loses it
        roles = (
            await api.http.get(f"/api/v10/guilds/{room.guild_id}/roles", headers=owner_auth)
        ).json()
        everyone = next(r for r in roles if r["id"] == room.guild_id)
        edited = await api.http.patch(
            f"/api/v10/guilds/{room.guild_id}/roles/{room.guild_id}",
            headers=owner_auth,
            json={"permissions": str(int(everyone["permissions"]) & ~int(Permission.CONNECT))},
        )
        assert edited.status_code == 200, edited.text
        await grant(api, room, str(room.member.id), int(Permission.CONNECT))
    voice = api.services.voice
    async with trio.open_nursery() as nursery, api.services.bus.subscribe() as bus:
        node = OrderNode("ending", "127.0.0.1:50998", bus)
        await nursery.start(voice.serve_node, node)
        async with connect(gateway) as owner, connect(gateway) as member:
            await ready(owner, room.owner)
            await ready(member, room.member)
            await join(member, room.guild_id, channel)
            await joined(member)
            await owner.next_named("VOICE_STATE_UPDATE")
            url = member_url(room, room.member.id)
            if end == "overwrite":
                response = await api.http.put(
                    f"/api/v10/channels/{channel}/permissions/{room.member.id}",
                    headers=owner_auth,
                    json={"type": 1, "allow": "0", "deny": str(int(Permission.CONNECT))},
                )
            elif end == "role":
                [role] = (await api.http.get(url, headers=owner_auth)).json()["roles"]
                response = await api.http.delete(f"{url}/roles/{role}", headers=owner_auth)
            elif end == "disconnect":
                response = await api.http.patch(url, headers=owner_auth, json={"channel_id": None})
            elif end == "kick":
                response = await api.http.delete(url, headers=owner_auth)
            elif end == "ban":
                response = await api.http.put(
                    f"/api/v10/guilds/{room.guild_id}/bans/{room.member.id}",
                    headers=owner_auth,
                    json={},
                )
            else:
                response = await api.http.delete(f"/api/v10/channels/{channel}", headers=owner_auth)
            assert response.status_code in (200, 204), response.text
            await left_voice(owner, room.member.id)
            assert node.changes[-1].channel_id is None
            assert node.ended == ([(int(room.guild_id), int(channel))] if end == "delete" else [])
            # The sessions were told first; then the node, which closes the connection: 4022
            # for a deleted channel (call_ended before the leave), 4014 otherwise.
            told = [("ended", True)] if end == "delete" else []
            assert node.told == [*told, ("left", True)]
        nursery.cancel_scope.cancel()
    assert await voice.states_of([int(room.guild_id)]) == {}


async def test_a_role_change_that_keeps_connect_keeps_the_state(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    channel = await voice_channel(api, room)
    async with connect(gateway) as member:
        await ready(member, room.member)
        await join(member, room.guild_id, channel)
        await joined(member)
        await grant(api, room, str(room.member.id), int(Permission.SEND_MESSAGES))
        assert "VOICE_STATE_UPDATE" not in await marker(api, room, member)
    assert await api.services.voice.states_of([int(room.guild_id)])


async def voice_token(bus: AsyncIterator[Batch], keys: JwtKeys) -> str:
    """The token of the next VOICE_SERVER_UPDATE on the bus, revealed as the gateway does."""
    with trio.fail_after(5):
        async for batch in bus:
            for event in batch.events:
                if event.name is EventName.VOICE_SERVER_UPDATE:
                    token: str = orjson.loads(reveal_voice_token(event.payload, keys))["token"]
                    return token
    raise AssertionError("the bus ended")


async def test_two_processes_share_voice_states_and_the_channels_node(
    api: ApiClient, redis: Redis
) -> None:
    """Two Voice services on one Redis, as two processes have: a node registered by one serves
    the channel a join through the other assigns, and each sees the other's states and is
    told of its changes over the bus."""
    room = await new_room(api)
    channel = int(await voice_channel(api, room))
    guild = int(room.guild_id)
    db = api.services.db
    try:  # (the relay makes the stream; none runs here)
        await RedisBus(redis).check_kept()
    except BusLost:
        await RedisBus(redis).restore([])
    keys = api.services.accounts.keys
    one = Voice(db, AccessCache(), RedisBus(redis), RedisVoiceBoard(redis), keys)
    two = Voice(db, AccessCache(), RedisBus(redis), RedisVoiceBoard(redis), keys)
    node = RecordingNode(f"node-{guild}", "10.0.0.1:8082")
    async with trio.open_nursery() as nursery, RedisBus(redis).subscribe() as bus:
        await nursery.start(one.serve_node, node)
        await two.request(
            "session-b", room.member.id, guild, channel, self_mute=False, self_deaf=True
        )
        token = await voice_token(bus, keys)
        states = await one.states_of([guild])
        [listed] = states[guild]
        assert listed["channel_id"] == str(channel)
        assert listed["self_deaf"] is True
        assert await two.board.node_of(channel) == node.name
        granted = await one.grant(guild, room.member.id, "session-b", token)
        assert granted is not None
        assert granted.channel_id == channel
        with trio.fail_after(5):  # told over the bus: the change was the other's
            await node.arrived.wait()
        assert node.changes[0].channel_id == channel
        assert node.changes[0].token_digest == ""
        await two.end_session("session-b", room.member.id, [guild])
        assert await one.states_of([guild]) == {}
        assert await one.board.node_of(channel) is None  # released once empty
        nursery.cancel_scope.cancel()


async def test_a_deleted_guild_ends_its_calls_and_releases_its_channels(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    channel = await voice_channel(api, room)
    guild = int(room.guild_id)
    node = RecordingNode(f"node-{guild}", "127.0.0.1:50997")
    voice = api.services.voice
    async with trio.open_nursery() as nursery:
        await nursery.start(voice.serve_node, node)
        async with connect(gateway) as member:
            await ready(member, room.member)
            await join(member, room.guild_id, channel)
            _, server = await joined(member)
            assert server["endpoint"] == node.endpoint
            deleted = await api.http.delete(f"/api/v10/guilds/{guild}", headers=room.owner.auth)
            assert deleted.status_code == 204, deleted.text  # (the hook ran before the answer)
        assert node.ended == [(guild, int(channel))]
        assert await voice.states_of([guild]) == {}
        assert await voice.board.node_of(int(channel)) is None
        token = server["token"]
        assert await voice.grant(guild, room.member.id, member.session_id, token) is None
        nursery.cancel_scope.cancel()
