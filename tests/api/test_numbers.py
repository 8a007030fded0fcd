"""Numbers from clients over real HTTP (issue #18): Unicode digits and ids above PostgreSQL's
bigint in paths and queries, and JSON integers of any size in bodies. Each is refused with
Discord's code, never 500, and changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.api.rooms import count_messages

if TYPE_CHECKING:
    import httpx

    from tests.api.rooms import Room
    from tests.running import ApiClient

_UNKNOWN_CHANNEL = {"code": 10003, "message": "Unknown Channel"}


def field_errors(response: httpx.Response) -> dict[str, list[str]]:
    """A 50035 body's error tree as dotted field paths → codes."""
    body = response.json()
    assert (response.status_code, body["code"]) == (400, 50035), body
    found: dict[str, list[str]] = {}
    pending: list[tuple[str, dict[str, Any]]] = [("", body["errors"])]
    while pending:
        path, node = pending.pop()
        for key, child in node.items():
            if key == "_errors":
                found[path] = [error["code"] for error in child]
            else:
                pending.append((f"{path}.{key}" if path else key, child))
    return found


@pytest.mark.parametrize("raw", ["²", "①", "٣", str(2**63), str(2**64 - 1), str(2**64), "-1"])
async def test_path_id_that_names_nothing_stored_is_unknown(
    api: ApiClient, room: Room, raw: str
) -> None:
    before = await count_messages(api, room)
    for method in ("GET", "POST"):
        response = await api.http.request(
            method,
            f"/api/v10/channels/{raw}/messages",
            headers=room.member.auth,
            json={"content": "hi"},
        )
        assert response.status_code == 404
        assert response.json() == _UNKNOWN_CHANNEL
    assert await count_messages(api, room) == before


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("before=²", "before", "NUMBER_TYPE_COERCE"),
        ("after=①", "after", "NUMBER_TYPE_COERCE"),
        ("around=" + str(2**63), "around", "NUMBER_TYPE_MAX"),
        ("after=" + str(2**64), "after", "NUMBER_TYPE_COERCE"),
        ("limit=²", "limit", "NUMBER_TYPE_MAX"),
        ("limit=--5", "limit", "NUMBER_TYPE_MAX"),
        ("limit=" + "9" * 5000, "limit", "NUMBER_TYPE_MAX"),
    ],
)
async def test_history_query_numbers_out_of_range_are_50035(
    api: ApiClient, room: Room, query: str, field: str, code: str
) -> None:
    response = await api.http.get(room.url(f"?{query}"), headers=room.member.auth)
    assert response.status_code == 400
    assert response.json()["code"] == 50035
    assert field_errors(response) == {field: [code]}


@pytest.mark.parametrize(
    "query", ["author_id=²", f"channel_id={2**63}", "mentions=①", "min_id=٣", "offset=²"]
)
async def test_search_query_numbers_out_of_range_are_50035(
    api: ApiClient, room: Room, query: str
) -> None:
    response = await api.http.get(
        f"/api/v10/guilds/{room.guild_id}/messages/search?{query}", headers=room.member.auth
    )
    assert response.status_code == 400
    assert response.json()["code"] == 50035


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (b'{"content": "hi", "nonce": ' + b"9" * 5000 + b"}", {"nonce": ["NUMBER_TYPE_MAX"]}),
        (b'{"content": "hi", "flags": -' + b"9" * 5000 + b"}", {"flags": ["NUMBER_TYPE_MAX"]}),
        (b'{"content": "hi", "embeds": [{"x": 1e400}]}', {"embeds.0.x": ["NUMBER_TYPE_MAX"]}),
        (
            b'{"content": "hi", "message_reference": {"message_id": "'
            + str(2**63).encode()
            + b'"}}',
            {"message_reference.message_id": ["NUMBER_TYPE_MAX"]},
        ),
        (b'{"content": "hi", "message_reference": {"message_id": "\xc2\xb2"}}', None),
    ],
)
async def test_json_numbers_of_any_size_are_50035_and_change_nothing(
    api: ApiClient, room: Room, body: bytes, errors: dict[str, list[str]] | None
) -> None:
    before = await count_messages(api, room)
    response = await api.http.post(
        room.url(), headers={**room.member.auth, "Content-Type": "application/json"}, content=body
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 50035
    if errors is not None:
        assert field_errors(response) == errors
    assert await count_messages(api, room) == before


async def test_payload_json_with_a_huge_integer_is_50035(api: ApiClient, room: Room) -> None:
    before = await count_messages(api, room)
    response = await api.http.post(
        room.url(),
        headers=room.member.auth,
        data={"payload_json": '{"content": "hi", "nonce": ' + "9" * 5000 + "}"},
        files={"files[0]": ("a.txt", b"hello", "text/plain")},
    )
    assert response.status_code == 400
    assert field_errors(response) == {"nonce": ["NUMBER_TYPE_MAX"]}
    deep = await api.http.post(
        room.url(),
        headers=room.member.auth,
        data={"payload_json": "[" * 100_000 + "]" * 100_000},
        files={"files[0]": ("a.txt", b"hello", "text/plain")},
    )
    assert deep.status_code == 400
    assert deep.json() == {"code": 50109, "message": "The request body contains invalid JSON."}
    assert await count_messages(api, room) == before
