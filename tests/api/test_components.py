"""Message components over real HTTP (bots' buttons and selects, people's link buttons), their
limits with Discord's 50035 trees, and modal components (checked for the interactions path)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest

from core.domain.components import check_modal_components
from core.domain.messages import POSTED_FLAGS, Author, Draft, MessageFlag, MessageType
from core.errors import FormCheck, InvalidForm, UnknownMessage
from core.store import guilds as guild_store
from tests.api.rooms import Room, count_messages
from tests.api.test_applications import create, reset

if TYPE_CHECKING:
    import httpx

    from tests.running import ApiClient


def button(custom_id: str, **more: object) -> dict[str, object]:
    return {"type": 2, "style": 1, "label": "Go", "custom_id": custom_id, **more}


def row(*components: dict[str, object]) -> dict[str, object]:
    return {"type": 1, "components": list(components)}


def numbered(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`components` as Discord shows them: each with an id, counting from 1 in order."""
    ids = itertools.count(1)
    shown = []
    for given in components:
        shown_row = {**given, "id": next(ids)}
        shown_row["components"] = [{**c, "id": next(ids)} for c in given["components"]]
        shown.append(shown_row)
    return shown


LINK = {"type": 2, "style": 5, "label": "Docs", "url": "https://example.test/docs"}
SELECT = {
    "type": 3,
    "custom_id": "pick",
    "placeholder": "Choose",
    "min_values": 1,
    "max_values": 2,
    "options": [
        {"label": "Red", "value": "r", "description": "warm", "emoji": {"name": "🔴"}},
        {"label": "Blue", "value": "b", "default": True},
    ],
}


async def bot_in(api: ApiClient, room: Room) -> dict[str, str]:
    """A bot seated in the room's guild: its Authorization header."""
    application = await create(api, room.owner)
    token = await reset(api, room.owner, application["id"])
    bot_id = int(str(application["id"]))
    await api.services.db.run(
        lambda c: guild_store.insert_member(c, int(room.guild_id), bot_id, ())
    )
    return {"Authorization": f"Bot {token}"}


def errors_at(response: httpx.Response, *path: str | int) -> list[str]:
    body = response.json()
    assert response.status_code == 400, body
    assert body["code"] == 50035, body
    node = body["errors"]
    for key in path:
        node = node[str(key)]
    return [error["code"] for error in node["_errors"]]


async def test_a_bot_sends_buttons_and_a_select_and_they_come_back_everywhere(
    api: ApiClient, room: Room
) -> None:
    bot = await bot_in(api, room)
    components = [row(button("yes"), button("no", style=4, disabled=True), LINK), row(SELECT)]
    response = await api.http.post(
        room.url(), headers=bot, json={"content": "vote", "components": components}
    )
    assert response.status_code == 200, response.text
    sent = response.json()
    assert sent["components"] == numbered(components)
    assert "webhook_id" not in sent
    assert "interaction_metadata" not in sent
    shown = (await api.http.get(room.url(f"/{sent['id']}"), headers=room.member.auth)).json()
    assert shown["components"] == numbered(components)
    history = (await api.http.get(room.url(), headers=room.member.auth)).json()
    assert history[0]["components"] == numbered(components)


