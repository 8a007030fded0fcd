"""Gateway v10 over real sockets: HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats, and every
close code a client can cause."""

from __future__ import annotations

import dataclasses
import json
from functools import partial
from typing import TYPE_CHECKING

import pytest
import trio

from core.domain.tokens import token_fingerprint
from core.events import Intent, bot_token_reset
from core.journal import Journal
from core.store.accounts import insert_user
from core.store.guilds import insert_member
from gateway.limits import PAYLOADS_PER_MINUTE
from gateway.server import Gateway, GatewayLimits
from tests.api.rooms import new_room
from tests.api.test_messages import TIMESTAMP
from tests.conftest import running_gateway
from tests.gateway.client import DEFAULT_INTENTS, Refused, connect, open_socket
from tests.gateway.test_dispatch import add_bot, settle
from tests.running import running_api

if TYPE_CHECKING:
    from core.config import Settings
    from core.store.database import Connection as DbConnection
    from core.store.database import Database
    from tests.running import ApiClient


async def test_identify_gets_ready_then_each_guild_whole(api: ApiClient, gateway: str) -> None:
    room = await new_room(api)
    async with connect(gateway) as client:
        assert client.hello == {"heartbeat_interval": 41250}
        ready = await client.identify(room.member.token)
        assert ready["v"] == 10
        assert ready["user"]["id"] == str(room.member.id)
        assert ready["guilds"] == [{"id": room.guild_id, "unavailable": True}]
        assert "application" not in ready  # a person, not a bot
        guild = await client.dispatch("GUILD_CREATE")
        assert guild["id"] == room.guild_id
        assert guild["unavailable"] is False
        assert room.channel_id in [c["id"] for c in guild["channels"]]
        assert {m["user"]["id"] for m in guild["members"]} == {
            str(room.owner.id),
            str(room.member.id),
        }
        assert (guild["member_count"], guild["large"]) == (2, False)
        assert [r["id"] for r in guild["roles"]] == [room.guild_id]  # @everyone
        assert (guild["threads"], guild["voice_states"]) == ([], [])
        assert TIMESTAMP.match(guild["joined_at"])  # when this user joined
        await client.send(1, client.seq)
        assert await client.receive() == {"op": 11, "d": None, "s": None, "t": None}


def seat_many(connection: DbConnection, api: ApiClient, guild_id: int, count: int) -> list[int]:
    """`count` new members of the guild, seated directly: registering each costs a hash."""
    user_ids = api.services.snowflakes.next_ids(count)
    for user_id in user_ids:
        name = f"seated_{user_id}"
        insert_user(
            connection,
            user_id=user_id,
            username=name,
            email=None,
            password_hash=None,
            global_name=None,
        )
        insert_member(connection, guild_id, user_id, ())
    return user_ids


