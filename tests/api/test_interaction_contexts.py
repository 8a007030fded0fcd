"""Interactions beyond a guild's chat command: in a DM with the bot, user and message
commands with their targets resolved, multipart bodies as Discord's client sends them, and
ephemeral answers that no message route can reach."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.api.rooms import send
from tests.api.stage import (
    add_command,
    callback,
    interact,
    invocation,
    invoke,
    new_stage,
    sessions,
)
from tests.gateway.client import connect

if TYPE_CHECKING:
    from tests.running import ApiClient


async def test_a_global_command_in_a_dm_with_the_bot(api: ApiClient, gateway: str) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage, global_=True)
    member = stage.room.member
    opened = await api.http.post(
        "/api/v10/users/@me/channels", headers=member.auth, json={"recipient_id": stage.bot_id}
    )
    assert opened.status_code == 200, opened.text
    dm_id = opened.json()["id"]
    body = invocation(stage, command) | {"channel_id": dm_id}
    del body["guild_id"]
    guild_only = await add_command(api, stage, "guildonly")
    refused = await interact(api, member, invocation(stage, guild_only) | {"channel_id": dm_id})
    assert refused.json()["code"] in (50035, 10063)
    async with connect(gateway) as bot, connect(gateway) as person:
        await bot.identify(stage.bot_token)
        await person.identify(member.token)
        response = await interact(api, member, body)
        assert response.status_code == 204, response.text
        got = await bot.next_named("INTERACTION_CREATE")
        assert "guild_id" not in got
        assert "member" not in got
        assert got["user"]["id"] == str(member.id)
        assert (got["context"], got["channel"]["type"], got["channel_id"]) == (1, 1, dm_id)
        assert got["authorizing_integration_owners"] == {"1": str(member.id)}
        answered = await callback(api, got, {"type": 4, "data": {"content": "hello"}})
        assert answered.status_code == 200, answered.text
        shown = await person.next_named("MESSAGE_CREATE")
        assert (shown["channel_id"], shown["content"]) == (dm_id, "hello")


async def test_user_and_message_commands_resolve_their_targets(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    profile = await add_command(api, stage, "Profile", type=2)
    quote = await add_command(api, stage, "Quote", type=3)
    said = await send(api, stage.room.owner, stage.room, content="quotable")
    owner = str(stage.room.owner.id)
    async with sessions(api, gateway, stage) as live:
        got = await invoke(api, stage, live, invocation(stage, profile, target_id=owner))
        assert got["data"]["type"] == 2
        assert got["data"]["target_id"] == owner
        assert got["data"]["resolved"]["users"][owner]["id"] == owner
        assert owner in got["data"]["resolved"]["members"]
        got = await invoke(api, stage, live, invocation(stage, quote, target_id=said["id"]))
        message = got["data"]["resolved"]["messages"][said["id"]]
        assert message["content"] == "quotable"
        answered = await callback(api, got, {"type": 4, "data": {"content": "noted"}})
        shown = answered.json()["resource"]["message"]
        assert shown["type"] == 23  # CONTEXT_MENU_COMMAND
        assert shown["interaction_metadata"]["target_message_id"] == said["id"]
    missing = await interact(api, stage.room.member, invocation(stage, quote, target_id="1"))
    assert missing.json()["code"] == 10008
    no_target = await interact(api, stage.room.member, invocation(stage, profile))
    assert no_target.json()["code"] == 50035


async def test_multipart_bodies_as_discords_client_and_libraries_send_them(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        body = invocation(stage, command)
        response = await api.http.post(
            "/api/v10/interactions",
            headers=stage.room.member.auth,
            files={"payload_json": (None, json.dumps(body), "application/json")},
        )
        assert response.status_code == 204, response.text
        got = await live.bot.next_named("INTERACTION_CREATE")
        reply = {"type": 4, "data": {"content": "from a form", "flags": 64}}
        answered = await api.http.post(
            f"/api/v10/interactions/{got['id']}/{got['token']}/callback",
            files={"payload_json": (None, json.dumps(reply), "application/json")},
        )
        assert answered.status_code == 204, answered.text
        assert (await live.member.next_named("MESSAGE_CREATE"))["content"] == "from a form"


async def test_no_message_route_reaches_an_ephemeral_answer(api: ApiClient, gateway: str) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        got = await invoke(api, stage, live, invocation(stage, command))
        answered = await callback(
            api, got, {"type": 4, "data": {"content": "secret words", "flags": 64}}
        )
        message_id = answered.json()["resource"]["message"]["id"]
    room, member = stage.room, stage.room.member
    for method, path in (
        ("GET", room.url(f"/{message_id}")),
        ("PATCH", room.url(f"/{message_id}")),
        ("DELETE", room.url(f"/{message_id}")),
        ("PUT", f"/api/v10/channels/{room.channel_id}/pins/{message_id}"),
        ("PUT", room.url(f"/{message_id}/reactions/%F0%9F%91%8D/@me")),
    ):
        for who in (member, room.owner):
            response = await api.http.request(method, path, headers=who.auth, json={"content": "x"})
            # (The member may not pin at all: 50013 comes first for them.)
            expected = {10008, 50013} if who is member else {10008}
            assert response.json()["code"] in expected, (method, path, response.text)
    history = await api.http.get(room.url(), headers=member.auth)
    assert message_id not in {m["id"] for m in history.json()}
    found = await api.http.get(
        f"/api/v10/guilds/{room.guild_id}/messages/search?content=secret", headers=room.owner.auth
    )
    assert found.json()["total_results"] == 0


async def test_files_go_with_channel_answers_and_follow_ups(api: ApiClient, gateway: str) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        got = await invoke(api, stage, live, invocation(stage, command))
        reply = {
            "type": 4,
            "data": {"content": "see", "attachments": [{"id": 0, "filename": "a.txt"}]},
        }
        file = ("a.txt", b"hello", "text/plain")
        ephemeral = {"type": 4, "data": {"content": "see", "flags": 64}}
        refused = await api.http.post(
            f"/api/v10/interactions/{got['id']}/{got['token']}/callback",
            files={"payload_json": (None, json.dumps(ephemeral)), "files[0]": file},
        )
        assert refused.json()["code"] == 50035
        answered = await api.http.post(
            f"/api/v10/interactions/{got['id']}/{got['token']}/callback?with_response=true",
            files={"payload_json": (None, json.dumps(reply)), "files[0]": file},
        )
        assert answered.status_code == 200, answered.text
        message = answered.json()["resource"]["message"]
        assert [a["filename"] for a in message["attachments"]] == ["a.txt"]
        followed = await api.http.post(
            f"/api/v10/webhooks/{stage.bot_id}/{got['token']}?wait=true",
            files={"payload_json": (None, json.dumps({"content": "more"})), "files[0]": file},
        )
        assert followed.status_code == 200, followed.text
        assert len(followed.json()["attachments"]) == 1
