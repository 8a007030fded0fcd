"""Voice signalling on the main gateway, over real sockets: op 4 joins, moves, re-joins and
leaves; who hears of it (VOICE_STATE_UPDATE to the guild's sessions with GUILD_VOICE_STATES,
VOICE_SERVER_UPDATE to the joining session alone); refusals that say nothing; voice states in
GUILD_CREATE and their end with the session; and the Voice service as a voice node sees it."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import pytest
import trio

from core.domain.permissions import Permission
from core.events import Intent
from tests.api.rooms import grant, new_room, send
from tests.gateway.client import DEFAULT_INTENTS, connect

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.domain.voice import VoiceState
    from core.voice import Voice
    from tests.api.rooms import Room
    from tests.gateway.client import GatewayClient
    from tests.running import ApiClient, Person

VOICE = 2
STAGE = 13


async def voice_channel(api: ApiClient, room: Room, *, kind: int = VOICE, **extra: object) -> str:
    created = await api.http.post(
        f"/api/v10/guilds/{room.guild_id}/channels",
        headers=room.owner.auth,
        json={"name": f"voice-{kind}", "type": kind, **extra},
    )
    assert created.status_code in (200, 201), created.text
    return str(created.json()["id"])


async def ready(client: GatewayClient, who: Person, intents: int = DEFAULT_INTENTS) -> None:
    await client.identify(who.token, intents)
    await client.dispatch("GUILD_CREATE")


async def marker(api: ApiClient, room: Room, *clients: GatewayClient) -> list[str]:
    """Posts a message and reads each client up to it: the names of what came before it.
    A refusal that sent nothing shows as nothing here."""
    sent = await send(api, room.owner, room, content="marker")
    seen: list[list[str]] = []
    for client in clients:
        names = []
        while True:
            payload = await client.receive()
            if payload["op"] != 0:
                continue
            if payload["t"] == "MESSAGE_CREATE" and payload["d"]["id"] == sent["id"]:
                break
            names.append(payload["t"])
        seen.append(names)
    return [n for names in seen for n in names]


async def join(
    client: GatewayClient, guild_id: Any, channel_id: Any, *, mute: bool = False, deaf: bool = False
) -> None:
    await client.send(
        4,
        {"guild_id": guild_id, "channel_id": channel_id, "self_mute": mute, "self_deaf": deaf},
    )


async def joined(client: GatewayClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """The VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE a join sends the joining session."""
    state = await client.next_named("VOICE_STATE_UPDATE")
    server = await client.dispatch("VOICE_SERVER_UPDATE")
    return state, server


async def rejoined(client: GatewayClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same two for a re-join of the channel the session is in: VOICE_SERVER_UPDATE
    first (what lets discord.py resume after a close 4015)."""
    server = await client.next_named("VOICE_SERVER_UPDATE")
    state = await client.dispatch("VOICE_STATE_UPDATE")
    return state, server


async def voice_order(client: GatewayClient) -> list[str]:
    """The names of the next two voice dispatches, in the order the session got them."""
    names: list[str] = []
    while len(names) < 2:
        payload = await client.receive()
        if payload["op"] == 0 and payload["t"] in ("VOICE_STATE_UPDATE", "VOICE_SERVER_UPDATE"):
            names.append(payload["t"])
    return names


async def settled(api: ApiClient, room: Room, *clients: GatewayClient) -> None:
    await marker(api, room, *clients)


@pytest.mark.parametrize("as_int", [True, False])
async def test_a_join_tells_the_guild_and_gives_the_session_its_voice_server(
    api: ApiClient, gateway: str, as_int: bool
) -> None:
    room = await new_room(api)
    channel = await voice_channel(api, room)
    async with connect(gateway) as member, connect(gateway) as owner:
        await ready(member, room.member)
        await ready(owner, room.owner)
        await settled(api, room, member, owner)
        guild: Any = int(room.guild_id) if as_int else room.guild_id
        await join(member, guild, int(channel) if as_int else channel, mute=True)
        state, server = await joined(member)
        assert state["channel_id"] == channel
        assert state["guild_id"] == room.guild_id
        assert state["user_id"] == str(room.member.id)
        assert state["session_id"] == member.session_id
        assert state["self_mute"] is True
        assert state["self_deaf"] is False
        assert state["mute"] is False
        assert state["deaf"] is False
        assert state["suppress"] is False
        assert state["member"]["user"]["id"] == str(room.member.id)
        assert "token" not in state
        assert server["guild_id"] == room.guild_id
        assert len(server["token"]) >= 32
        assert server["endpoint"] is None  # no voice node anywhere
        assert "session_id" not in server
        # The owner sees the state, never the server.
        assert await owner.next_named("VOICE_STATE_UPDATE") == state
        assert await marker(api, room, owner) == []


