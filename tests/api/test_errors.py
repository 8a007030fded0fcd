"""Every client error renders as Discord does: status, JSON code and message."""

from __future__ import annotations

import json

import pytest

from api.errors import render_client_error
from core import errors
from core.errors import ClientError, FieldError, InvalidForm, RateLimited


def _all_client_errors() -> list[type[ClientError]]:
    found: list[type[ClientError]] = []
    pending: list[type[ClientError]] = [ClientError]
    while pending:
        kind = pending.pop()
        found.extend(kind.__subclasses__())
        pending.extend(kind.__subclasses__())
    return found


RENDERINGS: list[tuple[ClientError, int, dict[str, object]]] = [
    (errors.Unauthorized("x"), 401, {"code": 0, "message": "401: Unauthorized"}),
    (errors.MissingAccess("x"), 403, {"code": 50001, "message": "Missing Access"}),
    (errors.MissingPermissions("x"), 403, {"code": 50013, "message": "Missing Permissions"}),
    (errors.UnknownApplication("x"), 404, {"code": 10002, "message": "Unknown Application"}),
    (errors.UnknownChannel("x"), 404, {"code": 10003, "message": "Unknown Channel"}),
    (errors.UnknownGuild("x"), 404, {"code": 10004, "message": "Unknown Guild"}),
    (errors.UnknownMember("x"), 404, {"code": 10007, "message": "Unknown Member"}),
    (errors.UnknownRole("x"), 404, {"code": 10011, "message": "Unknown Role"}),
    (errors.UnknownUser("x"), 404, {"code": 10013, "message": "Unknown User"}),
    (errors.UnknownInvite("x"), 404, {"code": 10006, "message": "Unknown Invite"}),
    (errors.UnknownBan("x"), 404, {"code": 10026, "message": "Unknown Ban"}),
    (errors.UnknownVoiceState("x"), 404, {"code": 10065, "message": "Unknown Voice State"}),
    (errors.NotInVoice("x"), 400, {"code": 40032, "message": "Target user is not connected to voice."}),
    (errors.WrongChannelType("x"), 400, {"code": 50024, "message": "Cannot execute action on this channel type"}),
    (errors.UnknownMessage("x"), 404, {"code": 10008, "message": "Unknown Message"}),
    (errors.UnknownEmoji("x"), 400, {"code": 10014, "message": "Unknown Emoji"}),
    (errors.NotATextChannel("x"), 400, {"code": 50008, "message": "Cannot send messages in a non-text channel"}),
    (errors.NotTheAuthor("x"), 403, {"code": 50005, "message": "Cannot edit a message authored by another user"}),
    (errors.CannotMessageUser("x"), 403, {"code": 50007, "message": "Cannot send messages to this user"}),
    (errors.MaxPins("x"), 400, {"code": 30003, "message": "Maximum number of pins reached (50)"}),
    (errors.TooOldToBulkDelete("x"), 400, {"code": 50034, "message": "A message provided was too old to bulk delete"}),
    (errors.BannedFromGuild("x"), 403, {"code": 40007, "message": "The user is banned from this guild."}),
    (errors.PayloadTooLarge(10), 413, {"code": 40005, "message": "Request entity too large"}),
    (errors.InvalidJson("x"), 400, {"code": 50109, "message": "The request body contains invalid JSON."}),
    (errors.InvalidRole("x"), 400, {"code": 50028, "message": "Invalid Role"}),
    (errors.InvalidGuildAction("x"), 400, {"code": 50055, "message": "Invalid Guild"}),
    (errors.UnknownCommand("x"), 404, {"code": 10063, "message": "Unknown application command"}),
    (errors.MaxCommands("x"), 400, {"code": 30032, "message": "Maximum number of application commands reached"}),
    (errors.UnknownInteraction("x"), 404, {"code": 10062, "message": "Unknown interaction"}),
    (errors.InteractionAlreadyAcknowledged("x"), 400, {"code": 40060, "message": "Interaction has already been acknowledged."}),
    (errors.UnknownWebhook("x"), 404, {"code": 10015, "message": "Unknown Webhook"}),
    (errors.InvalidWebhookToken("x"), 401, {"code": 50027, "message": "Invalid Webhook Token"}),
    (errors.MaxWebhooks("x"), 400, {"code": 30007, "message": "Maximum number of webhooks reached (15)"}),
    (
            InvalidForm({("a", 0, "b"): [FieldError("C", "m")], (): [FieldError("D", "n")]}),
            400,
            {"code": 50035, "message": "Invalid Form Body",
             "errors": {"a": {"0": {"b": {"_errors": [{"code": "C", "message": "m"}]}}}, "_errors": [{"code": "D", "message": "n"}]}},
        ),
    (RateLimited(1.5, scope="global", is_global=True), 429, {"message": "You are being rate limited.", "retry_after": 1.5, "global": True}),
]  # fmt: skip


@pytest.mark.parametrize(("error", "status", "body"), RENDERINGS)
async def test_client_error_renders_like_discord(
    error: ClientError, status: int, body: dict[str, object]
) -> None:
    response = render_client_error(error)
    assert response.status_code == status
    assert json.loads(await response.get_data()) == body


def test_every_client_error_has_a_rendering_test() -> None:
    tested = {type(error) for error, _, _ in RENDERINGS}
    missing = {kind.__name__ for kind in _all_client_errors()} - {kind.__name__ for kind in tested}
    assert missing == set(), f"client errors without a rendering test: {missing}"
