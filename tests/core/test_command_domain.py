"""The pure rules of application commands: Discord's name pattern, who may use a command by
its default permissions, and what a sync changes."""

from __future__ import annotations

import pytest

from core.domain.command_options import check_chat_name
from core.domain.commands import Command, CommandSpec, plan_sync
from core.domain.permissions import Permission
from core.errors import FormCheck


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("ping", True),
        ("a", True),
        ("a" * 32, True),
        ("a" * 33, False),
        ("", False),
        ("with-dash_and'quote", True),
        ("digits123", True),
        ("Ping", False),  # a letter with a lower case must be in it
        ("ΓΕΙΑ", False),
        ("γεια", True),
        ("生日", True),  # no case: allowed as it is
        ("नमस्ते", True),  # Devanagari vowel signs and virama are marks, not letters
        ("สวัสดี", True),  # Thai tone marks likewise
        ("two words", False),
        ("emoji😀", False),
        ("dot.name", False),
        ("tab\tname", False),
    ],
)
def test_chat_input_name_follows_discords_pattern(name: str, valid: bool) -> None:
    check = FormCheck()
    check_chat_name(check, ("name",), name)
    assert (not check.errors) == valid, check.errors


def _command(permissions: int | None, **fields: object) -> Command:
    values: dict[str, object] = {
        "id": 1,
        "application_id": 2,
        "guild_id": None,
        "type": 1,
        "name": "ping",
        "name_localizations": None,
        "description": "Pong",
        "description_localizations": None,
        "options": [],
        "default_member_permissions": permissions,
        "dm_permission": True,
        "contexts": None,
        "integration_types": [0],
        "nsfw": False,
        "version": 3,
    }
    values.update(fields)
    return Command(**values)  # type: ignore[arg-type]


MANAGE_GUILD = int(Permission.MANAGE_GUILD)
KICK = int(Permission.KICK_MEMBERS)
ADMIN = int(Permission.ADMINISTRATOR)


@pytest.mark.parametrize(
    ("required", "held", "usable"),
    [
        (None, 0, True),  # no default permissions: everyone
        (0, 0, False),  # "0": administrators only
        (0, MANAGE_GUILD, False),
        (0, ADMIN, True),
        (MANAGE_GUILD, MANAGE_GUILD, True),
        (MANAGE_GUILD, KICK, False),
        (MANAGE_GUILD | KICK, MANAGE_GUILD, False),  # every bit is needed
        (MANAGE_GUILD | KICK, MANAGE_GUILD | KICK | 1, True),
        (MANAGE_GUILD, ADMIN, True),  # ADMINISTRATOR passes every set
    ],
)
def test_default_member_permissions_decide_who_may_use_a_command(
    required: int | None, held: int, usable: bool
) -> None:
    assert _command(required).usable_with(held) == usable


@pytest.mark.parametrize(
    ("fields", "in_guilds", "in_dms"),
    [
        ({}, True, True),
        ({"contexts": [0]}, True, False),
        ({"contexts": [1, 2]}, False, True),
        ({"dm_permission": False}, True, False),
        ({"dm_permission": False, "contexts": [1]}, False, True),  # contexts win
        ({"guild_id": 5, "contexts": [1]}, True, False),  # a guild's command stays there
    ],
)
def test_contexts_decide_where_a_command_is_offered(
    fields: dict[str, object], in_guilds: bool, in_dms: bool
) -> None:
    command = _command(None, **fields)
    assert (command.usable_in_guilds, command.usable_in_dms) == (in_guilds, in_dms)


def test_sync_plan_matches_by_name_and_type() -> None:
    kept = _command(None, id=10, name="kept")
    changed = _command(None, id=11, name="changed")
    other_type = _command(None, id=12, name="kept", type=2, description="")
    gone = _command(None, id=13, name="gone")
    specs = [
        CommandSpec(type=1, name="new", description="New"),
        CommandSpec(type=1, name="changed", description="Different"),
        CommandSpec(type=1, name="kept", description="Pong"),
        CommandSpec(type=3, name="kept"),  # a MESSAGE command: not the USER one
    ]
    plan = plan_sync([kept, changed, other_type, gone], specs)
    assert plan.keep == [kept]
    assert plan.update == [(changed, specs[1])]
    assert plan.create == [specs[0], specs[3]]
    assert plan.delete == [other_type, gone]
    assert plan.order == [("new", 1), ("changed", 1), ("kept", 1), ("kept", 3)]