async def test_a_person_may_send_link_buttons_but_nothing_interactive(
    api: ApiClient, room: Room
) -> None:
    sent = await api.http.post(
        room.url(), headers=room.member.auth, json={"content": "see", "components": [row(LINK)]}
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["components"] == numbered([row(LINK)])
    before = await count_messages(api, room)
    for components in ([row(button("click"))], [row(SELECT)]):
        refused = await api.http.post(
            room.url(), headers=room.member.auth, json={"content": "x", "components": components}
        )
        assert errors_at(refused, "components") == ["COMPONENT_INTERACTIVE_NOT_ALLOWED"]
    assert await count_messages(api, room) == before
    edit = await api.http.patch(
        room.url(f"/{sent.json()['id']}"),
        headers=room.member.auth,
        json={"components": [row(button("late"))]},
    )
    assert errors_at(edit, "components") == ["COMPONENT_INTERACTIVE_NOT_ALLOWED"]


async def test_a_bot_edits_and_clears_its_components(api: ApiClient, room: Room) -> None:
    bot = await bot_in(api, room)
    sent = await api.http.post(
        room.url(), headers=bot, json={"content": "v", "components": [row(button("a"))]}
    )
    url = room.url(f"/{sent.json()['id']}")
    edited = await api.http.patch(url, headers=bot, json={"components": [row(button("b"))]})
    assert edited.status_code == 200, edited.text
    assert edited.json()["components"] == numbered([row(button("b"))])
    assert edited.json()["content"] == "v"
    cleared = await api.http.patch(url, headers=bot, json={"components": []})
    assert cleared.json()["components"] == []
    # Someone else's components are not theirs to change.
    other = await api.http.patch(url, headers=room.owner.auth, json={"components": []})
    assert other.status_code == 403
    assert other.json()["code"] == 50005


def _many_buttons(count: int) -> list[dict[str, object]]:
    return [row(*(button(f"b{i}") for i in range(count)))]


@pytest.mark.parametrize(
    ("components", "path", "code"),
    [
        ([row(button(f"r{i}")) for i in range(6)], (), "BASE_TYPE_BAD_LENGTH"),
        (_many_buttons(6), (0, "components"), "BASE_TYPE_BAD_LENGTH"),
        ([row(SELECT, button("x"))], (0, "components"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED"),
        (
            [row(button("same")), row(button("same"))],
            (1, "components", 0, "custom_id"),
            "COMPONENT_CUSTOM_ID_DUPLICATED",
        ),
        (
            [row({"type": 2, "style": 1, "label": "x"})],
            (0, "components", 0, "custom_id"),
            "BASE_TYPE_REQUIRED",
        ),
        (
            [row(button("x" * 101))],
            (0, "components", 0, "custom_id"),
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            [row({"type": 2, "style": 5, "label": "x"})],
            (0, "components", 0, "url"),
            "BASE_TYPE_REQUIRED",
        ),
        (
            [row({**LINK, "custom_id": "no"})],
            (0, "components", 0, "custom_id"),
            "BUTTON_COMPONENT_LINK_HAS_CUSTOM_ID",
        ),
        (
            [row({"type": 2, "style": 6, "sku_id": "1"})],
            (0, "components", 0, "sku_id"),
            "BUTTON_COMPONENT_SKU_ID_INVALID",
        ),
        ([row(button("x", style=7))], (0, "components", 0, "style"), "BASE_TYPE_CHOICES"),
        (
            [row(button("x", label="l" * 81))],
            (0, "components", 0, "label"),
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            [row({"type": 4, "custom_id": "t", "style": 1, "label": "Name"})],
            (0, "components", 0, "type"),
            "COMPONENT_TYPE_INVALID",
        ),
        (
            [row({**SELECT, "options": [{"label": str(i), "value": str(i)} for i in range(26)]})],
            (0, "components", 0, "options"),
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            [row({**SELECT, "placeholder": "p" * 151})],
            (0, "components", 0, "placeholder"),
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            [row({**SELECT, "max_values": 26})],
            (0, "components", 0, "max_values"),
            "NUMBER_TYPE_MAX",
        ),
        (
            [row({**SELECT, "max_values": 3})],
            (0, "components", 0, "max_values"),
            "SELECT_COMPONENT_MAX_VALUES_TOO_LARGE",
        ),
        (
            [row({"type": 8, "custom_id": "c", "channel_types": "text"})],
            (0, "components", 0, "channel_types"),
            "BASE_TYPE_LIST",
        ),
        ([button("alone")], (0, "type"), "COMPONENT_TYPE_INVALID"),
        ([{"type": 99}], (0, "type"), "UNION_TYPE_CHOICES"),
        (
            [row(button("a", id=3), button("b", id=3))],
            (0, "components", 1, "id"),
            "COMPONENT_ID_DUPLICATED",
        ),
        ([row(button("a", id=0))], (0, "components", 0, "id"), "NUMBER_TYPE_MAX"),
    ],
)
async def test_component_limits_are_refused_with_discords_tree(
    api: ApiClient,
    room: Room,
    components: list[dict[str, object]],
    path: tuple[str | int, ...],
    code: str,
) -> None:
    bot = await bot_in(api, room)
    before = await count_messages(api, room)
    refused = await api.http.post(
        room.url(), headers=bot, json={"content": "x", "components": components}
    )
    assert code in errors_at(refused, "components", *path)
    assert await count_messages(api, room) == before


async def test_component_ids_given_are_kept_and_the_rest_counted_around_them(
    api: ApiClient, room: Room
) -> None:
    bot = await bot_in(api, room)
    components = [row(button("a"), button("b", id=2)), {**row(button("c")), "id": 1}]
    sent = await api.http.post(
        room.url(), headers=bot, json={"content": "n", "components": components}
    )
    shown = sent.json()["components"]
    assert [shown[0]["id"], *(c["id"] for c in shown[0]["components"])] == [3, 4, 2]
    assert [shown[1]["id"], shown[1]["components"][0]["id"]] == [1, 5]


async def test_user_role_mentionable_and_channel_selects_are_accepted(
    api: ApiClient, room: Room
) -> None:
    bot = await bot_in(api, room)
    components = [
        row({"type": 5, "custom_id": "u", "default_values": [{"id": "1", "type": "user"}]}),
        row({"type": 6, "custom_id": "r"}),
        row({"type": 7, "custom_id": "m", "max_values": 3}),
        row({"type": 8, "custom_id": "c", "channel_types": [0, 2]}),
    ]
    sent = await api.http.post(
        room.url(), headers=bot, json={"content": "s", "components": components}
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["components"] == numbered(components)


TEXT_INPUT = {"type": 4, "custom_id": "name", "style": 1, "label": "Your name"}


@pytest.mark.parametrize(
    ("components", "path"),
    [
        ([], ()),
        ([row(TEXT_INPUT) for _ in range(6)], ()),
        ([row(TEXT_INPUT, {**TEXT_INPUT, "custom_id": "other"})], (0, "components")),
        ([row(button("b"))], (0, "components", 0, "type")),
        ([row({**TEXT_INPUT, "style": 3})], (0, "components", 0, "style")),
        ([row({**TEXT_INPUT, "label": "l" * 46})], (0, "components", 0, "label")),
        ([row({**TEXT_INPUT, "max_length": 4001})], (0, "components", 0, "max_length")),
        ([row({**TEXT_INPUT, "required": "yes"})], (0, "components", 0, "required")),
    ],
)
def test_modal_components_refused(
    components: list[dict[str, object]], path: tuple[str | int, ...]
) -> None:
    check = FormCheck()
    check_modal_components(check, components)
    with pytest.raises(InvalidForm) as refused:
        check.done()
    assert ("components", *path) in refused.value.errors


def test_modal_components_accepted_as_given() -> None:
    check = FormCheck()
    full = {**TEXT_INPUT, "style": 2, "min_length": 0, "max_length": 4000, "required": False}
    shown = check_modal_components(check, [row(full), row({**TEXT_INPUT, "custom_id": "b"})])
    check.done()
    assert shown[0] == numbered([row(full)])[0]


async def test_posting_for_an_interaction_records_who_posted_and_edits_without_the_author(
    api: ApiClient, room: Room
) -> None:
    # The entry point interactions use (core/messages.py Messages.post): a bot's response.
    bot = await bot_in(api, room)
    bot_id = int((await api.http.get("/api/v10/users/@me", headers=bot)).json()["id"])
    messages = api.services.messages
    metadata = {"id": "1", "type": 2, "user": {"id": str(room.member.id)}}
    posted = await messages.post(
        Author(bot_id),
        int(room.channel_id),
        Draft(content="pong", components=[row(button("again"))], flags=MessageFlag.EPHEMERAL),
        webhook_id=bot_id,
        application_id=bot_id,
        interaction_metadata=metadata,
        message_type=MessageType.CHAT_INPUT_COMMAND,
        flags_allowed=POSTED_FLAGS | MessageFlag.EPHEMERAL,
    )
    assert posted["type"] == 20
    assert posted["flags"] == 64
    assert posted["webhook_id"] == posted["application_id"] == str(bot_id)
    assert posted["interaction_metadata"] == metadata
    author = posted["author"]
    assert isinstance(author, dict)
    assert (author["id"], author["bot"]) == (str(bot_id), True)
    channel_id, message_id = int(room.channel_id), int(str(posted["id"]))
    edited = await messages.edit_posted(
        channel_id, message_id, webhook_id=bot_id, given=frozenset({"content"}), content="pang"
    )
    assert edited["content"] == "pang"
    assert (await messages.posted(channel_id, message_id, bot_id))["content"] == "pang"
    with pytest.raises(UnknownMessage):  # only what that caller posted
        await messages.posted(channel_id, message_id, bot_id + 1)
    await messages.delete_posted(channel_id, message_id, bot_id)
    assert await count_messages(api, room) == 0
