"""Discord's rules for command definitions, each refused with its 50035 tree (the paths
discord.py's CommandSyncFailure walks) and nothing changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.api.commanding import chat, new_bot, put, stored, synced

if TYPE_CHECKING:
    import httpx

    from tests.running import ApiClient


def flat(response: httpx.Response) -> dict[str, list[str]]:
    """A 50035 body's tree as dotted path → codes."""
    body = response.json()
    assert response.status_code == 400, body
    assert (body["code"], body["message"]) == (50035, "Invalid Form Body")
    found: dict[str, list[str]] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        for key, child in node.items():
            if key == "_errors":
                found[path] = [error["code"] for error in child]
            else:
                walk(child, f"{path}.{key}" if path else key)

    walk(body["errors"], "")
    return found


def option(kind: int = 3, name: str = "value", **fields: object) -> dict[str, object]:
    return {"type": kind, "name": name, "description": "A value", **fields}


def choices(count: int) -> list[dict[str, object]]:
    return [{"name": f"c{index}", "value": f"v{index}"} for index in range(count)]


INVALID_NAME = ["APPLICATION_COMMAND_INVALID_NAME"]
BAD_LENGTH = ["BASE_TYPE_BAD_LENGTH"]
FIELD_INVALID = ["APPLICATION_COMMAND_OPTION_FIELD_INVALID"]
TYPE_INVALID = ["APPLICATION_COMMAND_OPTIONS_TYPE_INVALID"]
SUB = 1
GROUP = 2

