"""Bot applications: create, edit, reset the token, and authenticate as the bot."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from core.domain.applications import bot_usernames
from tests.api.test_auth import UNAUTHORIZED, field_errors

if TYPE_CHECKING:
    from tests.running import ApiClient, Person


async def create(api: ApiClient, owner: Person, name: str = "Helper Bot") -> dict[str, object]:
    response = await api.http.post("/api/v10/applications", headers=owner.auth, json={"name": name})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def reset(api: ApiClient, owner: Person, application_id: object) -> str:
    response = await api.http.post(
        f"/api/v10/applications/{application_id}/bot/reset", headers=owner.auth
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def test_create_application_makes_its_bot_user(api: ApiClient) -> None:
    owner = await api.register()
    application = await create(api, owner)
    bot = application["bot"]
    assert isinstance(bot, dict)
    assert bot["id"] == application["id"]
    assert bot["bot"] is True
    assert bot["global_name"] == "Helper Bot"
    assert (
        application["owner"]
        == (await api.http.get(f"/api/v10/users/{owner.id}", headers=owner.auth)).json()
    )
    for key in (
        "name",
        "description",
        "icon",
        "bot_public",
        "bot_require_code_grant",
        "verify_key",
        "flags",
    ):
        assert key in application
    second = await create(api, owner)  # same name: the bot gets another username
    assert isinstance(second["bot"], dict)
    assert second["bot"]["username"] != bot["username"]


async def test_bot_token_authenticates_as_the_bot_until_reset(api: ApiClient) -> None:
    owner = await api.register()
    application = await create(api, owner)
    token = await reset(api, owner, application["id"])
    bot_auth = {"Authorization": f"Bot {token}"}

    me = await api.http.get("/api/v10/users/@me", headers=bot_auth)
    current = await api.http.get("/api/v10/oauth2/applications/@me", headers=bot_auth)
    assert me.json()["id"] == application["id"]
    assert me.json()["bot"] is True
    assert current.json()["id"] == application["id"]

    new_token = await reset(api, owner, application["id"])
    assert (await api.http.get("/api/v10/users/@me", headers=bot_auth)).json() == UNAUTHORIZED
    new_auth = {"Authorization": f"Bot {new_token}"}
    assert (await api.http.get("/api/v10/users/@me", headers=new_auth)).status_code == 200


async def test_tokens_of_one_kind_do_not_work_as_the_other(api: ApiClient) -> None:
    owner = await api.register()
    application = await create(api, owner)
    bot_token = await reset(api, owner, application["id"])
    for authorization in (f"Bearer {bot_token}", bot_token, f"Bot {owner.token}"):
        response = await api.http.get(
            "/api/v10/users/@me", headers={"Authorization": authorization}
        )
        assert response.json() == UNAUTHORIZED


async def test_only_a_bot_has_a_current_application(api: ApiClient) -> None:
    owner = await api.register()
    response = await api.http.get("/api/v10/oauth2/applications/@me", headers=owner.auth)
    assert response.json() == UNAUTHORIZED


async def test_bots_cannot_manage_applications(api: ApiClient) -> None:
    owner = await api.register()
    application = await create(api, owner)
    bot_auth = {"Authorization": f"Bot {await reset(api, owner, application['id'])}"}
    response = await api.http.post(
        "/api/v10/applications", headers=bot_auth, json={"name": "Spawn"}
    )
    assert response.json() == UNAUTHORIZED


async def test_owner_edits_name_description_and_intent_flags(api: ApiClient) -> None:
    owner = await api.register()
    application = await create(api, owner)
    flags = (1 << 12) | (1 << 14) | (1 << 18)  # presence, members, message content
    response = await api.http.patch(
        f"/api/v10/applications/{application['id']}",
        headers=owner.auth,
        json={"name": "Renamed", "description": "Does things", "flags": flags},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["flags"]) == ("Renamed", "Does things", flags)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"flags": 1 << 0}, {"flags": ["APPLICATION_FLAGS_INVALID"]}),
        ({"flags": -1}, {"flags": ["APPLICATION_FLAGS_INVALID"]}),
        # Beyond 64 bits no field can hold it: refused as JSON is read (issue #18).
        ({"flags": 2**70}, {"flags": ["NUMBER_TYPE_MAX"]}),
        ({"name": "x"}, {"name": ["BASE_TYPE_BAD_LENGTH"]}),
        ({"description": "d" * 401}, {"description": ["BASE_TYPE_MAX_LENGTH"]}),
        ({"owner_id": "1", "name": "x"}, {"name": ["BASE_TYPE_BAD_LENGTH"]}),  # owner_id: ignored
        (
            {"interactions_endpoint_url": "https://example.test/i"},
            {"interactions_endpoint_url": ["UNSUPPORTED"]},
        ),
        ({"flags": "4096"}, {"flags": ["NUMBER_TYPE_COERCE"]}),
    ],
)
async def test_bad_application_edits_change_nothing(
    api: ApiClient, body: dict[str, object], errors: dict[str, list[str]]
) -> None:
    owner = await api.register()
    application = await create(api, owner)
    response = await api.http.patch(
        f"/api/v10/applications/{application['id']}", headers=owner.auth, json=body
    )
    assert field_errors(response) == errors
    bot_auth = {"Authorization": f"Bot {await reset(api, owner, application['id'])}"}
    after = (await api.http.get("/api/v10/oauth2/applications/@me", headers=bot_auth)).json()
    assert (after["name"], after["description"], after["flags"]) == ("Helper Bot", "", 0)


async def test_someone_elses_application_is_out_of_reach(api: ApiClient) -> None:
    owner, stranger = await api.register(), await api.register()
    application = await create(api, owner)
    edit = await api.http.patch(
        f"/api/v10/applications/{application['id']}", headers=stranger.auth, json={"name": "Mine"}
    )
    token = await api.http.post(
        f"/api/v10/applications/{application['id']}/bot/reset", headers=stranger.auth
    )
    for response in (edit, token):
        assert response.status_code == 403
        assert response.json() == {"code": 50001, "message": "Missing Access"}
    application_id = int(str(application["id"]))
    with_token = await api.count(
        f"applications WHERE id = {application_id} AND bot_token_hash IS NOT NULL"
    )
    assert with_token == 0, "the stranger's reset set no token"


@pytest.mark.parametrize("application_id", ["1", "nope", "99999999999999999999999"])
async def test_unknown_application_is_10002(api: ApiClient, application_id: str) -> None:
    owner = await api.register()
    response = await api.http.post(
        f"/api/v10/applications/{application_id}/bot/reset", headers=owner.auth
    )
    assert response.status_code == 404
    assert response.json() == {"code": 10002, "message": "Unknown Application"}


def test_a_bots_username_falls_back_to_its_whole_id_which_no_other_bot_has() -> None:
    """Part of an id repeats among a few thousand bots of one name (tests made that happen):
    the last candidate holds the whole id, unique as the id is, within 32 characters."""
    bot_id = 1579567988229537792
    plain, partial, whole = bot_usernames("Helper Bot", bot_id)
    assert (plain, partial) == ("helper_bot", "helper_bot_537792")
    assert whole.endswith(f"_{bot_id}")
    assert len(whole) <= 32
    assert whole != bot_usernames("Helper Bot", bot_id + 1_000_000)[2]
