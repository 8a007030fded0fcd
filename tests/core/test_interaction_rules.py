"""The pure rules of interactions, table by table: which callback answers which interaction,
a person's options against a command's definition, autocomplete choices, where a component
is found, and what type a response message has."""

from __future__ import annotations

import base64
import datetime as dt

import orjson
import pytest

from core.domain.components import find_component
from core.domain.interaction_options import check_options
from core.domain.interactions import (
    CallbackType,
    Interaction,
    InteractionType,
    check_callback_type,
    check_choices,
    interaction_token,
    message_type_of,
    reveal_token,
    sealed_token,
)
from core.domain.tokens import JwtKeys
from core.errors import InvalidForm

C, T = CallbackType, InteractionType


def interaction(kind: int, *, command_type: int | None = None) -> Interaction:
    return Interaction(
        id=1,
        application_id=2,
        type=kind,
        user_id=3,
        guild_id=4,
        channel_id=5,
        token_hash=b"",
        nonce=None,
        name="ping",
        command_type=command_type,
        target_id=None,
        message_id=None,
        triggering_id=None,
        created_at=dt.datetime.now(dt.UTC),
        response_type=None,
        responded_at=None,
        failed_at=None,
        original_id=None,
        original_ephemeral=False,
        modal_id=None,
        modal=None,
        modal_submitted=False,
    )


ANSWERS = [
    # (interaction, callback, opened by a component, allowed)
    (T.APPLICATION_COMMAND, C.CHANNEL_MESSAGE_WITH_SOURCE, False, True),
    (T.APPLICATION_COMMAND, C.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, False, True),
    (T.APPLICATION_COMMAND, C.MODAL, False, True),
    (T.APPLICATION_COMMAND, C.UPDATE_MESSAGE, False, False),
    (T.APPLICATION_COMMAND, C.DEFERRED_UPDATE_MESSAGE, False, False),
    (T.APPLICATION_COMMAND, C.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT, False, False),
    (T.APPLICATION_COMMAND, C.PONG, False, False),
    (T.MESSAGE_COMPONENT, C.UPDATE_MESSAGE, True, True),
    (T.MESSAGE_COMPONENT, C.DEFERRED_UPDATE_MESSAGE, True, True),
    (T.MESSAGE_COMPONENT, C.MODAL, True, True),
    (T.MESSAGE_COMPONENT, C.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT, True, False),
    (T.APPLICATION_COMMAND_AUTOCOMPLETE, C.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT, False, True),
    (T.APPLICATION_COMMAND_AUTOCOMPLETE, C.CHANNEL_MESSAGE_WITH_SOURCE, False, False),
    (T.APPLICATION_COMMAND_AUTOCOMPLETE, C.MODAL, False, False),
    (T.MODAL_SUBMIT, C.CHANNEL_MESSAGE_WITH_SOURCE, False, True),
    (T.MODAL_SUBMIT, C.UPDATE_MESSAGE, True, True),
    (T.MODAL_SUBMIT, C.UPDATE_MESSAGE, False, False),
    (T.MODAL_SUBMIT, C.DEFERRED_UPDATE_MESSAGE, False, False),
    (T.MODAL_SUBMIT, C.MODAL, True, False),
]


@pytest.mark.parametrize(("kind", "callback", "from_component", "allowed"), ANSWERS)
def test_a_callback_answers_only_the_interactions_discord_lets_it(
    kind: int, callback: int, from_component: bool, allowed: bool
) -> None:
    if allowed:
        check_callback_type(interaction(kind), callback, from_component=from_component)
    else:
        with pytest.raises(InvalidForm):
            check_callback_type(interaction(kind), callback, from_component=from_component)


SCHEMA: list[dict[str, object]] = [
    {"type": 3, "name": "text", "required": True, "max_length": 5},
    {"type": 4, "name": "times", "min_value": 1, "max_value": 3},
    {"type": 3, "name": "colour", "choices": [{"name": "Red", "value": "red"}]},
    {"type": 6, "name": "who"},
    {"type": 11, "name": "file"},
]
GROUPED: list[dict[str, object]] = [
    {"type": 1, "name": "set", "options": [{"type": 5, "name": "on", "required": True}]},
    {"type": 1, "name": "reset"},
]

OPTIONS = [
    # (schema, given, accepted)
    (SCHEMA, [{"type": 3, "name": "text", "value": "hi"}], True),
    (SCHEMA, [], False),  # text is required
    (SCHEMA, [{"type": 3, "name": "text", "value": "toolong"}], False),
    (SCHEMA, [{"type": 4, "name": "text", "value": 1}], False),  # wrong type
    (SCHEMA, [{"type": 3, "name": "nope", "value": "x"}], False),
    (SCHEMA, [{"type": 3, "name": "text", "value": "a"}] * 2, False),
    (
        SCHEMA,
        [{"type": 3, "name": "text", "value": "a"}, {"type": 4, "name": "times", "value": 4}],
        False,
    ),
    (
        SCHEMA,
        [{"type": 3, "name": "text", "value": "a"}, {"type": 4, "name": "times", "value": True}],
        False,
    ),
    (
        SCHEMA,
        [{"type": 3, "name": "text", "value": "a"}, {"type": 3, "name": "colour", "value": "red"}],
        True,
    ),
    (
        SCHEMA,
        [{"type": 3, "name": "text", "value": "a"}, {"type": 3, "name": "colour", "value": "blue"}],
        False,
    ),
    (
        SCHEMA,
        [{"type": 3, "name": "text", "value": "a"}, {"type": 6, "name": "who", "value": "12"}],
        True,
    ),
    (
        SCHEMA,
        [{"type": 3, "name": "text", "value": "a"}, {"type": 6, "name": "who", "value": "x"}],
        False,
    ),
    (
        SCHEMA,
        [{"type": 3, "name": "text", "value": "a"}, {"type": 11, "name": "file", "value": "1"}],
        False,  # attachments are not supported yet
    ),
    (
        GROUPED,
        [{"type": 1, "name": "set", "options": [{"type": 5, "name": "on", "value": True}]}],
        True,
    ),
    (GROUPED, [{"type": 1, "name": "set", "options": []}], False),
    (GROUPED, [{"type": 1, "name": "reset"}], True),
    (GROUPED, [], False),  # a sub-command must be named
    (GROUPED, [{"type": 1, "name": "reset"}, {"type": 1, "name": "set"}], False),
]