REFUSED: list[tuple[str, dict[str, object], dict[str, list[str]]]] = [
    ("capitals in a chat name", chat("Ping"), {"name": INVALID_NAME}),
    ("space in a chat name", chat("two words"), {"name": INVALID_NAME}),
    ("name over 32", chat("a" * 33), {"name": BAD_LENGTH}),
    ("empty name", chat(""), {"name": BAD_LENGTH}),
    ("no name", {"description": "x"}, {"name": ["BASE_TYPE_REQUIRED"]}),
    ("no description", {"name": "ping"}, {"description": BAD_LENGTH}),
    ("description over 100", chat("ping", "x" * 101), {"description": BAD_LENGTH}),
    ("user command with a description", {"name": "Info", "type": 2, "description": "x"},
     {"description": ["APPLICATION_COMMAND_CONTEXT_MENU_FIELD_INVALID"]}),
    ("message command with options", {"name": "Quote", "type": 3, "options": [option()]},
     {"options": ["APPLICATION_COMMAND_CONTEXT_MENU_FIELD_INVALID"]}),
    ("entry point command", {"name": "launch", "type": 4}, {"type": ["BASE_TYPE_CHOICES"]}),
    ("unknown type", chat("ping", type=9), {"type": ["BASE_TYPE_CHOICES"]}),
    ("handler", chat("ping", handler=1), {"handler": ["APPLICATION_COMMAND_HANDLER_INVALID"]}),
    ("26 options", chat("ping", options=[option(name=f"o{i}") for i in range(26)]),
     {"options": ["BASE_TYPE_MAX_LENGTH"]}),
    ("required after optional", chat("ping", options=[option(name="a"), option(name="b", required=True)]),
     {"options.1": ["APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"]}),
    ("required after optional in a sub-command",
     chat("ping", options=[option(SUB, "sub", options=[option(name="a"), option(name="b", required=True)])]),
     {"options.0.options.1": ["APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"]}),
    ("duplicate option names", chat("ping", options=[option(), option()]),
     {"options.1.name": ["APPLICATION_COMMAND_OPTIONS_DUPLICATE_NAME"]}),
    ("option name with capitals", chat("ping", options=[option(name="Value")]),
     {"options.0.name": INVALID_NAME}),
    ("option without description", chat("ping", options=[option(description="")]),
     {"options.0.description": BAD_LENGTH}),
    ("unknown option type", chat("ping", options=[option(12)]), {"options.0.type": ["BASE_TYPE_CHOICES"]}),
    ("sub-commands beside parameters", chat("ping", options=[option(SUB, "sub"), option()]),
     {"options": TYPE_INVALID}),
    ("group in a sub-command", chat("ping", options=[option(SUB, "sub", options=[option(GROUP, "g")])]),
     {"options.0.options.0.type": TYPE_INVALID}),
    ("parameter in a group", chat("ping", options=[option(GROUP, "g", options=[option()])]),
     {"options.0.options": TYPE_INVALID}),
    # Review of issue 19: a sub-command in a sub-command was accepted.
    ("sub-command in a sub-command", chat("ping", options=[option(SUB, "sub", options=[option(SUB, "s")])]),
     {"options.0.options.0.type": TYPE_INVALID}),
    ("sub-command in a sub-command of a group",
     chat("ping", options=[option(GROUP, "g", options=[option(SUB, "sub", options=[option(SUB, "s")])])]),
     {"options.0.options.0.options.0.type": TYPE_INVALID}),
    ("options on a parameter", chat("ping", options=[option(options=[option()])]),
     {"options.0.options": FIELD_INVALID}),
    ("26 choices", chat("ping", options=[option(choices=choices(26))]),
     {"options.0.choices": ["BASE_TYPE_MAX_LENGTH"]}),
    ("choices on a boolean", chat("ping", options=[option(5, choices=choices(2))]),
     {"options.0.choices": FIELD_INVALID}),
    ("choice value of the wrong type", chat("ping", options=[option(4, choices=[{"name": "a", "value": "x"}])]),
     {"options.0.choices.0.value": ["NUMBER_TYPE_COERCE"]}),
    ("choice name over 100", chat("ping", options=[option(choices=[{"name": "n" * 101, "value": "v"}])]),
     {"options.0.choices.0.name": BAD_LENGTH}),
    ("string choice over 100", chat("ping", options=[option(choices=[{"name": "n", "value": "v" * 101}])]),
     {"options.0.choices.0.value": BAD_LENGTH}),
    ("autocomplete with choices", chat("ping", options=[option(autocomplete=True, choices=choices(1))]),
     {"options.0.autocomplete": ["APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES"]}),
    ("autocomplete on a user option", chat("ping", options=[option(6, autocomplete=True)]),
     {"options.0.autocomplete": FIELD_INVALID}),
    ("channel types on a string", chat("ping", options=[option(channel_types=[0])]),
     {"options.0.channel_types": FIELD_INVALID}),
    ("unknown channel type", chat("ping", options=[option(7, channel_types=[99])]),
     {"options.0.channel_types.0": ["ENUM_TYPE_COERCE"]}),
    ("min above max", chat("ping", options=[option(4, min_value=5, max_value=1)]),
     {"options.0.max_value": ["NUMBER_TYPE_MIN"]}),
    ("fractional bound of an integer", chat("ping", options=[option(4, min_value=1.5)]),
     {"options.0.min_value": ["NUMBER_TYPE_COERCE"]}),
    ("number bound past 2^53", chat("ping", options=[option(10, max_value=2.0**60)]),
     {"options.0.max_value": ["NUMBER_TYPE_MAX"]}),
    ("min_value on a string", chat("ping", options=[option(min_value=1)]),
     {"options.0.min_value": FIELD_INVALID}),
    ("max_length over 6000", chat("ping", options=[option(max_length=6001)]),
     {"options.0.max_length": ["NUMBER_TYPE_MAX"]}),
    ("max_length of 0", chat("ping", options=[option(max_length=0)]),
     {"options.0.max_length": ["NUMBER_TYPE_MAX"]}),
    ("min_length above max_length", chat("ping", options=[option(min_length=9, max_length=3)]),
     {"options.0.max_length": ["NUMBER_TYPE_MIN"]}),
    ("max_length on an integer", chat("ping", options=[option(4, max_length=3)]),
     {"options.0.max_length": FIELD_INVALID}),
    ("unknown locale", chat("ping", name_localizations={"xx": "ping"}),
     {"name_localizations.xx": ["ENUM_TYPE_COERCE"]}),
    ("localized name breaking the pattern", chat("ping", name_localizations={"fr": "Pong"}),
     {"name_localizations.fr": INVALID_NAME}),
    ("localized description over 100", chat("ping", description_localizations={"de": "x" * 101}),
     {"description_localizations.de": BAD_LENGTH}),
    ("localized option name", chat("ping", options=[option(name_localizations={"fr": "a b"})]),
     {"options.0.name_localizations.fr": INVALID_NAME}),
    ("unknown context", chat("ping", contexts=[0, 3]), {"contexts.1": ["ENUM_TYPE_COERCE"]}),
    ("unknown integration type", chat("ping", integration_types=[2]),
     {"integration_types.0": ["ENUM_TYPE_COERCE"]}),
    ("over 8000 characters",
     chat("ping", options=[option(SUB, f"s{s}", options=[option(name=f"o{o}", description="d" * 100, choices=[{"name": f"{c}" + "n" * 99, "value": f"v{c}"} for c in range(5)]) for o in range(3)]) for s in range(5)]),
     {"": ["APPLICATION_COMMAND_TOO_LARGE"]}),
    ("permissions not a number", chat("ping", default_member_permissions="lots"),
     {"default_member_permissions": ["NUMBER_TYPE_COERCE"]}),
    ("options not a list", chat("ping", options={"type": 3}), {"options": ["BASE_TYPE_LIST"]}),
    ("boolean choice value", chat("ping", options=[option(choices=[{"name": "a", "value": True}])]),
     {"options.0.choices.0.value": ["BASE_TYPE_INVALID"]}),
    ("boolean bound", chat("ping", options=[option(4, min_value=False)]),
     {"options.0.min_value": ["BASE_TYPE_INVALID"]}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "errors"), REFUSED, ids=[row[0] for row in REFUSED])