async def test_members_beyond_large_threshold_come_only_by_request(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    guild_id = int(room.guild_id)
    await api.services.db.run(lambda c: seat_many(c, api, guild_id, 58))  # 60 in all
    async with connect(gateway) as client:
        await client.identify(room.member.token, intents=DEFAULT_INTENTS | Intent.GUILD_MEMBERS)
        guild = await client.dispatch("GUILD_CREATE")  # at the default threshold, 50
        assert (guild["member_count"], guild["large"]) == (60, True)
        assert [m["user"]["id"] for m in guild["members"]] == [str(room.member.id)]
        await client.send(8, {"guild_id": room.guild_id, "query": "", "limit": 0})
        assert len((await client.dispatch("GUILD_MEMBERS_CHUNK"))["members"]) == 60
    for threshold, large, members in ((60, False, 60), (59, True, 1), (251, True, 1)):
        async with connect(gateway) as client:  # 251 is out of range: the default
            await client.identify(room.member.token, large_threshold=threshold)
            guild = await client.dispatch("GUILD_CREATE")
            assert (guild["large"], len(guild["members"])) == (large, members), threshold


async def test_heartbeats_are_answered_before_identify_too(gateway: str) -> None:
    async with connect(gateway) as client:
        await client.send(1, None)
        assert (await client.receive())["op"] == 11


@pytest.mark.parametrize(
    ("first", "code"),
    [
        pytest.param({"op": 99, "d": None}, 4001, id="unknown-opcode"),
        pytest.param("{not json", 4002, id="not-json"),
        pytest.param({"op": "2"}, 4002, id="op-not-a-number"),
        pytest.param({"op": 2, "d": {"token": "x" * 5000}}, 4002, id="over-4096-bytes"),
        pytest.param({"op": 8, "d": {"guild_id": "1"}}, 4003, id="not-authenticated"),
        pytest.param({"op": 2, "d": {"token": "nope", "intents": 0}}, 4004, id="bad-token"),
        pytest.param({"op": 2, "d": {"token": "nope", "intents": 1 << 40}}, 4013, id="intents"),
    ],
)
async def test_a_bad_first_payload_closes_with_its_code(
    gateway: str, first: object, code: int
) -> None:
    async with connect(gateway) as client:
        await client.send_text(first if isinstance(first, str) else json.dumps(first))
        assert await client.closed_with() == code


async def test_identify_twice_closes_4005_and_bad_shard_4010(api: ApiClient, gateway: str) -> None:
    person = await api.register()
    async with connect(gateway) as client:
        await client.identify(person.token)
        await client.send(2, {"token": person.token, "intents": 0, "properties": {}})
        assert await client.closed_with() == 4005
    async with connect(gateway) as client:
        await client.send(2, {"token": person.token, "intents": 0, "shard": [1, 1]})
        assert await client.closed_with() == 4010


@pytest.mark.parametrize(
    ("query", "code"),
    [("v=8&encoding=json", 4012), ("v=10&encoding=etf", 4002), ("v=10&compress=gzip", 4002)],
)
async def test_unsupported_versions_and_encodings_close_at_once(
    gateway: str, query: str, code: int
) -> None:
    async with open_socket(gateway, query) as client:
        assert await client.closed_with() == code


async def test_more_than_120_payloads_a_minute_close_4008(gateway: str) -> None:
    async with connect(gateway) as client:
        for _ in range(PAYLOADS_PER_MINUTE + 1):
            await client.send(1, None)
        for _ in range(PAYLOADS_PER_MINUTE):
            assert (await client.receive())["op"] == 11
        assert await client.closed_with() == 4008


async def test_gateway_routes_say_where_and_how_many_shards(api: ApiClient) -> None:
    room = await new_room(api)
    _, token = await add_bot(api, room)
    url = (await api.http.get("/api/v10/gateway")).json()["url"]  # anyone may ask
    assert url.startswith("ws://")
    bot = await api.http.get("/api/v10/gateway/bot", headers={"Authorization": f"Bot {token}"})
    assert bot.json() == {
        "url": url,
        "shards": 1,  # one per 1,000 guilds
        "session_start_limit": {
            "total": 1000,
            "remaining": 1000,
            "reset_after": 86_400_000,
            "max_concurrency": 1,
        },
    }
    person = await api.http.get("/api/v10/gateway/bot", headers=room.owner.auth)
    assert person.status_code == 401


async def test_a_shard_over_its_guild_limit_closes_4011(api: ApiClient) -> None:
    rooms = [await new_room(api), await new_room(api)]
    bot_id, token = await add_bot(api, rooms[0])
    added = await api.http.put(
        f"/api/v10/guilds/{rooms[1].guild_id}/members/{bot_id}",
        headers=rooms[1].owner.auth,
        json={},
    )
    assert added.status_code in (201, 204)
    guild_ids = {int(room.guild_id) for room in rooms}
    limits = GatewayLimits(max_guilds_per_shard=1)
    async with running_gateway(api, limits) as url:
        async with connect(url) as unsharded:
            await unsharded.send(2, {"token": token, "intents": 0, "properties": {}})
            assert await unsharded.closed_with() == 4011
        for index in (0, 1):  # Discord's rule: (guild_id >> 22) % shards == index
            mine = {g for g in guild_ids if (g >> 22) % 2 == index}
            async with connect(url) as shard:
                await shard.send(
                    2, {"token": token, "intents": 0, "properties": {}, "shard": [index, 2]}
                )
                if len(mine) > 1:
                    assert await shard.closed_with() == 4011
                    continue
                ready = await shard.dispatch("READY")
                assert {int(g["id"]) for g in ready["guilds"]} == mine
                assert ready["shard"] == [index, 2]


async def test_a_browser_from_another_origin_is_refused(gateway: str) -> None:
    with pytest.raises(Refused) as refused:
        async with open_socket(gateway, headers=[("Origin", "https://evil.example")]):
            pass
    assert refused.value.status == 403


async def test_the_web_clients_own_origin_is_accepted(api: ApiClient, gateway: str) -> None:
    """The client the API serves at /app opens the gateway from the public URL's origin."""
    public = api.services.settings.public_url
    port = api.services.settings.api_addr.port
    for origin in (public, f"http://localhost:{port}"):
        async with open_socket(gateway, headers=[("Origin", origin)]) as socket:
            assert (await socket.receive())["op"] == 10  # HELLO: the handshake was accepted


async def test_ending_a_login_closes_its_sessions_with_4004(api: ApiClient, gateway: str) -> None:
    person = await api.register()
    other_login = await api.login(person)
    async with connect(gateway) as kept, connect(gateway) as ended:
        await kept.identify(other_login["token"])
        await ended.identify(person.token)
        response = await api.http.post(
            "/api/v10/auth/logout", json={"refresh_token": person.refresh_token}
        )
        assert response.status_code == 204
        assert await ended.closed_with() == 4004
        await kept.send(1, None)  # the other login's session lives on
        assert (await kept.receive())["op"] == 11


async def test_changing_the_password_closes_the_other_logins_sessions_with_4004(
    api: ApiClient, gateway: str
) -> None:
    person = await api.register()
    other_login = await api.login(person)
    async with connect(gateway) as other:
        await other.identify(other_login["token"])
        changed = await api.http.patch(
            "/api/v10/users/@me",
            headers=person.auth,
            json={"password": person.password, "new_password": "a-brand-new-password"},
        )
        assert changed.status_code == 200
        assert await other.closed_with() == 4004


async def test_resetting_a_bot_token_closes_the_bots_sessions_with_4004(
    api: ApiClient, gateway: str
) -> None:
    room = await new_room(api)
    bot_id, token = await add_bot(api, room)
    async with connect(gateway) as bot:
        await bot.identify(token)
        reset = await api.http.post(
            f"/api/v10/applications/{bot_id}/bot/reset", headers=room.owner.auth
        )
        assert reset.status_code == 200
        assert await bot.closed_with() == 4004


async def test_a_token_reset_arriving_late_spares_the_session_of_the_new_token(
    api: ApiClient, gateway: str
) -> None:
    """The reset's event may reach the gateway after the bot identified with its new token
    (the relay is not instant): only sessions of the replaced token close."""
    room = await new_room(api)
    bot_id, old_token = await add_bot(api, room)
    async with connect(gateway) as old, connect(gateway) as new:
        await old.identify(old_token)
        await old.dispatch("GUILD_CREATE")
        reset = await api.http.post(
            f"/api/v10/applications/{bot_id}/bot/reset", headers=room.owner.auth
        )
        new_token = reset.json()["token"]
        assert await old.closed_with() == 4004
        await new.identify(new_token)
        await new.dispatch("GUILD_CREATE")
        # The same reset, arriving again now, as a late relay would deliver it.
        late = bot_token_reset(int(bot_id), token_fingerprint(new_token))
        await api.services.db.run(lambda c: Journal(api.services.snowflakes).emit(c, late))
        await settle(api, room, new)  # still served after the late reset went by


async def test_a_draining_node_tells_its_sessions_to_reconnect(api: ApiClient) -> None:
    person = await api.register()
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        url = await nursery.start(partial(Gateway(api.services).serve, shutdown))
        async with connect(url) as client:
            await client.identify(person.token)
            shutdown.set()
            assert await client.receive() == {"op": 7, "d": None, "s": None, "t": None}
            assert await client.closed_with() == 4000
        with pytest.raises(OSError, match="failed"):  # no longer accepting
            await trio.open_tcp_stream("127.0.0.1", int(url.rsplit(":", 1)[1]))


async def test_privileged_intents_follow_the_application_flags_when_not_open(
    api: ApiClient, settings: Settings, db: Database
) -> None:
    strict = dataclasses.replace(settings, privileged_intents=False)
    async with running_api(strict, db) as strict_api, running_gateway(strict_api) as url:
        room = await new_room(strict_api)
        bot_id, token = await add_bot(strict_api, room)
        async with connect(url) as bot:
            await bot.send(2, {"token": token, "intents": int(Intent.MESSAGE_CONTENT)})
            assert await bot.closed_with() == 4014
        flagged = await strict_api.http.patch(
            f"/api/v10/applications/{bot_id}", headers=room.owner.auth, json={"flags": 1 << 19}
        )
        assert flagged.status_code == 200
        async with connect(url) as bot:
            ready = await bot.identify(token, intents=int(Intent.MESSAGE_CONTENT))  # allowed now
            assert ready["application"] == {"id": bot_id, "flags": 1 << 19}


@pytest.mark.parametrize(
    "presence",
    [
        {"status": "sleeping", "activities": []},
        {"status": "online", "activities": [{"type": 0}]},
        {"status": "online", "activities": [{"name": "x", "type": 99}]},
        {"status": "online", "activities": [{"name": "x"}] * 11},
    ],
)
async def test_a_malformed_presence_update_closes_4002(
    api: ApiClient, gateway: str, presence: dict[str, object]
) -> None:
    person = await api.register()
    async with connect(gateway) as client:
        await client.identify(person.token)
        await client.send(3, presence)
        assert await client.closed_with() == 4002
