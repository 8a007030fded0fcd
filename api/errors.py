"""The one place errors become HTTP responses, in Discord's shape `{code, message[, errors]}`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import psycopg
from werkzeug.exceptions import HTTPException

from api.ratelimits import too_many_requests
from api.responses import json_response
from core.errors import (
    BannedFromGuild,
    CannotMessageUser,
    ClientError,
    InteractionAlreadyAcknowledged,
    InvalidForm,
    InvalidGuildAction,
    InvalidJson,
    InvalidRole,
    InvalidWebhookToken,
    MaxCommands,
    MaxPins,
    MaxWebhooks,
    MissingAccess,
    MissingPermissions,
    NotATextChannel,
    NotInVoice,
    NotTheAuthor,
    PayloadTooLarge,
    RateLimited,
    TooOldToBulkDelete,
    Unauthorized,
    UnknownApplication,
    UnknownBan,
    UnknownChannel,
    UnknownCommand,
    UnknownEmoji,
    UnknownGuild,
    UnknownInteraction,
    UnknownInvite,
    UnknownMember,
    UnknownMessage,
    UnknownRole,
    UnknownUser,
    UnknownVoiceState,
    UnknownWebhook,
    WrongChannelType,
)
from core.faults import report_fault
from core.store.redis import RedisError

if TYPE_CHECKING:
    from quart import Quart, Response

_log = logging.getLogger(__name__)

# How long a client waits before retrying while PostgreSQL or Redis cannot be reached: long
# enough for a restart or a failover, short enough that nobody gives up.
UNAVAILABLE_RETRY_AFTER_S = 5

# Discord's status, JSON code and message for each client error (Discord's "JSON Error Codes").
_RENDERING: dict[type[ClientError], tuple[int, int, str]] = {
    Unauthorized: (401, 0, "401: Unauthorized"),
    MissingAccess: (403, 50001, "Missing Access"),
    MissingPermissions: (403, 50013, "Missing Permissions"),
    UnknownApplication: (404, 10002, "Unknown Application"),
    UnknownCommand: (404, 10063, "Unknown application command"),
    MaxCommands: (400, 30032, "Maximum number of application commands reached"),
    UnknownChannel: (404, 10003, "Unknown Channel"),
    UnknownGuild: (404, 10004, "Unknown Guild"),
    UnknownMember: (404, 10007, "Unknown Member"),
    UnknownRole: (404, 10011, "Unknown Role"),
    UnknownInvite: (404, 10006, "Unknown Invite"),
    UnknownBan: (404, 10026, "Unknown Ban"),
    UnknownVoiceState: (404, 10065, "Unknown Voice State"),
    NotInVoice: (400, 40032, "Target user is not connected to voice."),
    WrongChannelType: (400, 50024, "Cannot execute action on this channel type"),
    UnknownMessage: (404, 10008, "Unknown Message"),
    UnknownEmoji: (400, 10014, "Unknown Emoji"),
    NotATextChannel: (400, 50008, "Cannot send messages in a non-text channel"),
    NotTheAuthor: (403, 50005, "Cannot edit a message authored by another user"),
    MaxPins: (400, 30003, "Maximum number of pins reached (50)"),
    CannotMessageUser: (403, 50007, "Cannot send messages to this user"),
    TooOldToBulkDelete: (400, 50034, "A message provided was too old to bulk delete"),
    BannedFromGuild: (403, 40007, "The user is banned from this guild."),
    UnknownUser: (404, 10013, "Unknown User"),
    InvalidRole: (400, 50028, "Invalid Role"),
    InvalidGuildAction: (400, 50055, "Invalid Guild"),
    PayloadTooLarge: (413, 40005, "Request entity too large"),
    InvalidJson: (400, 50109, "The request body contains invalid JSON."),
    UnknownInteraction: (404, 10062, "Unknown interaction"),
    InteractionAlreadyAcknowledged: (400, 40060, "Interaction has already been acknowledged."),
    UnknownWebhook: (404, 10015, "Unknown Webhook"),
    InvalidWebhookToken: (401, 50027, "Invalid Webhook Token"),
    MaxWebhooks: (400, 30007, "Maximum number of webhooks reached (15)"),
}


def _body(status: int, code: int, message: str, errors: object = None) -> Response:
    body: dict[str, object] = {"message": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return json_response(body, status)


def error_tree(error: InvalidForm) -> dict[str, object]:
    """Discord's nested field tree: `{"a": {"0": {"_errors": [{code, message}]}}}`."""
    tree: dict[str, object] = {}
    for path, problems in error.errors.items():
        node = tree
        for part in path:
            child = node.setdefault(str(part), {})
            assert isinstance(child, dict)
            node = child
        existing = node.setdefault("_errors", [])
        assert isinstance(existing, list)
        existing.extend({"code": p.code, "message": p.message} for p in problems)
    return tree


def render_client_error(error: ClientError) -> Response:
    if isinstance(error, InvalidForm):
        return _body(400, 50035, "Invalid Form Body", error_tree(error))
    if isinstance(error, RateLimited):
        return too_many_requests(error)
    for kind, (status, code, message) in _RENDERING.items():
        if isinstance(error, kind):
            return _body(status, code, message)
    _log.error("client error without a rendering", extra={"error_type": type(error).__name__})
    return _body(400, 0, "400: Bad Request")


def install_error_handlers(app: Quart) -> None:
    @app.errorhandler(ClientError)
    async def client_error(error: ClientError) -> Response:
        return render_client_error(error)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        # Discord answers unknown routes and methods as `{"message": "404: Not Found", "code": 0}`.
        status = error.code or 500
        if status == 413:
            return _body(413, 40005, "Request entity too large")
        return _body(status, 0, f"{status}: {error.name}")

    # PostgreSQL (DatabaseUnavailable is one of these) or Redis out of reach. Redis holds the
    # revoked sessions: while it is down no token can be checked, so requests fail closed.
    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(RedisError)
    async def unavailable(error: Exception) -> Response:
        report_fault("request", error)
        response = _body(503, 0, "503: Service Unavailable")
        response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_S)
        return response

    @app.errorhandler(Exception)
    async def internal_error(error: Exception) -> Response:
        # Logged once here, at the boundary; nothing of the exception reaches the wire.
        report_fault("request", error)
        return _body(500, 0, "500: Internal Server Error")
