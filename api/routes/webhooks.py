"""Incoming webhooks: managed with MANAGE_WEBHOOKS, and used with nothing but their token.

Every token route resolves its credential first, through services().webhooks.credential: the
one place a webhook's token is checked (10015 Unknown Webhook, 50027 Invalid Webhook Token)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from api.auth import current_principal
from api.forms import Form, NotYet, Snowflake, not_yet, parse_body, parse_multipart
from api.params import audit_reason, query_flag, snowflake
from api.responses import json_response, no_content
from api.routes import interactions
from api.routes.messages import (
    AllowedMentionsBody,
    AttachmentBody,
    allowed_mentions_of,
    uploads_of,
)
from api.services import services
from core.domain.messages import Draft
from core.errors import InvalidForm, UnknownChannel, UnknownGuild, UnknownMessage, UnknownWebhook
from core.webhooks import WebhookChanges

blueprint = Blueprint("webhooks", __name__)


class CreateWebhook(Form):
    name: str
    avatar: str | None = None


class EditWebhook(Form):
    name: str | None = None
    avatar: str | None = None
    channel_id: Snowflake | None = None


_POLLS = NotYet("Polls are not supported yet.")


class ExecuteWebhook(Form):
    content: str | None = None
    username: str | None = None
    avatar_url: str | None = None
    tts: bool = False
    # Any: embeds and components are JSON objects checked by the domain.
    embeds: list[dict[str, Any]] | None = None
    allowed_mentions: AllowedMentionsBody | None = None
    components: list[dict[str, Any]] | None = None
    attachments: list[AttachmentBody] | None = None
    flags: int = 0
    not_yet = not_yet(
        thread_name=NotYet("Threads are not supported yet."),
        applied_tags=NotYet("Forums are not supported yet.", inert=(None, [])),
        poll=_POLLS,
    )


class EditWebhookMessage(Form):
    content: str | None = None
    embeds: list[dict[str, Any]] | None = None
    allowed_mentions: AllowedMentionsBody | None = None
    components: list[dict[str, Any]] | None = None
    flags: int | None = None
    not_yet = not_yet(
        # Discord's list of the attachments to keep: ignoring it would keep what the sender
        # meant to remove.
        attachments=NotYet("Changing a message's attachments is not supported yet."),
        poll=_POLLS,
    )


def _webhook_id(raw: str) -> int:
    return snowflake(raw, UnknownWebhook)


def _refuse_threads() -> None:
    # Threads and forum posts do not exist here yet: say so rather than post elsewhere.
    if request.args.get("thread_id") is not None:
        raise InvalidForm.one("thread_id", "UNSUPPORTED", "Threads are not supported yet.")


@blueprint.post("/channels/<channel_id>/webhooks")
async def create_webhook(channel_id: str) -> Response:
    principal = await current_principal()
    body = await parse_body(CreateWebhook)
    webhook = await services().webhooks.create(
        principal.user_id,
        snowflake(channel_id, UnknownChannel),
        name=body.name,
        avatar=body.avatar,
        by_bot=principal.bot,
        reason=audit_reason(),
    )
    return json_response(webhook)


@blueprint.get("/channels/<channel_id>/webhooks")
async def channel_webhooks(channel_id: str) -> Response:
    principal = await current_principal()
    return json_response(
        await services().webhooks.of_channel(
            principal.user_id, snowflake(channel_id, UnknownChannel)
        )
    )


@blueprint.get("/guilds/<guild_id>/webhooks")
async def guild_webhooks(guild_id: str) -> Response:
    principal = await current_principal()
    return json_response(
        await services().webhooks.of_guild(principal.user_id, snowflake(guild_id, UnknownGuild))
    )


@blueprint.get("/webhooks/<webhook_id>")
async def get_webhook(webhook_id: str) -> Response:
    principal = await current_principal()
    return json_response(await services().webhooks.get(principal.user_id, _webhook_id(webhook_id)))


@blueprint.patch("/webhooks/<webhook_id>")
async def edit_webhook(webhook_id: str) -> Response:
    principal = await current_principal()
    body = await parse_body(EditWebhook)
    edit = WebhookChanges(frozenset(body.model_fields_set), body.name, body.avatar, body.channel_id)
    return json_response(
        await services().webhooks.edit(
            principal.user_id, _webhook_id(webhook_id), edit, audit_reason()
        )
    )


@blueprint.delete("/webhooks/<webhook_id>")
async def delete_webhook(webhook_id: str) -> Response:
    principal = await current_principal()
    await services().webhooks.delete(principal.user_id, _webhook_id(webhook_id), audit_reason())
    return no_content()


# With the token: no Authorization.


@blueprint.get("/webhooks/<webhook_id>/<token>")
async def get_with_token(webhook_id: str, token: str) -> Response:
    webhook = await services().webhooks.credential(_webhook_id(webhook_id), token)
    return json_response(await services().webhooks.show(webhook))


@blueprint.patch("/webhooks/<webhook_id>/<token>")
async def edit_with_token(webhook_id: str, token: str) -> Response:
    webhook = await services().webhooks.credential(_webhook_id(webhook_id), token)
    body = await parse_body(EditWebhook)
    edit = WebhookChanges(frozenset(body.model_fields_set), body.name, body.avatar, body.channel_id)
    return json_response(await services().webhooks.edit(None, webhook.id, edit, None))


@blueprint.delete("/webhooks/<webhook_id>/<token>")
async def delete_with_token(webhook_id: str, token: str) -> Response:
    webhook = await services().webhooks.credential(_webhook_id(webhook_id), token)
    await services().webhooks.delete(None, webhook.id, None)
    return no_content()


@blueprint.post("/webhooks/<webhook_id>/<token>")
async def execute(webhook_id: str, token: str) -> Response:
    if await interactions.is_interaction_webhook(webhook_id):
        return await interactions.follow_up(webhook_id, token)
    webhook = await services().webhooks.credential(_webhook_id(webhook_id), token)
    _refuse_threads()
    if request.mimetype == "multipart/form-data":
        body, parts = await parse_multipart(ExecuteWebhook)
    else:
        body, parts = await parse_body(ExecuteWebhook), []
    draft = Draft(
        content=body.content,
        embeds=body.embeds,
        tts=body.tts,
        allowed_mentions=allowed_mentions_of(body.allowed_mentions),
        flags=body.flags,
        uploads=uploads_of(body.attachments, parts),
        components=body.components,
    )
    message = await services().webhooks.execute(
        webhook, draft, username=body.username, avatar_url=body.avatar_url
    )
    return json_response(message) if query_flag("wait") else no_content()


@blueprint.get("/webhooks/<webhook_id>/<token>/messages/<message_id>")
async def get_message(webhook_id: str, token: str, message_id: str) -> Response:
    if await interactions.is_interaction_webhook(webhook_id):
        return await interactions.get_message(webhook_id, token, message_id)
    webhook = await services().webhooks.credential(_webhook_id(webhook_id), token)
    _refuse_threads()
    return json_response(
        await services().webhooks.message(webhook, snowflake(message_id, UnknownMessage))
    )


@blueprint.patch("/webhooks/<webhook_id>/<token>/messages/<message_id>")
async def edit_message(webhook_id: str, token: str, message_id: str) -> Response:
    if await interactions.is_interaction_webhook(webhook_id):
        return await interactions.edit_message(webhook_id, token, message_id)
    webhook = await services().webhooks.credential(_webhook_id(webhook_id), token)
    _refuse_threads()
    body = await parse_body(EditWebhookMessage)
    edited = await services().webhooks.edit_message(
        webhook,
        snowflake(message_id, UnknownMessage),
        given=frozenset(body.model_fields_set),
        content=body.content,
        embeds=body.embeds,
        flags=body.flags,
        allowed_mentions=allowed_mentions_of(body.allowed_mentions),
        components=body.components,
    )
    return json_response(edited)


@blueprint.delete("/webhooks/<webhook_id>/<token>/messages/<message_id>")
async def delete_message(webhook_id: str, token: str, message_id: str) -> Response:
    if await interactions.is_interaction_webhook(webhook_id):
        return await interactions.delete_message(webhook_id, token, message_id)
    webhook = await services().webhooks.credential(_webhook_id(webhook_id), token)
    _refuse_threads()
    await services().webhooks.delete_message(webhook, snowflake(message_id, UnknownMessage))
    return no_content()
