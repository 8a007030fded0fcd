"""Interactions: a person's `POST /interactions` (Discord's client route), the bot's callback
and its follow-ups through the interaction's token (no Authorization: the token is the
credential)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field
from quart import Blueprint, Response, request

from api.auth import current_person
from api.forms import (
    FilePart,
    Form,
    NotYet,
    Snowflake,
    not_yet,
    parse_body,
    parse_multipart,
    validate,
)
from api.params import query_flag, snowflake
from api.responses import json_response, no_content
from api.routes.messages import (
    AllowedMentionsBody,
    AttachmentBody,
    allowed_mentions_of,
    uploads_of,
)
from api.services import services
from core.domain.replies import Reply
from core.domain.snowflakes import parse_stored_snowflake
from core.errors import InvalidForm, UnknownInteraction, UnknownMessage
from core.interactions import InteractionRequest

blueprint = Blueprint("interactions", __name__)


class InteractionBody(Form):
    # (Discord's client also sends analytics keys, which are ignored as Discord ignores them.)
    type: int
    application_id: Snowflake
    channel_id: Snowflake
    guild_id: Snowflake | None = None
    message_id: Snowflake | None = None
    nonce: str | None = None
    session_id: str | None = None
    # Any: checked by the domain against the command, component or modal it names.
    data: dict[str, Any] = Field(default_factory=dict)


class CallbackBody(Form):
    type: int
    data: dict[str, Any] | None = None  # Any: its shape depends on the callback type


class ReplyBody(Form):
    # Discord's message data for answers, follow-ups and their edits; libraries send
    # `tts: false` with every reply. (Its other keys, such as a follow-up's username, Discord
    # ignores for an interaction's webhook.)
    not_yet = not_yet(
        tts=NotYet("Text-to-speech answers are not supported yet.", (None, False)),
        poll=NotYet("Polls are not supported yet."),
    )
    content: str | None = None
    # Any: embeds and components are stored as sent, after their limits are checked.
    embeds: list[dict[str, Any]] | None = None
    components: list[dict[str, Any]] | None = None
    flags: int | None = None
    allowed_mentions: AllowedMentionsBody | None = None
    attachments: list[AttachmentBody] | None = None  # the files' names and descriptions


class _Raw(Form):
    # Any JSON object: each route then validates it as its own form.
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


async def _body() -> tuple[dict[str, Any], list[FilePart]]:
    """A JSON body, or the payload_json and files of a multipart one."""
    if request.mimetype == "multipart/form-data":
        body, parts = await parse_multipart(_Raw)
        return body.model_extra or {}, parts
    raw = await parse_body(_Raw)
    return raw.model_extra or {}, []


def _reply(data: dict[str, Any] | None, parts: list[FilePart] | None = None) -> Reply:
    body = validate(ReplyBody, data or {})
    return Reply(
        uploads=uploads_of(body.attachments, parts or []),
        content=body.content,
        embeds=body.embeds,
        components=body.components,
        flags=body.flags,
        allowed_mentions=allowed_mentions_of(body.allowed_mentions),
        given=frozenset(body.model_fields_set),
    )


@blueprint.post("/interactions")
async def create_interaction() -> Response:
    principal = await current_person()
    raw, parts = await _body()
    if parts:
        raise InvalidForm.one("files", "UNSUPPORTED", "An interaction takes no files.")
    body = validate(InteractionBody, raw)
    await services().interactions.create(
        principal.user_id,
        InteractionRequest(
            type=body.type,
            application_id=body.application_id,
            channel_id=body.channel_id,
            guild_id=body.guild_id,
            nonce=body.nonce,
            data=body.data,
            message_id=body.message_id,
        ),
    )
    return no_content()


@blueprint.post("/interactions/<interaction_id>/<token>/callback")
async def callback(interaction_id: str, token: str) -> Response:
    raw, parts = await _body()
    body = validate(CallbackBody, raw)
    data = body.data or {}
    answer = await services().interaction_responses.callback(
        snowflake(interaction_id, UnknownInteraction),
        token,
        body.type,
        data,
        _reply(data, parts),
        with_response=query_flag("with_response"),
    )
    return no_content() if answer is None else json_response(answer)


# Follow-ups: plain functions of (application_id, token, ...). `/webhooks/{id}/{token}` is
# shared with incoming webhooks: `is_interaction_webhook(id)` says which of the two it names.


async def is_interaction_webhook(webhook_id: str) -> bool:
    """Whether `/webhooks/{webhook_id}/...` names an application (an interaction's token
    follows), not an incoming webhook."""
    value = parse_stored_snowflake(webhook_id)
    return value is not None and await services().interaction_followups.is_application(value)


async def follow_up(application_id: str, token: str) -> Response:
    """`POST /webhooks/{application_id}/{token}`: a follow-up message; 200 with it when
    `?wait=true`, else 204."""
    message = await services().interaction_followups.follow_up(
        snowflake(application_id, UnknownInteraction), token, _reply(*await _body())
    )
    return json_response(message) if query_flag("wait") else no_content()


def _message_id(message_id: str) -> int | None:
    return None if message_id == "@original" else snowflake(message_id, UnknownMessage)


async def get_message(application_id: str, token: str, message_id: str) -> Response:
    return json_response(
        await services().interaction_followups.get_message(
            snowflake(application_id, UnknownInteraction), token, _message_id(message_id)
        )
    )


async def edit_message(application_id: str, token: str, message_id: str) -> Response:
    return json_response(
        await services().interaction_followups.edit_message(
            snowflake(application_id, UnknownInteraction),
            token,
            _message_id(message_id),
            _reply(*await _body()),
        )
    )


async def delete_message(application_id: str, token: str, message_id: str) -> Response:
    await services().interaction_followups.delete_message(
        snowflake(application_id, UnknownInteraction), token, _message_id(message_id)
    )
    return no_content()
