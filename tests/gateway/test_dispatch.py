"""Fanout over real sockets: committed changes reach the sessions that may see them, in order,
with their own sequence numbers; permissions, intents and resume decide the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from core.domain.permissions import Permission
from core.events import ALL_INTENTS, Intent
from tests.api.rooms import new_room, send
from tests.api.test_applications import create, reset
from tests.gateway.client import DEFAULT_INTENTS, connect

if TYPE_CHECKING:
    from tests.api.rooms import Room
    from tests.gateway.client import GatewayClient
    from tests.running import ApiClient, Person


async def ready(client: GatewayClient, who: Person, guilds: int = 1) -> None:
    await client.identify(who.token)
    for _ in range(guilds):
        await client.dispatch("GUILD_CREATE")


async def settle(api: ApiClient, room: Room, *clients: GatewayClient) -> None:
    """Returns once `clients` have had every event committed so far: events the room's set-up
    committed before they identified may still be on their way (the relay is at least once,
    not instant), and a test that counts dispatches must not count those. A message posted
    now has the newest id, so it is relayed after all of them."""
    barrier = await send(api, room.owner, room, content="barrier")
    for client in clients:
        while (await client.next_named("MESSAGE_CREATE"))["id"] != barrier["id"]:
            pass


async def add_bot(api: ApiClient, room: Room) -> tuple[str, str]:
    """A bot seated in the room's guild: its user id and token."""
    application = await create(api, room.owner, "Watcher")
    token = await reset(api, room.owner, application["id"])
    added = await api.http.put(
        f"/api/v10/guilds/{room.guild_id}/members/{application['id']}",
        headers=room.owner.auth,
        json={},
    )
    assert added.status_code in (200, 201, 204), added.text
    return str(application["id"]), token


