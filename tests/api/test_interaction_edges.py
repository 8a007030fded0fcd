"""Interactions at their edges: what the options name is checked against the invoker, a
channel answer that cannot post acknowledges nothing, history guards message targets,
contexts decide where a command runs, racing follow-ups complete a deferred answer once, and
a bot's webhook messages take clicks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import trio

from core.domain.permissions import Permission
from tests.api.stage import (
    add_command,
    callback,
    interact,
    invocation,
    invoke,
    new_stage,
    sessions,
)
from tests.api.test_guilds import new_role
from tests.api.test_interaction_components import BUTTONS, bot_message, click
from tests.api.test_interactions import backdate
from tests.gateway.client import connect

if TYPE_CHECKING:
    from tests.running import ApiClient


async def test_channel_options_are_checked_against_the_invoker(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    room = stage.room
    private = await api.http.post(
        f"/api/v10/guilds/{room.guild_id}/channels",
        headers=room.owner.auth,
        json={
            "name": "staff",
            "permission_overwrites": [
                {"id": room.guild_id, "type": 0, "deny": str(int(Permission.VIEW_CHANNEL))}
            ],
        },
    )
    assert private.status_code == 201, private.text
    command = await add_command(
        api,
        stage,
        "look",
        options=[
            {"type": 6, "name": "who", "description": "someone"},
            {"type": 7, "name": "where", "description": "somewhere"},
        ],
    )
    owner = str(room.owner.id)
    # The owner sees the private channel; naming them must not lend the member their sight.
    peek = invocation(
        stage,
        command,
        options=[
            {"type": 6, "name": "who", "value": owner},
            {"type": 7, "name": "where", "value": private.json()["id"]},
        ],
    )
    refused = await interact(api, room.member, peek)
    assert (refused.status_code, refused.json()["code"]) == (400, 50035), refused.text
    outsider = await api.register()
    async with sessions(api, gateway, stage) as live:
        # Someone outside the guild resolves as a user without a member, as on Discord.
        named = invocation(
            stage,
            command,
            options=[
                {"type": 6, "name": "who", "value": str(outsider.id)},
                {"type": 7, "name": "where", "value": room.channel_id},
            ],
        )
        got = await invoke(api, stage, live, named)
        resolved = got["data"]["resolved"]
        assert str(outsider.id) in resolved["users"]
        assert str(outsider.id) not in resolved.get("members", {})
        assert room.channel_id in resolved["channels"]


async def test_a_channel_answer_that_cannot_post_acknowledges_nothing(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        got = await invoke(api, stage, live, invocation(stage, command))
        # Too many files: refused before the callback is claimed, so the bot may try again.
        reply = {"type": 4, "data": {"content": "see"}}
        files = {f"files[{i}]": (f"{i}.txt", b"x", "text/plain") for i in range(11)}
        refused = await api.http.post(
            f"/api/v10/interactions/{got['id']}/{got['token']}/callback",
            files={"payload_json": (None, json.dumps(reply)), **files},
        )
        assert (refused.status_code, refused.json()["code"]) == (400, 50035), refused.text
        assert (await callback(api, got, reply)).status_code == 200
        # The bot loses sight of the channel between the click and its update: the claim
        # is taken back.
        message = await bot_message(api, stage, BUTTONS)
        body = click(stage, message, "yes")
        got = await invoke(api, stage, live, body)
        hidden = await api.http.put(
            f"/api/v10/channels/{stage.room.channel_id}/permissions/{stage.bot_id}",
            headers=stage.room.owner.auth,
            json={"type": 1, "deny": str(int(Permission.VIEW_CHANNEL))},
        )
        assert hidden.status_code == 204, hidden.text
        update = {"type": 7, "data": {"content": "chosen"}}
        lost = await callback(api, got, update)
        assert lost.status_code in (403, 404), lost.text
        again = await callback(api, got, update)
        assert again.json()["code"] == lost.json()["code"]  # not 40060: nothing acknowledged
        await backdate(api, got)
        assert await api.services.interactions.fail_overdue() >= 1
        failure = await live.member.next_named("INTERACTION_FAILURE")
        assert failure == {"id": got["id"], "nonce": body["nonce"]}


async def test_a_message_target_needs_the_invokers_history(api: ApiClient, gateway: str) -> None:
    stage = await new_stage(api)
    quote = await add_command(api, stage, "Quote", type=3)
    message = await bot_message(api, stage, BUTTONS)
    denied = await api.http.put(
        f"/api/v10/channels/{stage.room.channel_id}/permissions/{stage.room.member.id}",
        headers=stage.room.owner.auth,
        json={"type": 1, "deny": str(int(Permission.READ_MESSAGE_HISTORY))},
    )
    assert denied.status_code == 204, denied.text
    for body in (
        invocation(stage, quote, target_id=message["id"]),
        click(stage, message, "yes"),
    ):
        refused = await interact(api, stage.room.member, body)
        assert (refused.status_code, refused.json()["code"]) == (403, 50013), refused.text
    assert await api.count(f"interactions WHERE channel_id = {stage.room.channel_id}") == 0


async def test_contexts_decide_where_a_command_runs_over_dm_permission(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    made = await api.http.post(
        f"/api/v10/applications/{stage.bot_id}/commands",
        headers=stage.bot_auth,
        json={"name": "anywhere", "description": "d", "dm_permission": False, "contexts": [0, 1]},
    )
    assert made.status_code in (200, 201), made.text
    member = stage.room.member
    opened = await api.http.post(
        "/api/v10/users/@me/channels", headers=member.auth, json={"recipient_id": stage.bot_id}
    )
    body = invocation(stage, made.json()) | {"channel_id": opened.json()["id"]}
    del body["guild_id"]
    async with connect(gateway) as bot:
        await bot.identify(stage.bot_token)
        response = await interact(api, member, body)
        assert response.status_code == 204, response.text
        got = await bot.next_named("INTERACTION_CREATE")
        assert got["context"] == 1


async def test_two_follow_ups_racing_complete_a_deferred_answer_once(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        got = await invoke(api, stage, live, invocation(stage, command))
        assert (await callback(api, got, {"type": 5})).status_code == 200
        made: list[dict[str, object]] = []

        async def follow(content: str) -> None:
            response = await api.http.post(
                f"/api/v10/webhooks/{stage.bot_id}/{got['token']}?wait=true",
                json={"content": content},
            )
            assert response.status_code == 200, response.text
            made.append(response.json())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(follow, "one")
            nursery.start_soon(follow, "two")
        # One completed @original; the other is a message of its own.
        assert len({m["id"] for m in made}) == 2
    assert (
        await api.count(f"messages WHERE channel_id = {stage.room.channel_id}") == 3
    )  # and a barrier


async def test_components_on_the_bots_webhook_messages_can_be_clicked(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    room = stage.room
    role = await new_role(
        api, room.owner, room.guild_id, permissions=str(int(Permission.MANAGE_WEBHOOKS))
    )
    given = await api.http.put(
        f"/api/v10/guilds/{room.guild_id}/members/{stage.bot_id}/roles/{role['id']}",
        headers=room.owner.auth,
    )
    assert given.status_code == 204, given.text
    made = await api.http.post(
        f"/api/v10/channels/{room.channel_id}/webhooks", headers=stage.bot_auth, json={"name": "h"}
    )
    assert made.status_code == 200, made.text
    webhook = made.json()
    sent = await api.http.post(
        f"/api/v10/webhooks/{webhook['id']}/{webhook['token']}?wait=true",
        json={"content": "choose", "components": BUTTONS},
    )
    assert sent.status_code == 200, sent.text
    async with sessions(api, gateway, stage) as live:
        got = await invoke(api, stage, live, click(stage, sent.json(), "yes"))
        assert got["message"]["webhook_id"] == webhook["id"]
        updated = await callback(api, got, {"type": 7, "data": {"content": "chosen"}})
        assert updated.status_code == 200, updated.text
        assert updated.json()["resource"]["message"]["content"] == "chosen"
