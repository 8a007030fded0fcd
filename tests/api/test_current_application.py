"""PATCH /applications/@me (Discord's Edit Current Application) and GET /guilds/{g}/roles/{r}
(issue 19)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.api.rooms import new_room
from tests.api.test_applications import create, reset
from tests.api.test_auth import field_errors
from tests.api.test_guilds import new_role

if TYPE_CHECKING:
    from tests.running import ApiClient

UNKNOWN_ROLE = {"code": 10011, "message": "Unknown Role"}
UNKNOWN_GUILD = {"code": 10004, "message": "Unknown Guild"}


async def test_a_bot_edits_its_own_application(api: ApiClient) -> None:
    owner = await api.register()
    application = await create(api, owner)
    bot = {"Authorization": f"Bot {await reset(api, owner, application['id'])}"}
    # discord.py: AppInfo.edit(description=..., flags=GATEWAY_MESSAGE_CONTENT_LIMITED);
    # `name` is not in Discord's body for this route, so it is ignored.
    response = await api.http.patch(
        "/api/v10/applications/@me",
        headers=bot,
        json={"description": "Does things", "flags": 1 << 19, "name": "Ignored", "tags": []},
    )
    assert response.status_code == 200, response.text
    current = (await api.http.get("/api/v10/applications/@me", headers=bot)).json()
    assert response.json() == current
    assert (current["description"], current["flags"], current["name"]) == (
        "Does things",
        1 << 19,
        "Helper Bot",
    )


async def test_bad_or_unsupported_application_edits_change_nothing(api: ApiClient) -> None:
    owner = await api.register()
    application = await create(api, owner)
    bot = {"Authorization": f"Bot {await reset(api, owner, application['id'])}"}
    before = (await api.http.get("/api/v10/applications/@me", headers=bot)).json()
    for body, errors in [
        ({"description": "d" * 401}, {"description": ["BASE_TYPE_MAX_LENGTH"]}),
        ({"flags": 1}, {"flags": ["APPLICATION_FLAGS_INVALID"]}),
        (
            {"description": "x", "interactions_endpoint_url": "https://example.test/i"},
            {"interactions_endpoint_url": ["UNSUPPORTED"]},
        ),
        ({"description": "x", "tags": ["fun"]}, {"tags": ["UNSUPPORTED"]}),
    ]:
        response = await api.http.patch("/api/v10/applications/@me", headers=bot, json=body)
        assert field_errors(response) == errors
    assert (await api.http.get("/api/v10/applications/@me", headers=bot)).json() == before
    # A person has no current application.
    person = await api.http.patch(
        "/api/v10/applications/@me", headers=owner.auth, json={"description": "x"}
    )
    assert person.status_code == 401


async def test_get_role_answers_members_and_hides_the_rest(api: ApiClient) -> None:
    room = await new_room(api)
    role = await new_role(api, room.owner, room.guild_id, name="mods", hoist=True)
    url = f"/api/v10/guilds/{room.guild_id}/roles"
    found = await api.http.get(f"{url}/{role['id']}", headers=room.member.auth)
    assert found.status_code == 200
    assert found.json() == role
    everyone = await api.http.get(f"{url}/{room.guild_id}", headers=room.member.auth)
    assert everyone.json()["name"] == "@everyone"
    for role_id in ("1", "not-a-snowflake", str(2**70)):
        missing = await api.http.get(f"{url}/{role_id}", headers=room.member.auth)
        assert (missing.status_code, missing.json()) == (404, UNKNOWN_ROLE)
    outsider = await api.register()
    hidden = await api.http.get(f"{url}/{role['id']}", headers=outsider.auth)
    assert (hidden.status_code, hidden.json()) == (404, UNKNOWN_GUILD)