async def test_definition_breaking_a_rule_is_refused(
    api: ApiClient, case: str, body: dict[str, object], errors: dict[str, list[str]]
) -> None:
    del case
    bot = await new_bot(api)
    created = await api.http.post(bot.url(), headers=bot.auth, json=body)
    assert flat(created) == errors
    # In a bulk overwrite the same tree sits under the command's index.
    synced_ = await put(api, bot, [chat("fine"), body])
    assert flat(synced_) == {f"1.{path}".rstrip("."): codes for path, codes in errors.items()}
    assert await stored(api, bot) == []


ACCEPTED: list[tuple[str, dict[str, object]]] = [
    ("letters of any script", chat("生日-γενέθλια_'ok'")),
    ("Devanagari with its marks", chat("नमस्ते")),
    ("Thai with its marks", chat("สวัสดี")),
    ("uncased letters and digits", chat("日本2")),
    ("user command with capitals and spaces", {"name": "Show Profile", "type": 2}),
    ("message command with an empty description", {"name": "Quote It", "type": 3, "description": ""}),
    ("groups of sub-commands", chat("perm", options=[option(GROUP, "user", options=[option(SUB, "get", options=[option(6, "who", required=True), option(7, "where", channel_types=[0, 2])])])])),
    ("every parameter type", chat("all", options=[option(k, f"o{k}") for k in range(3, 12)])),
    ("bounds and choices", chat("roll", options=[option(4, "sides", required=True, min_value=2, max_value=100), option(10, "bias", min_value=-0.5, max_value=0.5), option(3, "mode", choices=choices(25), min_length=1, max_length=10), option(3, "find", autocomplete=True)])),
    ("the old default_permission switch", chat("old", default_permission=False)),
    ("nulls where Discord allows them", chat("nulls", name_localizations=None, description_localizations=None, default_member_permissions=None, dm_permission=None, contexts=None, options=None)),
    ("an id from a fetched list", chat("synced", id="123")),
    ("discord.js's localized echoes", chat("js", options=[option(name_localized=None, description_localized="Un", choices=[{"name": "a", "value": "b", "name_localized": "A"}])])),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body"), ACCEPTED, ids=[row[0] for row in ACCEPTED])
async def test_definition_within_the_rules_is_stored_as_sent(
    api: ApiClient, case: str, body: dict[str, object]
) -> None:
    del case
    bot = await new_bot(api)
    response = await api.http.post(bot.url(), headers=bot.auth, json=body)
    assert response.status_code == 201, response.text
    command = response.json()
    assert command["name"] == body["name"]
    for key in ("options", "name_localizations"):
        if body.get(key):
            assert command[key] == _as_stored(body[key])


def _as_stored(sent: object) -> object:
    """What is kept of a sent definition: discord.js's `*_localized` echoes go."""
    if isinstance(sent, list):
        return [_as_stored(item) for item in sent]
    if isinstance(sent, dict):
        return {k: _as_stored(v) for k, v in sent.items() if not k.endswith("_localized")}
    return sent


async def test_old_default_permission_off_means_administrators_only(api: ApiClient) -> None:
    bot = await new_bot(api)
    command = (await synced(api, bot, [chat("old", default_permission=False)]))[0]
    assert command["default_member_permissions"] == "0"


async def test_names_must_be_unique_per_type_in_a_sync(api: ApiClient) -> None:
    bot = await new_bot(api)
    response = await put(
        api,
        bot,
        [chat("ping"), {"name": "ping", "type": 2}, chat("ping", "again")],
    )
    assert flat(response) == {"2.name": ["APPLICATION_COMMANDS_DUPLICATE_NAME"]}
    assert await stored(api, bot) == []


@pytest.mark.parametrize(("kind", "limit"), [(1, 100), (2, 15), (3, 15)])
async def test_a_scope_holds_at_most_discords_count_of_each_type(
    api: ApiClient, kind: int, limit: int
) -> None:
    bot = await new_bot(api)

    def command(index: int) -> dict[str, object]:
        return chat(f"c{index}", type=kind) if kind == 1 else {"name": f"C {index}", "type": kind}

    over = await put(api, bot, [command(index) for index in range(limit + 1)])
    assert flat(over) == {"": ["APPLICATION_COMMANDS_TOO_MANY"]}
    assert await stored(api, bot) == []
    await synced(api, bot, [command(index) for index in range(limit)])
    full = await api.http.post(bot.url(), headers=bot.auth, json=command(limit))
    assert (full.status_code, full.json()) == (
        400,
        {"code": 30032, "message": "Maximum number of application commands reached"},
    )
    # Overwriting one that exists is not a new one, and other types have room of their own.
    assert (await api.http.post(bot.url(), headers=bot.auth, json=command(0))).status_code == 200
    other = {"name": "Other", "type": 2} if kind != 2 else chat("other")
    assert (await api.http.post(bot.url(), headers=bot.auth, json=other)).status_code == 201
    assert len(await stored(api, bot)) == limit + 1


async def test_a_bulk_overwrite_must_be_a_list(api: ApiClient) -> None:
    bot = await new_bot(api)
    response = await put(api, bot, {"name": "ping"})
    assert flat(response) == {"": ["BASE_TYPE_LIST"]}