async def test_a_message_reaches_every_member_as_the_api_answered_it(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    async with connect(gateway) as owner, connect(gateway) as member:
        await ready(owner, room.owner)
        await ready(member, room.member)
        await settle(api, room, owner, member)
        before = (owner.seq, member.seq)
        sent = [await send(api, room.member, room, content=f"hello {i}") for i in range(3)]
        for client in (owner, member):
            for message in sent:
                assert await client.dispatch("MESSAGE_CREATE") == message
        assert (owner.seq, member.seq) == (before[0] + 3, before[1] + 3)  # one `s` each


async def test_a_channel_the_member_cannot_view_sends_them_nothing(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    secret = (
        await api.http.post(
            f"/api/v10/guilds/{room.guild_id}/channels",
            headers=room.owner.auth,
            json={"name": "staff-only"},
        )
    ).json()
    denied = await api.http.put(
        f"/api/v10/channels/{secret['id']}/permissions/{room.member.id}",
        headers=room.owner.auth,
        json={"type": 1, "deny": str(int(Permission.VIEW_CHANNEL))},
    )
    assert denied.status_code == 204
    async with connect(gateway) as owner, connect(gateway) as member:
        await ready(owner, room.owner)
        await ready(member, room.member)
        await settle(api, room, owner, member)
        hidden = await api.http.post(
            f"/api/v10/channels/{secret['id']}/messages",
            headers=room.owner.auth,
            json={"content": "not for members"},
        )
        shown = await send(api, room.owner, room, content="for everyone")
        assert (await owner.dispatch("MESSAGE_CREATE"))["id"] == hidden.json()["id"]
        assert (await owner.dispatch("MESSAGE_CREATE"))["id"] == shown["id"]
        assert (await member.dispatch("MESSAGE_CREATE"))["id"] == shown["id"]


async def test_losing_view_access_stops_the_channel_at_once(api: ApiClient, gateway: str) -> None:
    room = await new_room(api)
    async with connect(gateway) as member:
        await ready(member, room.member)
        before = await send(api, room.owner, room, content="before")
        assert (await member.dispatch("MESSAGE_CREATE"))["id"] == before["id"]
        await api.http.put(
            f"/api/v10/channels/{room.channel_id}/permissions/{room.member.id}",
            headers=room.owner.auth,
            json={"type": 1, "deny": str(int(Permission.VIEW_CHANNEL))},
        )
        await send(api, room.owner, room, content="after")
        # The next thing the member hears of this channel is its update, then nothing: the
        # guild's rename below is the marker that the message was skipped, not delayed.
        renamed = await api.http.patch(
            f"/api/v10/guilds/{room.guild_id}", headers=room.owner.auth, json={"name": "Later"}
        )
        assert renamed.status_code == 200
        names: list[str] = []
        while not names or names[-1] != "GUILD_UPDATE":
            payload = await member.receive()
            names.append(payload["t"])
        assert "MESSAGE_CREATE" not in names


async def test_intents_choose_the_events(api: ApiClient, gateway: str) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    without_messages = DEFAULT_INTENTS & ~Intent.GUILD_MESSAGES
    async with connect(gateway) as quiet, connect(gateway) as reader:
        await quiet.identify(token, intents=without_messages)
        await quiet.dispatch("GUILD_CREATE")
        await reader.identify(token, intents=DEFAULT_INTENTS)  # no MESSAGE_CONTENT
        await reader.dispatch("GUILD_CREATE")
        plain = await send(api, room.member, room, content="secret plans")
        mention = await send(api, room.member, room, content=f"hey <@{bot_id}>")
        await api.http.patch(
            f"/api/v10/guilds/{room.guild_id}", headers=room.owner.auth, json={"name": "Later"}
        )
        # (The join's own GUILD_CREATE may come after READY's when the relay lags.)
        assert "MESSAGE_CREATE" not in await names_until(quiet, "GUILD_UPDATE")
        seen = await reader.dispatch("MESSAGE_CREATE")
        assert (seen["id"], seen["content"]) == (plain["id"], "")
        seen = await reader.dispatch("MESSAGE_CREATE")
        assert (seen["id"], seen["content"]) == (mention["id"], mention["content"])


async def names_until(client: GatewayClient, last: str, content: str | None = None) -> list[str]:
    """The names of the dispatches that arrive up to the first `last` (with `content`)."""
    names: list[str] = []
    while True:
        payload = await client.receive()
        if payload["op"] != 0:
            continue
        names.append(payload["t"])
        if payload["t"] == last and (content is None or payload["d"].get("content") == content):
            return names


async def test_every_intent_lets_through_its_own_events_and_no_others(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    stranger = await api.register()
    everything = ALL_INTENTS  # privileged ones too: open to every bot by default
    async with (
        connect(gateway) as full,
        connect(gateway) as guilds_only,
        connect(gateway) as dms_only,
        connect(gateway) as auditor,
    ):
        for client, intents in (
            (full, everything),
            (guilds_only, Intent.GUILDS),
            (dms_only, Intent.DIRECT_MESSAGES),
        ):
            await client.identify(token, intents=int(intents))
            await client.dispatch("GUILD_CREATE")  # every guild, whatever the intents
        await ready(auditor, room.owner)  # the owner may view the audit log; the bot may not
        await settle(api, room, full, auditor)
        guild = f"/api/v10/guilds/{room.guild_id}"
        owner = room.owner.auth
        await api.http.post(f"/api/v10/channels/{room.channel_id}/typing", headers=owner)
        said = await send(api, room.member, room, content="hello")
        await api.http.put(room.url(f"/{said['id']}/reactions/%F0%9F%91%8D/@me"), headers=owner)
        await api.http.post(f"/api/v10/channels/{room.channel_id}/invites", headers=owner, json={})
        await api.http.patch(f"{guild}/members/{room.member.id}", headers=owner, json={"nick": "N"})
        await api.http.put(f"{guild}/bans/{stranger.id}", headers=owner, json={})
        dm = (
            await api.http.post(
                "/api/v10/users/@me/channels",
                headers=room.member.auth,
                json={"recipient_id": bot_id},
            )
        ).json()
        dm_url = f"/api/v10/channels/{dm['id']}/messages"
        await api.http.post(dm_url, headers=room.member.auth, json={"content": "psst"})
        await api.http.patch(guild, headers=owner, json={"name": "Later"})
        await api.http.post(dm_url, headers=room.member.auth, json={"content": "the end"})

        seen = set(await names_until(full, "MESSAGE_CREATE", "the end"))
        assert {
            "TYPING_START",
            "MESSAGE_CREATE",
            "MESSAGE_REACTION_ADD",
            "INVITE_CREATE",
            "GUILD_MEMBER_UPDATE",
            "GUILD_BAN_ADD",
            "CHANNEL_CREATE",
            "GUILD_UPDATE",
        } <= seen
        assert "GUILD_AUDIT_LOG_ENTRY_CREATE" not in seen  # needs VIEW_AUDIT_LOG, not intents
        assert "GUILD_AUDIT_LOG_ENTRY_CREATE" in await names_until(auditor, "GUILD_UPDATE")
        # A DM's CHANNEL_CREATE needs no intent; the rest of the guild's needs its own.
        assert await names_until(guilds_only, "GUILD_UPDATE") == ["CHANNEL_CREATE", "GUILD_UPDATE"]
        assert await names_until(dms_only, "MESSAGE_CREATE") == ["CHANNEL_CREATE", "MESSAGE_CREATE"]
        # In a DM the content is the bot's without MESSAGE_CONTENT (Discord's exception).
        assert await dms_only.dispatch("MESSAGE_CREATE") == (
            await api.http.get(f"{dm_url}?limit=1", headers=room.member.auth)
        ).json()[0] | {"content": "the end"}


@pytest.mark.parametrize("compress", ["zlib-stream", "zstd-stream"])
async def test_compressed_streams_carry_the_same_dispatches(
    api: ApiClient, gateway: str, compress: str
) -> None:
    room = await new_room(api)
    async with connect(gateway, f"v=10&encoding=json&compress={compress}") as member:
        await ready(member, room.member)  # HELLO, READY, GUILD_CREATE: compressed too
        small = await send(api, room.owner, room, content="squeezed")
        large = await send(
            api, room.owner, room, content="big " * 400, embeds=[{"description": "wide " * 800}]
        )
        again = await send(api, room.owner, room, content="squeezed again")
        for message in (small, large, again):  # each decodes alone, in one stream (> 4 KB too)
            assert await member.dispatch("MESSAGE_CREATE") == message
        await member.send(1, member.seq)
        assert (await member.receive())["op"] == 11


async def test_a_heartbeat_lets_the_acknowledged_dispatches_go(
    api: ApiClient, gateway: str
) -> None:
    """A client never resumes from before the `seq` its heartbeat acknowledged, so those
    dispatches (READY and GUILD_CREATE, the big ones) are not kept for it."""
    room = await new_room(api)
    async with connect(gateway) as member:
        await ready(member, room.member)
        first = await send(api, room.owner, room, content="before the heartbeat")
        assert (await member.dispatch("MESSAGE_CREATE"))["id"] == first["id"]
        session_id, acknowledged = member.session_id, member.seq
        await member.send(1, acknowledged)
        assert (await member.receive())["op"] == 11
        await member.close(4000)
    resume = {"token": room.member.token, "session_id": session_id}
    async with connect(gateway) as early:
        await early.send(6, resume | {"seq": acknowledged - 1})
        assert await early.receive() == {"op": 9, "d": False, "s": None, "t": None}
    async with connect(gateway) as again:
        again.seq = acknowledged
        await again.send(6, resume | {"seq": acknowledged})
        assert await again.dispatch("RESUMED") == {}


async def test_resume_replays_exactly_what_was_missed_in_order(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    async with connect(gateway) as owner:
        await ready(owner, room.owner)
        async with connect(gateway) as member:
            await ready(member, room.member)
            await settle(api, room, owner, member)
            session_id, seq = member.session_id, member.seq
            await member.close(4000)  # as discord.py does when it means to resume
        missed = [await send(api, room.owner, room, content=f"missed {i}") for i in range(3)]
        for message in missed:  # the gateway has them once the owner does
            assert (await owner.dispatch("MESSAGE_CREATE"))["id"] == message["id"]
        async with connect(gateway) as again:
            again.seq = seq
            await again.send(6, {"token": room.member.token, "session_id": session_id, "seq": seq})
            for message in missed:
                assert await again.dispatch("MESSAGE_CREATE") == message
            assert await again.dispatch("RESUMED") == {}
            after = await send(api, room.owner, room, content="live again")
            assert (await again.dispatch("MESSAGE_CREATE"))["id"] == after["id"]


async def test_a_resume_of_an_unknown_or_anothers_session_is_refused(
    api: ApiClient, gateway: str
) -> None:
    person, other = await api.register(), await api.register()
    async with connect(gateway) as first:
        await first.identify(person.token)
        session_id = first.session_id
        await first.close(4000)
    async with connect(gateway) as again:
        await again.send(6, {"token": person.token, "session_id": "no-such-session", "seq": 0})
        assert await again.receive() == {"op": 9, "d": False, "s": None, "t": None}
    async with connect(gateway) as thief:  # someone else's session is not theirs to resume
        await thief.send(6, {"token": other.token, "session_id": session_id, "seq": 1})
        assert (await thief.receive())["op"] == 9


async def test_a_resume_from_a_seq_never_sent_closes_4007(api: ApiClient, gateway: str) -> None:
    person = await api.register()
    async with connect(gateway) as first:
        await first.identify(person.token)
        session_id, seq = first.session_id, first.seq
        await first.close(4000)
    resume = {"token": person.token, "session_id": session_id}
    async with connect(gateway) as ahead:
        await ahead.send(6, resume | {"seq": seq + 1000})
        assert await ahead.closed_with() == 4007
    async with connect(gateway) as again:  # the refusal changed nothing
        again.seq = seq
        await again.send(6, resume | {"seq": seq})
        assert await again.dispatch("RESUMED") == {}


async def test_request_guild_members_answers_in_chunks(api: ApiClient, gateway: str) -> None:
    room = await new_room(api)
    async with connect(gateway) as bot, connect(gateway) as person:
        bot_id, token = await add_bot(api, room)
        await bot.identify(token, intents=DEFAULT_INTENTS | Intent.GUILD_MEMBERS)
        await bot.dispatch("GUILD_CREATE")
        # The bot's own GUILD_MEMBER_ADD, committed before it identified, may still be on its
        # way: let it pass before counting chunks.
        await settle(api, room, bot)
        await bot.send(8, {"guild_id": room.guild_id, "query": "", "limit": 0, "nonce": "all"})
        chunk = await bot.dispatch("GUILD_MEMBERS_CHUNK")
        assert (chunk["chunk_index"], chunk["chunk_count"], chunk["nonce"]) == (0, 1, "all")
        assert {m["user"]["id"] for m in chunk["members"]} == {
            str(room.owner.id),
            str(room.member.id),
            bot_id,
        }
        await bot.send(
            8, {"guild_id": room.guild_id, "user_ids": [str(room.member.id), "1"], "limit": 0}
        )
        chunk = await bot.dispatch("GUILD_MEMBERS_CHUNK")
        assert [m["user"]["id"] for m in chunk["members"]] == [str(room.member.id)]
        assert chunk["not_found"] == ["1"]
        prefix = room.member.username  # a prefix of itself, and of no one else here
        await bot.send(8, {"guild_id": room.guild_id, "query": prefix, "limit": 10})
        chunk = await bot.dispatch("GUILD_MEMBERS_CHUNK")
        assert [m["user"]["id"] for m in chunk["members"]] == [str(room.member.id)]
        # Without GUILD_MEMBERS the whole list is not to be had.
        await ready(person, room.member)
        await person.send(8, {"guild_id": room.guild_id, "query": "", "limit": 0})
        assert await person.closed_with() == 4013


async def presence_of(client: GatewayClient, who: Person) -> dict[str, Any]:
    """The next PRESENCE_UPDATE about `who` (one's own arrive too)."""
    while True:
        update = await client.next_named("PRESENCE_UPDATE")
        if update["user"]["id"] == str(who.id):
            return update


async def test_presence_reaches_members_who_asked_and_ends_with_the_last_session(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    watching = DEFAULT_INTENTS | Intent.GUILD_PRESENCES
    chess = [{"name": "chess", "type": 0}]
    async with connect(gateway) as owner:
        await owner.identify(room.owner.token, intents=watching)
        await owner.dispatch("GUILD_CREATE")
        async with connect(gateway) as member:
            await member.identify(
                room.member.token, presence={"status": "dnd", "activities": chess, "afk": False}
            )
            await member.dispatch("GUILD_CREATE")
            update = await presence_of(owner, room.member)
            assert (update["guild_id"], update["status"], update["activities"]) == (
                room.guild_id,
                "dnd",
                chess,
            )
            async with connect(gateway) as late:  # a newcomer learns it from GUILD_CREATE
                await late.identify(room.owner.token, intents=watching)
                presences = (await late.dispatch("GUILD_CREATE"))["presences"]
                assert {p["user"]["id"]: p["status"] for p in presences} == {
                    str(room.owner.id): "online",
                    str(room.member.id): "dnd",
                }
                asked = {"guild_id": room.guild_id, "user_ids": [str(room.member.id)]}
                await late.send(8, asked | {"presences": True})
                chunk = await late.next_named("GUILD_MEMBERS_CHUNK")  # (own presence first)
                assert [(p["user"]["id"], p["status"]) for p in chunk["presences"]] == [
                    (str(room.member.id), "dnd")
                ]
            await member.send(3, {"status": "invisible", "activities": [], "since": None})
            assert (await presence_of(owner, room.member))["status"] == "offline"
            await member.send(3, {"status": "idle", "activities": [], "since": None})
            assert (await presence_of(owner, room.member))["status"] == "idle"
            await member.close(1000)  # a clean close ends the session: offline
        assert (await presence_of(owner, room.member))["status"] == "offline"


@pytest.mark.parametrize(("method", "path"), [("DELETE", "members"), ("PUT", "bans")])
async def test_a_kicked_or_banned_member_gets_guild_delete_and_nothing_more(
    api: ApiClient, gateway: str, method: str, path: str
) -> None:
    room = await new_room(api)
    async with connect(gateway) as member:
        await ready(member, room.member)
        removed = await api.http.request(
            method,
            f"/api/v10/guilds/{room.guild_id}/{path}/{room.member.id}",
            headers=room.owner.auth,
        )
        assert removed.status_code == 204
        assert (await member.next_named("GUILD_DELETE"))["id"] == room.guild_id
        await send(api, room.owner, room, content="after the kick")
        # A marker from elsewhere: the member's own new guild. The message never came first.
        await api.http.post("/api/v10/guilds", headers=room.member.auth, json={"name": "Own"})
        names: list[str] = []
        while not names or names[-1] != "GUILD_CREATE":
            names.append((await member.receive())["t"])
        assert "MESSAGE_CREATE" not in names