async def test_every_join_move_and_rejoin_has_a_fresh_token_and_flags_alone_no_server(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    first, second = await voice_channel(api, room), await voice_channel(api, room)
    async with connect(gateway) as member:
        await ready(member, room.member)
        await join(member, room.guild_id, first)
        _, server1 = await joined(member)
        await join(member, room.guild_id, first)  # a re-join: nothing changed
        state2, server2 = await rejoined(member)
        assert state2["channel_id"] == first
        await join(member, room.guild_id, second)  # a move
        state3, server3 = await joined(member)
        assert state3["channel_id"] == second
        assert len({server1["token"], server2["token"], server3["token"]}) == 3
        await join(member, room.guild_id, second, mute=True, deaf=True)  # flags alone
        flags = await member.next_named("VOICE_STATE_UPDATE")
        assert (flags["self_mute"], flags["self_deaf"], flags["channel_id"]) == (True, True, second)
        assert await marker(api, room, member) == []  # no VOICE_SERVER_UPDATE
        await join(member, room.guild_id, None)
        left = await member.next_named("VOICE_STATE_UPDATE")
        assert left["channel_id"] is None
        assert left["user_id"] == str(room.member.id)
        assert await marker(api, room, member) == []
        assert await api.services.voice.states_of([int(room.guild_id)]) == {}


async def test_a_rejoin_sends_the_server_first_and_a_join_or_move_the_state_first(
    api: ApiClient, gateway: str
) -> None:
    """discord.py resumes after a close 4015 by sending op 4 for its channel again while
    `connected`, and waits for both events: VOICE_SERVER_UPDATE must come first then, or it
    never completes. A first join and a move (its own or a moderator's) must bring the state
    first: that is where it learns the channel. A second session taking the user's place in
    the same channel is a join, for that session."""
    room = await new_room(api)
    first, second = await voice_channel(api, room), await voice_channel(api, room)
    state, server = "VOICE_STATE_UPDATE", "VOICE_SERVER_UPDATE"
    async with connect(gateway) as member, connect(gateway) as other:
        await ready(member, room.member)
        await ready(other, room.member)
        await join(member, room.guild_id, first)
        assert await voice_order(member) == [state, server]
        await join(member, room.guild_id, first)  # a re-join
        assert await voice_order(member) == [server, state]
        await join(member, room.guild_id, first)  # again, as many times as it takes
        assert await voice_order(member) == [server, state]
        await join(member, room.guild_id, second)  # a move
        assert await voice_order(member) == [state, server]
        moved = await api.http.patch(
            f"/api/v10/guilds/{room.guild_id}/members/{room.member.id}",
            headers=room.owner.auth,
            json={"channel_id": first},
        )
        assert moved.status_code in (200, 204), moved.text
        assert await voice_order(member) == [state, server]
        await settled(api, room, other)
        await join(other, room.guild_id, first)  # another session, same channel
        assert await voice_order(other) == [state, server]


async def test_refusals_send_nothing(api: ApiClient, gateway: str) -> None:
    room = await new_room(api)
    hidden = await voice_channel(api, room)
    denied = await api.http.put(
        f"/api/v10/channels/{hidden}/permissions/{room.member.id}",
        headers=room.owner.auth,
        json={"type": 1, "allow": "0", "deny": str(int(Permission.CONNECT))},
    )
    assert denied.status_code == 204, denied.text
    other = await new_room(api)  # a guild the member is not in
    elsewhere = await voice_channel(api, other)
    async with connect(gateway) as member, connect(gateway) as owner:
        await ready(member, room.member)
        await ready(owner, room.owner)
        await join(member, room.guild_id, hidden)  # no CONNECT
        await join(member, room.guild_id, room.channel_id)  # a text channel
        await join(member, room.guild_id, "123456789")  # no such channel
        await join(member, other.guild_id, elsewhere)  # not their guild
        await join(member, room.guild_id, elsewhere)  # another guild's channel
        await join(member, room.guild_id, None)  # leaving, while in no channel
        assert await marker(api, room, member, owner) == []
    assert await api.services.voice.states_of([int(room.guild_id)]) == {}


async def test_a_full_channel_refuses_but_move_members_goes_past(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    small = await voice_channel(api, room, user_limit=1)
    third = await api.register()
    from tests.api.test_guilds import add_member

    await add_member(api, room.guild_id, third)
    async with (
        connect(gateway) as owner,
        connect(gateway) as member,
        connect(gateway) as mover,
    ):
        await ready(owner, room.owner)
        await ready(member, room.member)
        await ready(mover, third)
        await join(owner, room.guild_id, small)
        await joined(owner)
        await settled(api, room, member, mover)
        await join(member, room.guild_id, small)
        assert await marker(api, room, member) == []  # full: nothing at all
        await grant(api, room, str(third.id), int(Permission.MOVE_MEMBERS))
        await settled(api, room, mover)
        await join(mover, room.guild_id, small)
        state, _ = await joined(mover)
        assert state["channel_id"] == small


async def test_voice_states_reach_only_sessions_that_asked_for_them(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    channel = await voice_channel(api, room)
    without = DEFAULT_INTENTS & ~Intent.GUILD_VOICE_STATES
    async with connect(gateway) as member, connect(gateway) as owner:
        await ready(member, room.member, without)
        await ready(owner, room.owner, without)
        await join(member, room.guild_id, channel)
        await member.next_named("VOICE_SERVER_UPDATE")  # the joining session's own
        assert await marker(api, room, member, owner) == []


async def test_guild_create_lists_voice_states_and_a_session_end_removes_them(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    channel = await voice_channel(api, room)
    async with connect(gateway) as owner:
        await ready(owner, room.owner)
        async with connect(gateway) as member:
            await ready(member, room.member)
            await join(member, room.guild_id, channel, deaf=True)
            await joined(member)
            await owner.next_named("VOICE_STATE_UPDATE")
            async with connect(gateway) as late:
                await late.identify(room.owner.token, DEFAULT_INTENTS)
                start = await late.dispatch("GUILD_CREATE")
                [listed] = start["voice_states"]
                assert listed["user_id"] == str(room.member.id)
                assert listed["channel_id"] == channel
                assert listed["session_id"] == member.session_id
                assert listed["self_deaf"] is True
                assert "member" not in listed
                assert "token" not in listed
            # A dropped connection is resumable: the state stays.
            session_id, seq = member.session_id, member.seq
            await member.stream.aclose()
        await settled(api, room, owner)
        assert await api.services.voice.states_of([int(room.guild_id)])
        async with connect(gateway) as back:
            back.seq = seq
            await back.send(6, {"token": room.member.token, "session_id": session_id, "seq": seq})
            await back.next_named("RESUMED")
            assert await api.services.voice.states_of([int(room.guild_id)])
            await back.close(1000)  # a clean close ends the session for good
            with trio.fail_after(5):
                left = await owner.next_named("VOICE_STATE_UPDATE")
            assert left["channel_id"] is None
            assert left["user_id"] == str(room.member.id)
        assert await api.services.voice.states_of([int(room.guild_id)]) == {}


@pytest.mark.parametrize(
    "d",
    [
        None,
        [],
        {"guild_id": "1", "self_mute": False, "self_deaf": False},  # no channel_id
        {"guild_id": "x", "channel_id": None, "self_mute": False, "self_deaf": False},
        {"guild_id": "1", "channel_id": "y", "self_mute": False, "self_deaf": False},
        {"guild_id": "1", "channel_id": None, "self_mute": 0, "self_deaf": False},
        {"guild_id": -1, "channel_id": None, "self_mute": False, "self_deaf": False},
    ],
)
async def test_a_malformed_op_4_closes_4002(api: ApiClient, gateway: str, d: object) -> None:
    room = await new_room(api)
    async with connect(gateway) as member:
        await ready(member, room.member)
        await member.send(4, d)
        assert await member.closed_with() == 4002


async def test_op_4_is_as_tolerant_as_discord(api: ApiClient, gateway: str) -> None:
    """A DM call (guild_id null) is not served: nothing, and the session goes on; a missing or
    null self_mute/self_deaf is false."""
    room = await new_room(api)
    channel = await voice_channel(api, room)
    async with connect(gateway) as member:
        await ready(member, room.member)
        await member.send(4, {"guild_id": None, "channel_id": None})
        assert await marker(api, room, member) == []
        await member.send(4, {"guild_id": room.guild_id, "channel_id": channel, "self_mute": None})
        state, _ = await joined(member)
        assert (state["channel_id"], state["self_mute"], state["self_deaf"]) == (
            channel,
            False,
            False,
        )


class RecordingNode:
    """A voice node in this process, as the voice gateway is one: it records what the Voice
    service tells it."""

    def __init__(self, name: str, endpoint: str) -> None:
        self.name = name
        self.endpoint = endpoint
        self.changes: list[VoiceState] = []
        self.ended: list[tuple[int, int]] = []
        self.arrived = trio.Event()  # set at the first change
        self._next = trio.Event()

    def changed(self, state: VoiceState) -> None:
        self.changes.append(state)
        self.arrived.set()
        self._next.set()

    async def latest_once(self, check: Callable[[VoiceState], bool]) -> VoiceState:
        """The latest change, once one passes `check`. A leave is told to nodes after it is
        on the bus, so its session may hear of it first."""
        with trio.fail_after(5):
            while not (self.changes and check(self.changes[-1])):
                self._next = trio.Event()
                await self._next.wait()
        return self.changes[-1]

    def call_ended(self, guild_id: int, channel_id: int) -> None:
        self.ended.append((guild_id, channel_id))


async def serving(voice: Voice, node: RecordingNode, nursery: trio.Nursery) -> None:
    await nursery.start(voice.serve_node, node)


async def test_a_voice_node_is_told_of_changes_and_grants_only_the_latest_token(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    channel = await voice_channel(api, room)
    voice = api.services.voice
    node = RecordingNode("node-a", "127.0.0.1:50999")
    async with trio.open_nursery() as nursery:
        await serving(voice, node, nursery)
        async with connect(gateway) as member:
            await ready(member, room.member)
            await join(member, int(room.guild_id), int(channel))
            _state, server = await joined(member)
            assert server["endpoint"] == "127.0.0.1:50999"
            [told] = node.changes
            assert told.channel_id == int(channel)
            assert told.token_digest == hashlib.sha256(server["token"].encode()).hexdigest()
            guild, user = int(room.guild_id), room.member.id
            granted = await voice.grant(guild, user, member.session_id, server["token"])
            assert granted == told
            assert await voice.grant(guild, user, member.session_id, "0" * 32) is None
            assert await voice.grant(guild, user, "another-session", server["token"]) is None
            assert (
                await voice.grant(guild, user, member.session_id, server["token"], node="b") is None
            )
            await join(member, int(room.guild_id), int(channel))  # a re-join: a new token
            _, again = await rejoined(member)
            assert await voice.grant(guild, user, member.session_id, server["token"]) is None
            assert await voice.grant(guild, user, member.session_id, again["token"]) is not None
            await join(member, int(room.guild_id), int(channel), mute=True)
            await member.next_named("VOICE_STATE_UPDATE")
            assert node.changes[-1].self_mute
            assert not node.changes[-1].speaks
            await join(member, int(room.guild_id), None)
            await member.next_named("VOICE_STATE_UPDATE")
            assert (await node.latest_once(lambda s: s.channel_id is None)).user_id == user
            assert await voice.grant(guild, user, member.session_id, again["token"]) is None
        nursery.cancel_scope.cancel()
    assert await voice.board.nodes() == {}  # unregistered on its way out
