"""Application commands over HTTP: every route, Discord's upsert and sync semantics, and who
may call them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.api.commanding import (
    MISSING_ACCESS,
    UNKNOWN_COMMAND,
    bot_in_guild,
    chat,
    new_bot,
    put,
    stored,
    synced,
)
from tests.api.test_guilds import new_guild

if TYPE_CHECKING:
    from tests.running import ApiClient

COMMAND_KEYS = {
    "id",
    "type",
    "application_id",
    "name",
    "name_localizations",
    "description",
    "description_localizations",
    "default_member_permissions",
    "dm_permission",
    "contexts",
    "integration_types",
    "nsfw",
    "version",
}


async def test_create_returns_discords_command_object(api: ApiClient) -> None:
    bot = await new_bot(api)
    body = chat(
        "echo",
        "Says it back",
        options=[
            {"type": 3, "name": "text", "description": "What", "required": True, "max_length": 50},
            {"type": 4, "name": "times", "description": "How often", "min_value": 1},
        ],
        default_member_permissions=8,
        contexts=[0, 1],
        name_localizations={"fr": "écho"},
    )
    response = await api.http.post(bot.url(), headers=bot.auth, json=body)
    assert response.status_code == 201, response.text
    command = response.json()
    assert set(command) == COMMAND_KEYS | {"options"}
    assert command["application_id"] == str(bot.id)
    assert command["type"] == 1
    assert command["default_member_permissions"] == "8"  # an int in, a string out
    assert command["contexts"] == [0, 1]
    assert command["integration_types"] == [0]
    assert command["name_localizations"] == {"fr": "écho"}
    assert command["options"] == [
        {"type": 3, "name": "text", "description": "What", "required": True, "max_length": 50},
        {"type": 4, "name": "times", "description": "How often", "min_value": 1},
    ]
    assert isinstance(command["version"], str)
    assert int(command["version"]) > 0


async def test_create_with_a_used_name_overwrites_that_command(api: ApiClient) -> None:
    bot = await new_bot(api)
    first = (await api.http.post(bot.url(), headers=bot.auth, json=chat("ping"))).json()
    same = await api.http.post(bot.url(), headers=bot.auth, json=chat("ping"))
    changed = await api.http.post(bot.url(), headers=bot.auth, json=chat("ping", "Pong!"))
    user = await api.http.post(bot.url(), headers=bot.auth, json={"name": "ping", "type": 2})
    assert same.status_code == 200
    assert same.json() == first  # nothing changed: the same version
    assert changed.status_code == 200
    assert changed.json()["id"] == first["id"]
    assert changed.json()["description"] == "Pong!"
    assert int(changed.json()["version"]) > int(first["version"])
    assert user.status_code == 201  # names are unique per type
    assert len(await stored(api, bot)) == 2


async def test_get_edit_and_delete_a_global_command(api: ApiClient) -> None:
    bot = await new_bot(api)
    created = (
        await api.http.post(
            bot.url(),
            headers=bot.auth,
            json=chat("roll", nsfw=True, default_member_permissions="32"),
        )
    ).json()
    one = bot.url(path=f"/{created['id']}")
    assert (await api.http.get(one, headers=bot.auth)).json() == created
    assert (await api.http.get(bot.url(), headers=bot.auth)).json() == [
        {k: v for k, v in created.items() if not k.endswith("_localizations")}
    ]

    edited = await api.http.patch(one, headers=bot.auth, json={"description": "Rolls dice"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["description"] == "Rolls dice"
    assert edited.json()["nsfw"] is True  # not sent: kept
    assert edited.json()["default_member_permissions"] == "32"
    assert int(edited.json()["version"]) > int(created["version"])
    cleared = await api.http.patch(one, headers=bot.auth, json={"default_member_permissions": None})
    assert cleared.json()["default_member_permissions"] is None
    unchanged = await api.http.patch(one, headers=bot.auth, json={"nsfw": True})
    assert unchanged.json()["version"] == cleared.json()["version"]

    assert (await api.http.delete(one, headers=bot.auth)).status_code == 204
    gone = await api.http.get(one, headers=bot.auth)
    assert (gone.status_code, gone.json()) == (404, UNKNOWN_COMMAND)
    again = await api.http.delete(one, headers=bot.auth)
    assert (again.status_code, again.json()) == (404, UNKNOWN_COMMAND)
    assert await stored(api, bot) == []


async def test_edit_to_a_name_in_use_is_refused(api: ApiClient) -> None:
    bot = await new_bot(api)
    first, second = await synced(api, bot, [chat("one"), chat("two")])
    before = await stored(api, bot)
    response = await api.http.patch(
        bot.url(path=f"/{second['id']}"), headers=bot.auth, json={"name": "one"}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "name": {
            "_errors": [
                {
                    "code": "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "message": "Application command names must be unique",
                }
            ]
        }
    }
    assert await stored(api, bot) == before
    assert first["name"] == "one"


async def test_guild_commands_live_apart_from_global_ones(api: ApiClient) -> None:
    bot, guild_id = await bot_in_guild(api)
    await synced(api, bot, [chat("ping")])
    created = await api.http.post(bot.url(guild_id), headers=bot.auth, json=chat("ping"))
    assert created.status_code == 201  # the same name in another scope is another command
    command = created.json()
    assert command["guild_id"] == guild_id
    listed = (await api.http.get(bot.url(guild_id), headers=bot.auth)).json()
    assert [c["id"] for c in listed] == [command["id"]]
    one = bot.url(guild_id, f"/{command['id']}")
    assert (await api.http.get(one, headers=bot.auth)).json() == command
    # A guild command is not reachable as a global one, nor the other way round.
    wrong = await api.http.get(bot.url(path=f"/{command['id']}"), headers=bot.auth)
    assert (wrong.status_code, wrong.json()) == (404, UNKNOWN_COMMAND)
    patched = await api.http.patch(one, headers=bot.auth, json={"description": "Guild ping"})
    assert patched.json()["description"] == "Guild ping"
    assert (await api.http.delete(one, headers=bot.auth)).status_code == 204
    assert [name for _, name, _, _ in await stored(api, bot)] == ["ping"]


async def test_sync_keeps_ids_bumps_only_changed_versions_and_deletes_the_rest(
    api: ApiClient,
) -> None:
    bot = await new_bot(api)
    first = await synced(
        api, bot, [chat("alpha"), chat("beta"), chat("gamma"), {"name": "Info", "type": 2}]
    )
    by_name = {c["name"]: c for c in first}
    second = await synced(
        api,
        bot,
        [chat("delta"), chat("beta", "Changed"), chat("alpha"), {"name": "Info", "type": 2}],
    )
    assert [c["name"] for c in second] == ["delta", "beta", "alpha", "Info"]  # as sent
    after = {c["name"]: c for c in second}
    assert after["alpha"] == by_name["alpha"]  # unchanged: same id, same version
    assert after["Info"] == by_name["Info"]
    assert after["beta"]["id"] == by_name["beta"]["id"]
    assert int(after["beta"]["version"]) > int(by_name["beta"]["version"])
    assert after["delta"]["id"] not in {c["id"] for c in first}
    assert sorted(name for _, name, _, _ in await stored(api, bot)) == [
        "Info",
        "alpha",
        "beta",
        "delta",
    ]  # gamma went
    assert await synced(api, bot, []) == []
    assert await stored(api, bot) == []


async def test_sync_with_one_bad_command_changes_nothing(api: ApiClient) -> None:
    bot = await new_bot(api)
    await synced(api, bot, [chat("alpha"), chat("beta")])
    before = await stored(api, bot)
    response = await put(api, bot, [chat("gamma"), chat("Bad Name"), chat("alpha", "x" * 101)])
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["message"]) == (50035, "Invalid Form Body")
    assert body["errors"] == {
        "1": {
            "name": {
                "_errors": [
                    {
                        "code": "APPLICATION_COMMAND_INVALID_NAME",
                        "message": "Command name is invalid",
                    }
                ]
            }
        },
        "2": {
            "description": {
                "_errors": [
                    {
                        "code": "BASE_TYPE_BAD_LENGTH",
                        "message": "Must be between 1 and 100 in length.",
                    }
                ]
            }
        },
    }
    assert await stored(api, bot) == before


async def test_sync_of_a_guild_leaves_global_commands_alone(api: ApiClient) -> None:
    bot, guild_id = await bot_in_guild(api)
    global_commands = await synced(api, bot, [chat("ping")])
    guild_commands = await synced(api, bot, [chat("admin")], guild_id)
    assert guild_commands[0]["guild_id"] == guild_id
    assert await synced(api, bot, [], guild_id) == []
    assert (await api.http.get(bot.url(), headers=bot.auth)).json()[0]["id"] == global_commands[0][
        "id"
    ]


async def test_another_applications_commands_are_out_of_reach(api: ApiClient) -> None:
    bot, other = await new_bot(api), await new_bot(api)
    command = (await synced(api, other, [chat("ping")]))[0]
    for method, path, body in (
        ("GET", "", None),
        ("POST", "", chat("pong")),
        ("PUT", "", []),
        ("GET", f"/{command['id']}", None),
        ("PATCH", f"/{command['id']}", {"description": "Mine now"}),
        ("DELETE", f"/{command['id']}", None),
    ):
        response = await api.http.request(method, other.url(path=path), headers=bot.auth, json=body)
        assert (response.status_code, response.json()) == (403, MISSING_ACCESS), (method, path)
    unknown = await api.http.get(f"/api/v10/applications/{bot.id + 1}/commands", headers=bot.auth)
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"code": 10002, "message": "Unknown Application"},
    )
    assert len(await stored(api, other)) == 1


async def test_a_person_cannot_manage_commands_even_of_their_own_application(
    api: ApiClient,
) -> None:
    bot = await new_bot(api)
    for person in (bot.owner, await api.register()):
        response = await api.http.put(bot.url(), headers=person.auth, json=[chat("ping")])
        assert (response.status_code, response.json()) == (403, MISSING_ACCESS)
    assert (await api.http.get(bot.url())).status_code == 401
    assert await stored(api, bot) == []


async def test_guild_commands_need_the_bot_in_the_guild(api: ApiClient) -> None:
    bot = await new_bot(api)
    guild = await new_guild(api, bot.owner)
    for method, path, body in (
        ("GET", "", None),
        ("POST", "", chat("ping")),
        ("PUT", "", [chat("ping")]),
        ("GET", "/permissions", None),
    ):
        response = await api.http.request(
            method, bot.url(guild["id"], path), headers=bot.auth, json=body
        )
        assert (response.status_code, response.json()) == (403, MISSING_ACCESS), method
    for guild_id in ("1", "x", str(1 << 70)):
        response = await api.http.get(bot.url(guild_id), headers=bot.auth)
        assert (response.status_code, response.json()) == (403, MISSING_ACCESS)
    assert await stored(api, bot) == []


async def test_command_permissions_are_empty_until_overrides_exist(api: ApiClient) -> None:
    bot, guild_id = await bot_in_guild(api)
    global_command = (await synced(api, bot, [chat("ping")]))[0]
    guild_command = (await synced(api, bot, [chat("admin")], guild_id))[0]
    listed = await api.http.get(bot.url(guild_id, "/permissions"), headers=bot.auth)
    assert (listed.status_code, listed.json()) == (200, [])
    for command in (global_command, guild_command):
        one = await api.http.get(
            bot.url(guild_id, f"/{command['id']}/permissions"), headers=bot.auth
        )
        assert one.json() == {
            "id": command["id"],
            "application_id": str(bot.id),
            "guild_id": guild_id,
            "permissions": [],
        }
    unknown = await api.http.get(bot.url(guild_id, "/123/permissions"), headers=bot.auth)
    assert (unknown.status_code, unknown.json()) == (404, UNKNOWN_COMMAND)


async def test_list_shows_localized_names_unless_asked_for_the_dictionaries(api: ApiClient) -> None:
    bot = await new_bot(api)
    await synced(
        api,
        bot,
        [
            chat(
                "birthday",
                "Wish a friend a happy birthday",
                name_localizations={"zh-CN": "生日", "el": "γενέθλια"},
                description_localizations={"zh-CN": "祝你朋友生日快乐"},
                options=[
                    {
                        "type": 4,
                        "name": "age",
                        "description": "Your friend's age",
                        "name_localizations": {"zh-CN": "岁数"},
                    }
                ],
            )
        ],
    )
    plain = (
        await api.http.get(bot.url(), headers={**bot.auth, "X-Discord-Locale": "zh-CN"})
    ).json()
    assert plain[0]["name_localized"] == "生日"
    assert plain[0]["description_localized"] == "祝你朋友生日快乐"
    assert "name_localizations" not in plain[0]
    assert plain[0]["options"][0] == {
        "type": 4,
        "name": "age",
        "description": "Your friend's age",
        "name_localized": "岁数",
    }
    greek = (await api.http.get(bot.url(), headers={**bot.auth, "Accept-Language": "el"})).json()
    assert greek[0]["name_localized"] == "γενέθλια"
    assert "description_localized" not in greek[0]
    full = (await api.http.get(bot.url() + "?with_localizations=true", headers=bot.auth)).json()
    assert full[0]["name_localizations"] == {"zh-CN": "生日", "el": "γενέθλια"}
    assert full[0]["options"][0]["name_localizations"] == {"zh-CN": "岁数"}
    assert "name_localized" not in full[0]
