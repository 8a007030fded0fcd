"""Clicks and choices on a bot's components (type 3), modals (callback 9, submitted as type 5)
and autocomplete (type 4, answered by callback 8)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

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
    from tests.api.stage import Stage
    from tests.running import ApiClient

BUTTONS = [
    {
        "type": 1,
        "components": [
            {"type": 2, "style": 1, "label": "Yes", "custom_id": "yes"},
            {"type": 2, "style": 5, "label": "Docs", "url": "https://example.test/"},
        ],
    }
]
SELECT = [
    {
        "type": 1,
        "components": [
            {
                "type": 3,
                "custom_id": "colour",
                "max_values": 2,
                "options": [
                    {"label": "Red", "value": "red"},
                    {"label": "Blue", "value": "blue"},
                    {"label": "Green", "value": "green"},
                ],
            }
        ],
    }
]
MODAL = {
    "custom_id": "feedback",
    "title": "Tell us",
    "components": [
        {
            "type": 1,
            "components": [
                {"type": 4, "custom_id": "text", "label": "What?", "style": 2, "max_length": 10}
            ],
        }
    ],
}


async def shift(api: ApiClient, interaction: dict[str, Any], interval: str) -> None:
    """Moves an interaction in time (the clock is the database's)."""
    await api.services.db.run(
        lambda c: c.execute(
            "UPDATE interactions SET created_at = created_at + %s::interval WHERE id = %s",
            (interval, int(interaction["id"])),
        )
    )


async def bot_message(api: ApiClient, stage: Stage, components: list[Any]) -> dict[str, Any]:
    response = await api.http.post(
        stage.room.url(),
        headers=stage.bot_auth,
        json={"content": "choose", "components": components},
    )
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()
    return message


def click(
    stage: Stage, message: dict[str, Any], custom_id: str, component_type: int = 2, **extra: object
) -> dict[str, object]:
    return {
        "type": 3,
        "application_id": stage.bot_id,
        "guild_id": stage.room.guild_id,
        "channel_id": stage.room.channel_id,
        "message_id": message["id"],
        "message_flags": 0,
        "session_id": "a-session",
        "nonce": str(secrets.randbelow(10**18)),
        "data": {"component_type": component_type, "custom_id": custom_id} | extra,
    }


async def test_a_click_reaches_the_bot_and_update_message_edits_it_for_everyone(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    async with sessions(api, gateway, stage) as live:
        message = await bot_message(api, stage, BUTTONS)
        for client in (live.member, live.owner, live.bot):
            assert (await client.next_named("MESSAGE_CREATE"))["id"] == message["id"]
        got = await invoke(api, stage, live, click(stage, message, "yes"))
        assert got["type"] == 3
        assert got["data"] == {"custom_id": "yes", "component_type": 2}
        assert got["message"]["id"] == message["id"]
        assert got["message"]["components"] == message["components"]
        answered = await callback(
            api, got, {"type": 7, "data": {"content": "chosen", "components": []}}
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["resource"]["message"]["content"] == "chosen"
        for client in (live.member, live.owner):
            update = await client.next_named("MESSAGE_UPDATE")
            assert (update["id"], update["content"], update["components"]) == (
                message["id"],
                "chosen",
                [],
            )
        original = await api.http.get(
            f"/api/v10/webhooks/{stage.bot_id}/{got['token']}/messages/@original"
        )
        assert original.json()["id"] == message["id"]


async def test_deferred_update_then_edit_original_edits_the_clicked_message(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    async with sessions(api, gateway, stage) as live:
        message = await bot_message(api, stage, SELECT)
        got = await invoke(
            api, stage, live, click(stage, message, "colour", 3, values=["red", "blue"])
        )
        assert got["data"]["values"] == ["red", "blue"]
        answered = await callback(api, got, {"type": 6})
        assert answered.status_code == 200, answered.text
        assert "message" not in answered.json()["resource"]
        edited = await api.http.patch(
            f"/api/v10/webhooks/{stage.bot_id}/{got['token']}/messages/@original",
            json={"content": "red and blue"},
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["id"] == message["id"]
        update = await live.owner.next_named("MESSAGE_UPDATE")
        assert update["content"] == "red and blue"


async def test_clicks_that_name_no_component_of_that_bot_are_refused(api: ApiClient) -> None:
    stage = await new_stage(api)
    message = await bot_message(api, stage, [*BUTTONS, *SELECT])
    by_person = await api.http.post(
        stage.room.url(), headers=stage.room.owner.auth, json={"content": "hi"}
    )
    member = stage.room.member
    cases = [
        click(stage, message, "nope"),
        click(stage, message, "yes", 3),
        click(stage, message, "colour", 3, values=["purple"]),
        click(stage, message, "colour", 3, values=["red", "blue", "green"]),
        click(stage, message, "colour", 3),
        click(stage, by_person.json(), "yes"),
    ]
    for body in cases:
        response = await interact(api, member, body)
        assert response.status_code in (400, 404), body
        assert response.json()["code"] in (50035, 10008), response.json()
    unknown = await interact(api, member, click(stage, message, "yes") | {"message_id": "1"})
    assert unknown.json()["code"] == 10008
    assert await api.count(f"interactions WHERE channel_id = {stage.room.channel_id}") == 0


async def test_components_of_an_ephemeral_answer_work_for_its_invoker_only(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        got = await invoke(api, stage, live, invocation(stage, command))
        answered = await callback(
            api, got, {"type": 4, "data": {"content": "sure?", "flags": 64, "components": BUTTONS}}
        )
        message = answered.json()["resource"]["message"]
        assert message["components"][0]["components"][0]["custom_id"] == "yes"
        assert (await live.member.next_named("MESSAGE_CREATE"))["id"] == message["id"]
        other = await interact(api, stage.room.owner, click(stage, message, "yes"))
        assert other.json()["code"] == 10008
        clicked = await invoke(api, stage, live, click(stage, message, "yes"))
        assert clicked["message"]["flags"] & 64
        updated = await callback(
            api, clicked, {"type": 7, "data": {"content": "done", "components": []}}
        )
        assert updated.json()["resource"]["message"]["id"] == message["id"]
        update = await live.member.next_named("MESSAGE_UPDATE")
        assert (update["content"], update["flags"]) == ("done", 64)
        await settle(api, stage.room, live.owner)


async def test_a_modal_opens_for_the_invoker_and_its_submission_reaches_the_bot(
    api: ApiClient, gateway: str
) -> None:
    stage = await new_stage(api)
    command = await add_command(api, stage)
    async with sessions(api, gateway, stage) as live:
        body = invocation(stage, command)
        got = await invoke(api, stage, live, body)
        bad = await callback(api, got, {"type": 9, "data": MODAL | {"components": []}})
        assert bad.json()["code"] == 50035
        opened = await callback(api, got, {"type": 9, "data": MODAL})
        assert opened.status_code == 200, opened.text
        assert opened.json()["resource"] == {"type": 9}
        # The answer to a modal comes through its submission's token, not this one.
        followed = await api.http.post(
            f"/api/v10/webhooks/{stage.bot_id}/{got['token']}", json={"content": "x"}
        )
        assert (followed.status_code, followed.json()["code"]) == (401, 50027)
        modal = await live.member.next_named("INTERACTION_MODAL_CREATE")
        assert (modal["custom_id"], modal["title"], modal["nonce"]) == (
            "feedback",
            "Tell us",
            body["nonce"],
        )
        assert modal["channel_id"] == stage.room.channel_id
        assert modal["application"]["id"] == stage.bot_id

        def rows(value: str) -> list[dict[str, object]]:
            return [{"type": 1, "components": [{"type": 4, "custom_id": "text", "value": value}]}]

        submission: dict[str, Any] = {
            "type": 5,
            "application_id": stage.bot_id,
            "guild_id": stage.room.guild_id,
            "channel_id": stage.room.channel_id,
            "session_id": "a-session",
            "nonce": "42",
            "data": {
                "id": modal["id"],
                "custom_id": "feedback",
                "components": rows("lovely"),
            },
        }
        too_long = submission | {"data": submission["data"] | {"components": rows("x" * 11)}}
        assert (await interact(api, stage.room.member, too_long)).json()["code"] == 50035
        assert (await interact(api, stage.room.owner, submission)).json()["code"] == 10062
        # Past its opener's 15 minutes, the modal is no longer submitted.
        await shift(api, got, "-15 minutes")
        late = await interact(api, stage.room.member, submission)
        assert late.json()["code"] == 10062
        await shift(api, got, "15 minutes")
        submitted = await invoke(api, stage, live, submission)
        assert submitted["type"] == 5
        assert submitted["data"]["custom_id"] == "feedback"
        assert submitted["data"]["components"][0]["components"][0] == {
            "type": 4,
            "custom_id": "text",
            "value": "lovely",
        }
        again = await interact(api, stage.room.member, submission)
        assert again.json()["code"] == 10062  # a modal is submitted once
        answered = await callback(
            api, submitted, {"type": 4, "data": {"content": "thanks", "flags": 64}}
        )
        shown = answered.json()["resource"]["message"]
        assert shown["interaction_metadata"]["type"] == 5
        assert shown["interaction_metadata"]["triggering_interaction_metadata"]["id"] == got["id"]
        # UPDATE_MESSAGE answers a modal only when a component opened it.
        update = await callback(api, submitted, {"type": 7, "data": {"content": "x"}})
        assert update.json()["code"] == 50035
        again = await callback(api, submitted, {"type": 4, "data": {"content": "x"}})
        assert again.json()["code"] == 40060


async def test_autocomplete_choices_reach_the_invoker(api: ApiClient, gateway: str) -> None:
    stage = await new_stage(api)
    command = await add_command(
        api,
        stage,
        "fruit",
        options=[
            {
                "type": 3,
                "name": "name",
                "description": "which",
                "required": True,
                "autocomplete": True,
            },
            {"type": 4, "name": "count", "description": "how many"},
        ],
    )
    async with sessions(api, gateway, stage) as live:
        typing = invocation(
            stage, command, options=[{"type": 3, "name": "name", "value": "ap", "focused": True}]
        )
        typing["type"] = 4
        got = await invoke(api, stage, live, typing)
        assert got["type"] == 4
        assert got["data"]["options"] == [
            {"name": "name", "type": 3, "value": "ap", "focused": True}
        ]
        modal = await callback(api, got, {"type": 9, "data": MODAL})
        assert modal.json()["code"] == 50035
        too_many = [{"name": f"n{i}", "value": f"v{i}"} for i in range(26)]
        refused = await callback(api, got, {"type": 8, "data": {"choices": too_many}})
        assert refused.json()["code"] == 50035
        choices = [{"name": "Apple", "value": "apple"}, {"name": "Apricot", "value": "apricot"}]
        answered = await callback(api, got, {"type": 8, "data": {"choices": choices}})
        assert answered.status_code == 200, answered.text
        shown = await live.member.next_named("APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE")
        assert shown == {"nonce": typing["nonce"], "choices": choices}
        # Choices are no message: there is nothing to follow up.
        followed = await api.http.post(
            f"/api/v10/webhooks/{stage.bot_id}/{got['token']}", json={"content": "x"}
        )
        assert (followed.status_code, followed.json()["code"]) == (401, 50027)
        # Only an option with autocomplete may be focused; integers stay within ±2^53.
        for options in (
            [{"type": 4, "name": "count", "value": "1", "focused": True}],
            [
                {"type": 3, "name": "name", "value": "ap", "focused": True},
                {"type": 4, "name": "count", "value": 1 << 53},
            ],
        ):
            wrong = invocation(stage, command, options=options)
            wrong["type"] = 4
            assert (await interact(api, stage.room.member, wrong)).json()["code"] == 50035
        unfocused = invocation(stage, command, options=[{"type": 3, "name": "name", "value": "ap"}])
        unfocused["type"] = 4
        assert (await interact(api, stage.room.member, unfocused)).json()["code"] == 50035


async def test_user_and_role_selects_resolve_what_was_chosen(api: ApiClient, gateway: str) -> None:
    stage = await new_stage(api)
    selects = [
        {"type": 1, "components": [{"type": 5, "custom_id": "who", "max_values": 2}]},
        {"type": 1, "components": [{"type": 6, "custom_id": "role"}]},
    ]
    owner = str(stage.room.owner.id)
    async with sessions(api, gateway, stage) as live:
        message = await bot_message(api, stage, selects)
        got = await invoke(api, stage, live, click(stage, message, "who", 5, values=[owner]))
        assert got["data"]["values"] == [owner]
        assert got["data"]["resolved"]["users"][owner]["id"] == owner
        assert "permissions" in got["data"]["resolved"]["members"][owner]
        everyone = stage.room.guild_id  # @everyone's id is the guild's
        got = await invoke(api, stage, live, click(stage, message, "role", 6, values=[everyone]))
        assert got["data"]["resolved"]["roles"][everyone]["id"] == everyone
    unknown_role = await interact(
        api, stage.room.member, click(stage, message, "role", 6, values=["1"])
    )
    assert unknown_role.json()["code"] == 50035