@pytest.mark.parametrize(("schema", "given", "accepted"), OPTIONS)
def test_options_are_checked_against_the_command(
    schema: list[dict[str, object]], given: list[dict[str, object]], accepted: bool
) -> None:
    if accepted:
        check_options(schema, given, autocomplete=False)
    else:
        with pytest.raises(InvalidForm):
            check_options(schema, given, autocomplete=False)


def test_an_option_naming_a_user_is_a_reference_to_resolve() -> None:
    _, refs = check_options(
        SCHEMA,
        [{"type": 3, "name": "text", "value": "a"}, {"type": 6, "name": "who", "value": "12"}],
        autocomplete=False,
    )
    assert refs.users == {12}


def test_autocomplete_takes_partial_text_and_exactly_one_focus() -> None:
    partial = {"type": 4, "name": "times", "value": "2", "focused": True}
    with pytest.raises(InvalidForm):  # the option has no autocomplete
        check_options(SCHEMA, [partial], autocomplete=True)
    schema = [dict(o, autocomplete=True) if o["name"] == "times" else o for o in SCHEMA]
    shaped, _ = check_options(schema, [partial], autocomplete=True)
    assert shaped == [{"name": "times", "type": 4, "value": "2", "focused": True}]
    with pytest.raises(InvalidForm):
        check_options(SCHEMA, [{"type": 3, "name": "text", "value": "a"}], autocomplete=True)


@pytest.mark.parametrize(
    ("choices", "accepted"),
    [
        ([], True),
        ([{"name": "A", "value": "a"}] * 25, True),
        ([{"name": "A", "value": "a"}] * 26, False),
        ([{"name": "A", "value": 1.5}], True),
        ([{"name": "", "value": "a"}], False),
        ([{"name": "A", "value": True}], False),
        ([{"name": "A", "value": "v" * 101}], False),
        ("a", False),
    ],
)
def test_autocomplete_choices(choices: object, accepted: bool) -> None:
    if accepted:
        assert len(check_choices(choices)) == len(choices)  # type: ignore[arg-type]
    else:
        with pytest.raises(InvalidForm):
            check_choices(choices)


def test_a_component_is_found_at_any_depth_and_only_by_its_custom_id() -> None:
    button = {"type": 2, "custom_id": "deep"}
    components = [
        {"type": 1, "components": [{"type": 2, "custom_id": "top"}]},
        {"type": 17, "components": [{"type": 9, "accessory": button}]},
        {"type": 18, "component": {"type": 4, "custom_id": "labelled"}},
    ]
    assert find_component(components, "deep") is button
    assert find_component(components, "labelled") == {"type": 4, "custom_id": "labelled"}
    assert find_component(components, "missing") is None
    assert find_component("not a list", "top") is None


@pytest.mark.parametrize(
    ("kind", "command_type", "message_type"),
    [
        (T.APPLICATION_COMMAND, 1, 20),
        (T.APPLICATION_COMMAND, 2, 23),
        (T.APPLICATION_COMMAND, 3, 23),
        (T.MESSAGE_COMPONENT, None, 19),
        (T.MODAL_SUBMIT, 1, 19),
    ],
)
def test_a_response_message_has_discords_type(
    kind: int, command_type: int | None, message_type: int
) -> None:
    assert message_type_of(interaction(kind, command_type=command_type)) == message_type


def test_tokens_name_their_interaction_and_differ_by_interaction_and_key() -> None:
    key, other = b"k" * 32, b"o" * 32
    token = interaction_token(key, 7)
    assert token == interaction_token(key, 7)  # derived, so never stored
    assert len({token, interaction_token(key, 8), interaction_token(other, 7)}) == 3
    assert len(token) > 60
    prefix = token.split(":")[0]
    assert base64.urlsafe_b64decode(prefix + "=" * (-len(prefix) % 4)) == b"interaction:7"


def test_a_stored_interaction_create_has_its_token_revealed_only_from_a_listed_key() -> None:
    keys = JwtKeys((("new", b"n" * 32), ("old", b"o" * 32)))
    stored = orjson.dumps({"id": "7", "token": sealed_token("old"), "type": 2})
    revealed = orjson.loads(reveal_token(stored, keys))
    assert revealed == {"id": "7", "token": interaction_token(b"o" * 32, 7), "type": 2}
    gone = orjson.dumps({"id": "7", "token": sealed_token("removed")})
    assert orjson.loads(reveal_token(gone, keys))["token"] is None
    invoker = orjson.dumps({"id": "7", "nonce": "1"})  # the person's INTERACTION_CREATE
    assert reveal_token(invoker, keys) == invoker
    # As PostgreSQL's jsonb gives it back from the outbox, spaced.
    spaced = b'{"id": "7", "token": "sealed:new"}'
    assert orjson.loads(reveal_token(spaced, keys))["token"] == interaction_token(b"n" * 32, 7)
