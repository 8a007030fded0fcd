"""Messages, pins, reactions and typing."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from api.auth import current_principal
from api.forms import FilePart, Form, NotYet, Snowflake, not_yet, parse_body, parse_multipart
from api.params import query_int, query_snowflake, query_snowflakes, snowflake
from api.responses import json_response, no_content
from api.services import services
from core.domain.attachments import Upload
from core.domain.messages import HISTORY_MAX, AllowedMentions, Draft
from core.errors import InvalidForm, UnknownChannel, UnknownGuild, UnknownMessage, UnknownUser
from core.search import SearchQuery

blueprint = Blueprint("messages", __name__)


class AllowedMentionsBody(Form):
    parse: list[str] | None = None
    users: list[Snowflake] | None = None
    roles: list[Snowflake] | None = None
    replied_user: bool = False


class MessageReference(Form):
    message_id: Snowflake
    channel_id: Snowflake | None = None
    guild_id: Snowflake | None = None
    fail_if_not_exists: bool = True
    not_yet = not_yet(type=NotYet("Forwarding messages is not supported yet.", inert=(None, 0)))


class AttachmentBody(Form):
    id: int | str
    filename: str | None = None
    description: str | None = None
    not_yet = not_yet(
        title=NotYet("Attachment titles are not supported yet."),
        waveform=NotYet("Voice messages are not supported yet."),
        duration_secs=NotYet("Voice messages are not supported yet."),
    )


class CreateMessage(Form):
    attachments: list[AttachmentBody] | None = None
    content: str | None = None
    nonce: str | int | None = None
    enforce_nonce: bool = False
    tts: bool = False
    # Any: embeds are stored as sent; only their size is checked.
    embeds: list[dict[str, Any]] | None = None
    allowed_mentions: AllowedMentionsBody | None = None
    message_reference: MessageReference | None = None
    flags: int = 0
    components: list[dict[str, Any]] | None = None
    not_yet = not_yet(
        sticker_ids=NotYet("Stickers are not supported yet.", inert=(None, [])),
        poll=NotYet("Polls are not supported yet."),
        shared_client_theme=NotYet("Shared client themes are not supported yet."),
    )


class EditMessage(Form):
    content: str | None = None
    embeds: list[dict[str, Any]] | None = None
    flags: int | None = None
    allowed_mentions: AllowedMentionsBody | None = None
    components: list[dict[str, Any]] | None = None
    not_yet = not_yet(
        # Discord's list of the attachments to keep: ignoring it would keep what the sender
        # meant to remove.
        attachments=NotYet("Changing a message's attachments is not supported yet."),
    )


class BulkDelete(Form):
    messages: list[Snowflake]


def allowed_mentions_of(body: AllowedMentionsBody | None) -> AllowedMentions | None:
    if body is None:
        return None
    return AllowedMentions(
        parse=None if body.parse is None else tuple(body.parse),
        users=None if body.users is None else tuple(body.users),
        roles=None if body.roles is None else tuple(body.roles),
        replied_user=body.replied_user,
    )


def uploads_of(
    attachments: list[AttachmentBody] | None, parts: list[FilePart]
) -> tuple[Upload, ...]:
    """The files, with the filename and description payload_json gives each (matched by id,
    which is the n of its `files[n]` part)."""
    described = {str(a.id): a for a in attachments or ()}
    uploads = []
    for part in parts:
        about = described.get(str(part.index))
        uploads.append(
            Upload(
                index=part.index,
                filename=(about.filename if about and about.filename else part.filename),
                declared_type=part.content_type,
                data=part.data,
                description=about.description if about else None,
            )
        )
    return tuple(uploads)


def _draft(body: CreateMessage, parts: list[FilePart] | None = None) -> Draft:
    reference = body.message_reference
    return Draft(
        content=body.content,
        embeds=body.embeds,
        tts=body.tts,
        nonce=body.nonce,
        enforce_nonce=body.enforce_nonce,
        reply_to=None if reference is None else reference.message_id,
        reply_channel_id=None if reference is None else reference.channel_id,
        fail_if_not_exists=True if reference is None else reference.fail_if_not_exists,
        allowed_mentions=allowed_mentions_of(body.allowed_mentions),
        flags=body.flags,
        uploads=uploads_of(body.attachments, parts or []),
        components=body.components,
    )


def _ids(channel_id: str, message_id: str) -> tuple[int, int]:
    return snowflake(channel_id, UnknownChannel), snowflake(message_id, UnknownMessage)


@blueprint.get("/channels/<channel_id>/messages")
async def history(channel_id: str) -> Response:
    principal = await current_principal()
    anchors = {name: query_snowflake(name) for name in ("before", "after", "around")}
    if sum(value is not None for value in anchors.values()) > 1:
        raise InvalidForm.one(
            "before", "BASE_TYPE_EXCLUSIVE", "before, after and around are mutually exclusive."
        )
    messages = await services().messages.history(
        principal.user_id,
        snowflake(channel_id, UnknownChannel),
        limit=query_int("limit", 50, 1, HISTORY_MAX),
        **anchors,
    )
    return json_response(messages)


@blueprint.get("/channels/<channel_id>/messages/<message_id>")
async def get_message(channel_id: str, message_id: str) -> Response:
    principal = await current_principal()
    return json_response(
        await services().messages.get(principal.user_id, *_ids(channel_id, message_id))
    )


@blueprint.post("/channels/<channel_id>/messages")
async def create_message(channel_id: str) -> Response:
    principal = await current_principal()
    if request.mimetype == "multipart/form-data":
        body, parts = await parse_multipart(CreateMessage)
        draft = _draft(body, parts)
    else:
        draft = _draft(await parse_body(CreateMessage))
    return json_response(
        await services().messages.send(
            principal.user_id, snowflake(channel_id, UnknownChannel), draft
        )
    )


@blueprint.patch("/channels/<channel_id>/messages/<message_id>")
async def edit_message(channel_id: str, message_id: str) -> Response:
    principal = await current_principal()
    body = await parse_body(EditMessage)
    edited = await services().messages.edit(
        principal.user_id,
        *_ids(channel_id, message_id),
        given=frozenset(body.model_fields_set),
        content=body.content,
        embeds=body.embeds,
        flags=body.flags,
        allowed_mentions=allowed_mentions_of(body.allowed_mentions),
        components=body.components,
    )
    return json_response(edited)


@blueprint.delete("/channels/<channel_id>/messages/<message_id>")
async def delete_message(channel_id: str, message_id: str) -> Response:
    principal = await current_principal()
    await services().messages.delete(principal.user_id, *_ids(channel_id, message_id))
    return no_content()


@blueprint.post("/channels/<channel_id>/messages/bulk-delete")
async def bulk_delete(channel_id: str) -> Response:
    principal = await current_principal()
    body = await parse_body(BulkDelete)
    await services().messages.bulk_delete(
        principal.user_id, snowflake(channel_id, UnknownChannel), body.messages
    )
    return no_content()


# Pins: Discord's older routes (/pins) and its newer ones (/messages/pins), which discord.py uses.


@blueprint.get("/channels/<channel_id>/pins")
async def pins(channel_id: str) -> Response:
    principal = await current_principal()
    pinned = await services().pins.pins(principal.user_id, snowflake(channel_id, UnknownChannel))
    return json_response([message for _, message in pinned])


@blueprint.get("/channels/<channel_id>/messages/pins")
async def pins_page(channel_id: str) -> Response:
    principal = await current_principal()
    pinned = await services().pins.pins(principal.user_id, snowflake(channel_id, UnknownChannel))
    limit = query_int("limit", 50, 1, 50)
    items = [{"pinned_at": at, "message": message} for at, message in pinned[:limit]]
    return json_response({"items": items, "has_more": len(pinned) > limit})


@blueprint.put("/channels/<channel_id>/pins/<message_id>")
@blueprint.put("/channels/<channel_id>/messages/pins/<message_id>")
@blueprint.delete("/channels/<channel_id>/pins/<message_id>")
@blueprint.delete("/channels/<channel_id>/messages/pins/<message_id>")
async def pin(channel_id: str, message_id: str) -> Response:
    principal = await current_principal()
    await services().pins.set_pin(
        principal.user_id, *_ids(channel_id, message_id), pin=request.method == "PUT"
    )
    return no_content()


# Reactions.


@blueprint.put("/channels/<channel_id>/messages/<message_id>/reactions/<emoji>/@me")
async def react(channel_id: str, message_id: str, emoji: str) -> Response:
    principal = await current_principal()
    await services().reactions.react(principal.user_id, *_ids(channel_id, message_id), emoji)
    return no_content()


@blueprint.delete("/channels/<channel_id>/messages/<message_id>/reactions/<emoji>/@me")
async def unreact_own(channel_id: str, message_id: str, emoji: str) -> Response:
    principal = await current_principal()
    await services().reactions.unreact(
        principal.user_id,
        *_ids(channel_id, message_id),
        emoji,
        of_user=principal.user_id,
        everyone=False,
    )
    return no_content()


@blueprint.delete("/channels/<channel_id>/messages/<message_id>/reactions/<emoji>/<user_id>")
async def unreact_user(channel_id: str, message_id: str, emoji: str, user_id: str) -> Response:
    principal = await current_principal()
    await services().reactions.unreact(
        principal.user_id,
        *_ids(channel_id, message_id),
        emoji,
        of_user=snowflake(user_id, UnknownUser),
        everyone=False,
    )
    return no_content()


@blueprint.delete("/channels/<channel_id>/messages/<message_id>/reactions/<emoji>")
@blueprint.delete("/channels/<channel_id>/messages/<message_id>/reactions")
async def unreact_all(channel_id: str, message_id: str, emoji: str | None = None) -> Response:
    principal = await current_principal()
    await services().reactions.unreact(
        principal.user_id, *_ids(channel_id, message_id), emoji, of_user=None, everyone=True
    )
    return no_content()


@blueprint.get("/channels/<channel_id>/messages/<message_id>/reactions/<emoji>")
async def reactors(channel_id: str, message_id: str, emoji: str) -> Response:
    principal = await current_principal()
    users = await services().reactions.reactors(
        principal.user_id,
        *_ids(channel_id, message_id),
        emoji,
        after=query_snowflake("after") or 0,
        limit=query_int("limit", 25, 1, 100),
    )
    return json_response(users)


@blueprint.post("/channels/<channel_id>/typing")
async def typing(channel_id: str) -> Response:
    principal = await current_principal()
    await services().typing.start(principal.user_id, snowflake(channel_id, UnknownChannel))
    return no_content()


_HAS = frozenset({"link", "embed", "file", "image"})


@blueprint.get("/guilds/<guild_id>/messages/search")
async def search(guild_id: str) -> Response:
    principal = await current_principal()
    content = request.args.get("content")
    if content is not None and (len(content) > 1024 or "\x00" in content):
        raise InvalidForm.one("content", "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length.")
    has = tuple(request.args.getlist("has"))
    if not set(has) <= _HAS:
        raise InvalidForm.one("has", "BASE_TYPE_CHOICES", f"Value must be one of {sorted(_HAS)}.")
    query = SearchQuery(
        content=content or None,
        author_ids=query_snowflakes("author_id"),
        channel_ids=query_snowflakes("channel_id"),
        mentions=query_snowflakes("mentions"),
        has=has,
        min_id=query_snowflake("min_id"),
        max_id=query_snowflake("max_id"),
        limit=query_int("limit", 25, 1, 25),
        offset=query_int("offset", 0, 0, 9975),
    )
    return json_response(
        await services().search.search(principal.user_id, snowflake(guild_id, UnknownGuild), query)
    )
