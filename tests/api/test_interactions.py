"""Commands invoked by a person, answered by a bot: INTERACTION_CREATE with what the libraries
read, the one callback, ephemeral messages for the invoker alone, and the refusals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from core.domain.permissions import Permission
from core.interactions import run_interaction_sweep
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
from tests.gateway.test_dispatch import settle

if TYPE_CHECKING:
    from tests.running import ApiClient

# Every key discord.py's Interaction, discord.js's BaseInteraction and hikari read.
BOT_KEYS = {
    "id",
    "application_id",
    "type",
    "data",
    "guild_id",
    "channel",
    "channel_id",
    "member",
    "token",
    "version",
    "app_permissions",
    "locale",
    "guild_locale",
    "entitlements",
    "authorizing_integration_owners",
    "context",
    "attachment_size_limit",
}


async def test_a_command_reaches_the_bot_with_what_libraries_read(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    command = await add_command(
        api,
        stage,
        options=[{"type": 6, "name": "who", "description": "someone", "required": True}],
    )
    async with sessions(api, gateway, stage) as live:
        body = invocation(
            stage,
            command,
            options=[{"type": 6, "name": "who", "value": str(stage.room.owner.id)}],
        )
        got = await invoke(api, stage, live, body)
    assert set(got) >= BOT_KEYS
    assert got["type"] == 2
    assert got["version"] == 1
    assert got["application_id"] == stage.bot_id
    assert got["guild_id"] == stage.room.guild_id
    assert got["channel"]["id"] == stage.room.channel_id
    assert got["member"]["user"]["id"] == str(stage.room.member.id)
    assert int(got["member"]["permissions"]) & Permission.USE_APPLICATION_COMMANDS
    assert int(got["app_permissions"]) & Permission.SEND_MESSAGES
    assert got["context"] == 0
    assert got["authorizing_integration_owners"] == {"0": stage.room.guild_id}
    data = got["data"]
    assert data["id"] == command["id"]
    assert data["name"] == "ping"
    assert data["guild_id"] == stage.room.guild_id
    assert data["options"] == [{"name": "who", "type": 6, "value": str(stage.room.owner.id)}]
    owner = str(stage.room.owner.id)
    assert data["resolved"]["users"][owner]["id"] == owner
    assert "permissions" in data["resolved"]["members"][owner]
    assert "user" not in data["resolved"]["members"][owner]
    assert len(got["token"]) > 40
    # The token is derived as the gateway delivers the event: no store ever held it.
    for table in ("outbox", "interactions"):
        rows = await api.count(f"{table} WHERE row_to_json({table})::text LIKE '%{got['token']}%'")
        assert rows == 0


async def test_an_ephemeral_reply_reaches_only_the_invoker(api: ApiClient, gateway: str) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        body = invocation(stage, command)
        got = await invoke(api, stage, live, body)
        answered = await callback(
            api, got, {"type": 4, "data": {"content": "pong", "flags": 64, "tts": False}}
        )
        assert answered.status_code == 200, answered.text
        response = answered.json()
        message = response["resource"]["message"]
        assert response["interaction"] == {
            "id": got["id"],
            "type": 2,
            "response_message_id": message["id"],
            "response_message_loading": False,
            "response_message_ephemeral": True,
        }
        assert response["resource"]["type"] == 4
        shown = await live.member.next_named("MESSAGE_CREATE")
        assert shown == message
        # The answer first, then its success, as Discord's client sees them.
        success = await live.member.dispatch("INTERACTION_SUCCESS")
        assert success == {"id": got["id"], "nonce": body["nonce"]}
        assert shown["flags"] == 64
        assert shown["type"] == 20
        assert shown["author"]["id"] == stage.bot_id
        assert shown["webhook_id"] == shown["application_id"] == stage.bot_id
        metadata = shown["interaction_metadata"]
        assert metadata["id"] == got["id"]
        assert metadata["type"] == 2
        assert metadata["user"]["id"] == str(stage.room.member.id)
        assert metadata["name"] == "ping"
        # Nobody else hears of it: the owner's next message is the barrier, as is the bot's.
        await settle(api, stage.room, live.owner, live.bot)
    history = await api.http.get(stage.room.url(), headers=stage.room.member.auth)
    assert message["id"] not in {m["id"] for m in history.json()}
    again = await callback(api, got, {"type": 4, "data": {"content": "twice"}})
    assert again.status_code == 400
    assert again.json()["code"] == 40060


async def test_a_public_reply_is_a_channel_message_with_interaction_metadata(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        body = invocation(stage, command)
        got = await invoke(api, stage, live, body)
        answered = await callback(
            api, got, {"type": 4, "data": {"content": "pong"}}, with_response=False
        )
        assert answered.status_code == 204, answered.text
        for client in (live.member, live.owner, live.bot):
            shown = await client.next_named("MESSAGE_CREATE")
            assert shown["content"] == "pong"
            assert shown["type"] == 20
            assert shown["interaction_metadata"]["id"] == got["id"]
        success = await live.member.dispatch("INTERACTION_SUCCESS")
        assert success == {"id": got["id"], "nonce": body["nonce"]}
    history = await api.http.get(stage.room.url(), headers=stage.room.owner.auth)
    assert history.json()[0]["id"] == shown["id"]


async def test_a_deferred_reply_is_completed_by_editing_the_original(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        got = await invoke(api, stage, live, invocation(stage, command))
        answered = await callback(api, got, {"type": 5, "data": {"flags": 64}})
        assert answered.status_code == 200, answered.text
        assert answered.json()["interaction"]["response_message_loading"] is True
        thinking = await live.member.next_named("MESSAGE_CREATE")
        assert thinking["flags"] == 64 | 128
        base = f"/api/v10/webhooks/{stage.bot_id}/{got['token']}"
        edited = await api.http.patch(f"{base}/messages/@original", json={"content": "done"})
        assert edited.status_code == 200, edited.text
        assert edited.json()["flags"] == 64
        update = await live.member.next_named("MESSAGE_UPDATE")
        assert update["content"] == "done"
        assert update["id"] == thinking["id"]
        followed = await api.http.post(f"{base}?wait=true", json={"content": "more", "flags": 64})
        assert followed.status_code == 200, followed.text
        follow = followed.json()
        assert follow["interaction_metadata"]["original_response_message_id"] == thinking["id"]
        assert (await live.member.next_named("MESSAGE_CREATE"))["id"] == follow["id"]
        fetched = await api.http.get(f"{base}/messages/{follow['id']}")
        assert fetched.json()["content"] == "more"
        deleted = await api.http.delete(f"{base}/messages/{follow['id']}")
        assert deleted.status_code == 204
        gone = await live.member.next_named("MESSAGE_DELETE")
        assert gone["id"] == follow["id"]
        assert (await api.http.get(f"{base}/messages/{follow['id']}")).json()["code"] == 10008
        await settle(api, stage.room, live.owner)  # the owner heard none of it


async def test_the_first_follow_up_after_a_defer_completes_it(api: ApiClient, gateway: str) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        got = await invoke(api, stage, live, invocation(stage, command))
        assert (await callback(api, got, {"type": 5})).status_code == 200
        thinking = await live.owner.next_named("MESSAGE_CREATE")
        assert thinking["flags"] & 128
        base = f"/api/v10/webhooks/{stage.bot_id}/{got['token']}"
        followed = await api.http.post(f"{base}?wait=true", json={"content": "answer"})
        assert followed.json()["id"] == thinking["id"]
        update = await live.owner.next_named("MESSAGE_UPDATE")
        assert (update["content"], update["flags"] & 128) == ("answer", 0)


async def test_a_late_or_wrong_token_callback_is_unknown_and_the_invoker_hears_of_the_failure(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        body = invocation(stage, command)
        got = await invoke(api, stage, live, body)
        wrong = dict(got, token=got["token"][:-4] + "AAAA")
        refused = await callback(api, wrong, {"type": 4, "data": {"content": "x"}})
        assert (refused.status_code, refused.json()["code"]) == (404, 10062)
        await backdate(api, got)
        # (Other tests' unanswered interactions share the database: at least ours fails.)
        assert await api.services.interactions.fail_overdue() >= 1
        failure = await live.member.next_named("INTERACTION_FAILURE")
        assert failure == {"id": got["id"], "nonce": body["nonce"]}
        late = await callback(api, got, {"type": 4, "data": {"content": "late"}})
        assert (late.status_code, late.json()["code"]) == (404, 10062)
        await api.services.interactions.fail_overdue()  # fails it no second time
        barrier = await send(api, stage.room.owner, stage.room, content="barrier")
        while ((payload := await live.member.receive()).get("d") or {}).get("id") != barrier["id"]:
            assert payload["t"] != "INTERACTION_FAILURE", payload
    assert await api.count(f"messages WHERE channel_id = {stage.room.channel_id}") == 2  # barriers


async def test_the_worker_sweep_tells_the_invoker_of_an_unanswered_interaction(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        body = invocation(stage, command)
        got = await invoke(api, stage, live, body)
        await backdate(api, got)
        async with trio.open_nursery() as nursery:
            # A short interval: the test waits on the event the sweep sends, not on time.
            await nursery.start(run_interaction_sweep, api.services.interactions, 0.01)
            failure = await live.member.next_named("INTERACTION_FAILURE")
            nursery.cancel_scope.cancel()
    assert failure == {"id": got["id"], "nonce": body["nonce"]}


async def test_an_answered_interaction_never_fails(api: ApiClient, gateway: str) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        got = await invoke(api, stage, live, invocation(stage, command))
        assert (await callback(api, got, {"type": 5, "data": {"flags": 64}})).status_code == 200
        await backdate(api, got)
        await api.services.interactions.fail_overdue()
        failed = await api.services.db.run(
            lambda c: c.execute(
                "SELECT failed_at FROM interactions WHERE id = %s", (int(got["id"]),)
            ).fetchone()
        )
        assert failed == (None,)
        # Its token still works (15 minutes from the interaction, not from the callback).
        edited = await api.http.patch(
            f"/api/v10/webhooks/{stage.bot_id}/{got['token']}/messages/@original",
            json={"content": "done"},
        )
        assert edited.status_code == 200, edited.text
        await backdate(api, got, minutes=15)
        expired = await api.http.patch(
            f"/api/v10/webhooks/{stage.bot_id}/{got['token']}/messages/@original",
            json={"content": "too late"},
        )
        assert (expired.status_code, expired.json()["code"]) == (401, 50027)


async def backdate(api: ApiClient, interaction: dict[str, Any], minutes: int = 0) -> None:
    """Time passes for one interaction (the clock is the database's): 4 s older, and
    `minutes` more."""
    await api.services.db.run(
        lambda c: c.execute(
            "UPDATE interactions SET created_at = created_at - %s::interval WHERE id = %s",
            (f"{minutes} minutes 4 seconds", int(interaction["id"])),
        )
    )


async def test_refusals_change_nothing(api: ApiClient) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    admins_only = await add_command(api, stage, "ban", default_member_permissions=0)
    member = stage.room.member
    cases: list[tuple[dict[str, object], int, int]] = [
        (invocation(stage, command, id="123"), 404, 10063),
        (invocation(stage, command, name="pong"), 404, 10063),
        (invocation(stage, command, version="1"), 400, 50035),
        (invocation(stage, admins_only), 403, 50013),
        (invocation(stage, command, options=[{"type": 3, "name": "x", "value": "y"}]), 400, 50035),
        (invocation(stage, command) | {"application_id": str(member.id)}, 404, 10002),
        (invocation(stage, command) | {"channel_id": "1"}, 404, 10003),
        (invocation(stage, command) | {"type": 9}, 400, 50035),
        (invocation(stage, command) | {"nonce": "n" * 26}, 400, 50035),
    ]
    for body, status, code in cases:
        response = await interact(api, member, body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    # A member without USE_APPLICATION_COMMANDS.
    denied = await api.http.put(
        f"/api/v10/channels/{stage.room.channel_id}/permissions/{member.id}",
        headers=stage.room.owner.auth,
        json={"type": 1, "deny": str(int(Permission.USE_APPLICATION_COMMANDS))},
    )
    assert denied.status_code == 204
    response = await interact(api, member, invocation(stage, command))
    assert (response.status_code, response.json()["code"]) == (403, 50013)
    # The bot leaves: its commands cannot be used there.
    kicked = await api.http.delete(
        f"/api/v10/guilds/{stage.room.guild_id}/members/{stage.bot_id}",
        headers=stage.room.owner.auth,
    )
    assert kicked.status_code == 204
    response = await interact(api, stage.room.owner, invocation(stage, command))
    assert (response.status_code, response.json()["code"]) == (403, 50001)
    assert await api.count(f"interactions WHERE channel_id = {stage.room.channel_id}") == 0


async def test_a_callback_type_must_fit_the_interaction(api: ApiClient, gateway: str) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        got = await invoke(api, stage, live, invocation(stage, command))
        bodies: list[dict[str, object]] = [
            {"type": 1},
            {"type": 6},
            {"type": 7, "data": {"content": "x"}},
            {"type": 8, "data": {"choices": []}},
            {"type": 11},
            {"type": 4, "data": {"content": ""}},
            {"type": 4, "data": {"content": "x" * 2001}},
            {"type": 4, "data": {"content": "x", "flags": 1 << 8}},
            # Keys Discord defines that Trioxide lacks are refused, not dropped.
            {"type": 4, "data": {"content": "x", "tts": True}},
            {"type": 4, "data": {"content": "x", "poll": {"question": {"text": "?"}}}},
        ]
        for body in bodies:
            refused = await callback(api, got, body)
            assert (refused.status_code, refused.json()["code"]) == (400, 50035), body
        # None of those used up the one callback.
        ok = {"type": 4, "data": {"content": "ok", "tts": False}}  # as libraries send it
        assert (await callback(api, got, ok)).status_code == 200
