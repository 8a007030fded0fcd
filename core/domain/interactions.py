"""Interactions: their types, deadlines, tokens and Discord's wire shapes (Receiving and
Responding). Pure: the service loads, this decides and shapes."""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from core.domain.command_options import CHOICE_NAME_MAX, MAX_CHOICES
from core.domain.components import CUSTOM_ID_MAX
from core.errors import FieldError, FormCheck, InvalidForm

if TYPE_CHECKING:
    from core.domain.tokens import JwtKeys

# Discord: a callback must come within 3 seconds of the interaction; the token then works for
# 15 minutes of follow-ups. Rows are kept a while longer, for ephemeral messages' components.
CALLBACK_WINDOW = dt.timedelta(seconds=3)
TOKEN_TTL = dt.timedelta(minutes=15)
RETENTION = dt.timedelta(hours=1)
CHOICE_VALUE_MAX = 100
MODAL_TITLE_MAX = 45
# What a bot may upload in its answers (attachment_size_limit): Discord's free tier.
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


class InteractionType(enum.IntEnum):
    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    APPLICATION_COMMAND_AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CallbackType(enum.IntEnum):
    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
    MODAL = 9


_NO_FOLLOW_UPS = frozenset(
    {CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT, CallbackType.MODAL}
)


class Context(enum.IntEnum):
    """Discord's interaction context types: where it was invoked."""

    GUILD = 0
    BOT_DM = 1
    PRIVATE_CHANNEL = 2


# Which callbacks answer which interactions (Discord's "Interaction Callback Type" notes).
# UPDATE_MESSAGE and DEFERRED_UPDATE_MESSAGE answer a modal only when a component opened it.
_ANSWERS: dict[InteractionType, frozenset[CallbackType]] = {
    InteractionType.APPLICATION_COMMAND: frozenset(
        {
            CallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.MODAL,
        }
    ),
    InteractionType.MESSAGE_COMPONENT: frozenset(
        {
            CallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_UPDATE_MESSAGE,
            CallbackType.UPDATE_MESSAGE,
            CallbackType.MODAL,
        }
    ),
    InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE: frozenset(
        {CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT}
    ),
    InteractionType.MODAL_SUBMIT: frozenset(
        {
            CallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_UPDATE_MESSAGE,
            CallbackType.UPDATE_MESSAGE,
        }
    ),
}


# Where a stored INTERACTION_CREATE has its token: the id of the key it derives from, never the
# token itself (the outbox and the bus keep events for minutes). The gateway derives it as it
# delivers the event (reveal_token).
_SEALED = "sealed:"


def interaction_token(secret: bytes, interaction_id: int) -> str:
    """The interaction's token: its id (as Discord's tokens begin) and an HMAC of the id under a
    server key. Derived wherever it is needed and never stored; only its hash is kept, to find
    the interaction it names."""
    prefix = base64.urlsafe_b64encode(f"interaction:{interaction_id}".encode()).rstrip(b"=")
    mac = hmac.new(secret, b"trioxide interaction token %d" % interaction_id, hashlib.sha256)
    return f"{prefix.decode()}:{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"


def sealed_token(kid: str) -> str:
    """What a stored INTERACTION_CREATE carries as its token: the key's id."""
    return f"{_SEALED}{kid}"


def reveal_token(payload: bytes, keys: JwtKeys) -> bytes:
    """A stored INTERACTION_CREATE's payload with its token derived in place of the key's id;
    any other payload as it is. A key since removed reveals no token (the bot cannot answer:
    the interaction fails, as one whose token was rotated out should)."""
    if _SEALED.encode() not in payload:  # (a cheap look first: most events are not these)
        return payload
    data = orjson.loads(payload)
    sealed = data.get("token")
    if not isinstance(sealed, str) or not sealed.startswith(_SEALED):
        return payload
    secret = keys.get(sealed.removeprefix(_SEALED))
    data["token"] = None if secret is None else interaction_token(secret, int(data["id"]))
    return orjson.dumps(data)


@dataclass(frozen=True, slots=True)
class Interaction:
    """An interaction as stored (its token only hashed)."""

    id: int
    application_id: int
    type: int
    user_id: int
    guild_id: int | None
    channel_id: int
    token_hash: bytes
    nonce: str | None
    name: str
    command_type: int | None
    target_id: int | None
    message_id: int | None
    triggering_id: int | None
    created_at: dt.datetime
    response_type: int | None
    responded_at: dt.datetime | None
    failed_at: dt.datetime | None
    original_id: int | None
    original_ephemeral: bool
    modal_id: int | None
    modal: dict[str, object] | None
    modal_submitted: bool

    def token_live(self, now: dt.datetime) -> bool:
        """Whether the token still works for follow-ups: answered with a message (or the
        promise of one), and not 15 minutes old. Choices for autocomplete and a modal make no
        message to follow: a modal's answer comes through its submission's own token."""
        return (
            self.response_type is not None
            and self.response_type not in _NO_FOLLOW_UPS
            and now < self.created_at + TOKEN_TTL
        )


def modal_open(interaction: Interaction, now: dt.datetime) -> bool:
    """Whether the modal `interaction` opened may still be submitted: once, and within its
    opener's token life (Discord's submission is answered through a token of that age)."""
    return (
        interaction.modal is not None
        and not interaction.modal_submitted
        and now < interaction.created_at + TOKEN_TTL
    )


def check_callback_type(interaction: Interaction, callback: int, *, from_component: bool) -> None:
    """50035 unless `callback` may answer this interaction. PONG answers only the PINGs of an
    HTTP interactions endpoint, which Trioxide does not send."""
    allowed = _ANSWERS.get(InteractionType(interaction.type), frozenset())
    if (
        interaction.type == InteractionType.MODAL_SUBMIT
        and not from_component
        and callback in (CallbackType.UPDATE_MESSAGE, CallbackType.DEFERRED_UPDATE_MESSAGE)
    ):
        allowed = frozenset()
    if callback not in allowed:
        raise InvalidForm.one(
            "type",
            "INTERACTION_RESPONSE_TYPE_INVALID",
            "This response type cannot answer this interaction.",
        )


def check_choices(choices: object) -> list[dict[str, object]]:
    """An autocomplete result's `choices`: at most 25 of `{name, value}` (string or number),
    names 1 to 100 characters, string values at most 100."""
    problems: dict[tuple[str | int, ...], list[FieldError]] = {}
    if not isinstance(choices, list):
        raise InvalidForm({("data", "choices"): [FieldError("BASE_TYPE_LIST", "Must be a list.")]})
    if len(choices) > MAX_CHOICES:
        raise InvalidForm(
            {
                ("data", "choices"): [
                    FieldError("BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CHOICES} or fewer in length.")
                ]
            }
        )
    shaped: list[dict[str, object]] = []
    for index, choice in enumerate(choices):
        path: tuple[str | int, ...] = ("data", "choices", index)
        if not isinstance(choice, dict):
            problems[path] = [FieldError("DICT_TYPE_CONVERT", "Must be an object.")]
            continue
        name, value = choice.get("name"), choice.get("value")
        if not isinstance(name, str) or not 1 <= len(name) <= CHOICE_NAME_MAX:
            problems[(*path, "name")] = [
                FieldError("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {CHOICE_NAME_MAX}.")
            ]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problems[(*path, "value")] = [
                FieldError("BASE_TYPE_REQUIRED", "Must be a string or a number.")
            ]
        elif isinstance(value, str) and len(value) > CHOICE_VALUE_MAX:
            problems[(*path, "value")] = [
                FieldError("BASE_TYPE_MAX_LENGTH", f"Must be {CHOICE_VALUE_MAX} or fewer.")
            ]
        localizations = choice.get("name_localizations")
        shaped.append(
            {"name": name, "value": value}
            | ({"name_localizations": localizations} if localizations else {})
        )
    if problems:
        raise InvalidForm(problems)
    return shaped


def check_modal_head(data: dict[str, object]) -> tuple[str, str]:
    """A modal's custom_id and title (its components are checked as components)."""
    check = FormCheck()
    custom_id, title = data.get("custom_id"), data.get("title")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_MAX:
        check.fail("custom_id", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {CUSTOM_ID_MAX}.")
    if not isinstance(title, str) or not 1 <= len(title) <= MODAL_TITLE_MAX:
        check.fail("title", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MODAL_TITLE_MAX}.")
    if check.errors:
        raise InvalidForm({("data", *path): errors for path, errors in check.errors.items()})
    assert isinstance(custom_id, str)
    assert isinstance(title, str)
    return custom_id, title


def metadata(
    interaction: Interaction,
    user: dict[str, object],
    *,
    original_response_message_id: int | None = None,
    triggering: dict[str, object] | None = None,
) -> dict[str, object]:
    """Discord's message interaction metadata for a message this interaction created."""
    owners = _owners(interaction)
    wire: dict[str, object] = {
        "id": str(interaction.id),
        "type": interaction.type,
        "user": user,
        "authorizing_integration_owners": owners,
    }
    if interaction.type == InteractionType.APPLICATION_COMMAND:
        wire["name"] = interaction.name
        wire["command_type"] = interaction.command_type
        if interaction.target_id is not None and interaction.command_type == 3:
            wire["target_message_id"] = str(interaction.target_id)
    if original_response_message_id is not None:
        wire["original_response_message_id"] = str(original_response_message_id)
    if interaction.message_id is not None and interaction.type == InteractionType.MESSAGE_COMPONENT:
        wire["interacted_message_id"] = str(interaction.message_id)
    if triggering is not None:
        wire["triggering_interaction_metadata"] = triggering
    return wire


def _owners(interaction: Interaction) -> dict[str, str]:
    # Installed to a guild (0: GUILD_INSTALL), the guild owns it; a bot DM is the user's.
    if interaction.guild_id is not None:
        return {"0": str(interaction.guild_id)}
    return {"1": str(interaction.user_id)}


def context_of(interaction: Interaction) -> int:
    return int(Context.GUILD if interaction.guild_id is not None else Context.BOT_DM)


def message_type_of(interaction: Interaction) -> int:
    """A response's message type: CHAT_INPUT_COMMAND (20) or CONTEXT_MENU_COMMAND (23) for a
    command, REPLY (19) otherwise (a component's or modal's response replies to it)."""
    if interaction.type == InteractionType.APPLICATION_COMMAND:
        return 20 if interaction.command_type in (None, 1) else 23
    return 19


def callback_response(
    interaction: Interaction,
    callback: int,
    *,
    message: dict[str, object] | None,
    loading: bool,
    ephemeral: bool,
) -> dict[str, object]:
    """The body of `?with_response=true`: Discord's interaction callback response. Its
    `activity_instance_id` and `resource.activity_instance` are optional fields, present only
    when a LAUNCH_ACTIVITY callback launched or joined an Activity: Trioxide has none, so
    they are absent, as they are on Discord for every other callback."""
    about: dict[str, object] = {"id": str(interaction.id), "type": interaction.type}
    if message is not None:
        about |= {
            "response_message_id": message["id"],
            "response_message_loading": loading,
            "response_message_ephemeral": ephemeral,
        }
    resource: dict[str, object] = {"type": callback}
    if message is not None:
        resource["message"] = message
    return {"interaction": about, "resource": resource}


def bot_payload(
    interaction: Interaction,
    *,
    token: str,
    data: dict[str, object],
    channel: dict[str, object],
    member: dict[str, object] | None,
    user: dict[str, object] | None,
    message: dict[str, object] | None,
    app_permissions: int,
    locale: str,
    guild_locale: str | None,
) -> dict[str, object]:
    """INTERACTION_CREATE as the application's bot receives it, with every key discord.py,
    discord.js and hikari read."""
    wire: dict[str, object] = {
        "id": str(interaction.id),
        "application_id": str(interaction.application_id),
        "type": interaction.type,
        "data": data,
        "channel": channel,
        "channel_id": str(interaction.channel_id),
        "token": token,
        "version": 1,
        "app_permissions": str(app_permissions),
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": _owners(interaction),
        "context": context_of(interaction),
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if interaction.guild_id is not None:
        wire["guild_id"] = str(interaction.guild_id)
        wire["guild"] = {"id": str(interaction.guild_id), "locale": guild_locale, "features": []}
        wire["guild_locale"] = guild_locale
    if member is not None:
        wire["member"] = member
    if user is not None:
        wire["user"] = user
    if message is not None:
        wire["message"] = message
    return wire
