"""Guild channels and their permission overwrites."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_principal
from api.forms import Form, NotYet, PermissionBits, Snowflake, not_yet, parse_body, parse_list
from api.params import audit_reason, snowflake
from api.responses import json_response, no_content
from api.services import services
from core.channels import ChannelFields, OverwriteSpec
from core.errors import UnknownChannel, UnknownGuild

blueprint = Blueprint("channels", __name__)


class OverwriteBody(Form):
    id: Snowflake
    type: int
    allow: PermissionBits = 0
    deny: PermissionBits = 0


_THREADS = NotYet("Threads are not supported yet.")
_FORUMS = NotYet("Forums are not supported yet.")


class ChannelBody(Form):
    name: str | None = None
    type: int | None = None
    topic: str | None = None
    position: int | None = None
    parent_id: Snowflake | None = None
    nsfw: bool | None = None
    rate_limit_per_user: int | None = None
    bitrate: int | None = None
    user_limit: int | None = None
    permission_overwrites: list[OverwriteBody] | None = None
    # Inert values are what every channel here has: voice regions chosen automatically, auto
    # video quality, no channel flags; threads and forums do not exist yet.
    not_yet = not_yet(
        rtc_region=NotYet("Choosing a voice region is not supported yet."),
        video_quality_mode=NotYet("Video quality modes are not supported yet.", inert=(None, 1)),
        flags=NotYet("Channel flags are not supported yet.", inert=(None, 0)),
        default_auto_archive_duration=_THREADS,
        default_thread_rate_limit_per_user=_THREADS,
        available_tags=NotYet("Forums are not supported yet.", inert=(None, [])),
        default_reaction_emoji=_FORUMS,
        default_sort_order=_FORUMS,
        default_forum_layout=NotYet("Forums are not supported yet.", inert=(None, 0)),
    )


class PositionBody(Form):
    id: Snowflake
    position: int | None = None
    parent_id: Snowflake | None = None
    not_yet = not_yet(
        lock_permissions=NotYet(
            "Syncing permissions with the category is not supported yet.", inert=(None, False)
        )
    )


class EditOverwrite(Form):
    type: int
    allow: PermissionBits = 0
    deny: PermissionBits = 0


def _fields(body: ChannelBody) -> ChannelFields:
    overwrites = None
    if body.permission_overwrites is not None:
        overwrites = tuple(
            OverwriteSpec(o.id, o.type, o.allow, o.deny) for o in body.permission_overwrites
        )
    values = body.model_dump(exclude={"permission_overwrites"})
    return ChannelFields(
        given=frozenset(body.model_fields_set), permission_overwrites=overwrites, **values
    )


@blueprint.get("/guilds/<guild_id>/channels")
async def list_channels(guild_id: str) -> Response:
    principal = await current_principal()
    return json_response(
        await services().channels.in_guild(principal.user_id, snowflake(guild_id, UnknownGuild))
    )


@blueprint.post("/guilds/<guild_id>/channels")
async def create_channel(guild_id: str) -> Response:
    principal = await current_principal()
    fields = _fields(await parse_body(ChannelBody))
    channel = await services().channels.create(
        principal.user_id, snowflake(guild_id, UnknownGuild), fields, audit_reason()
    )
    return json_response(channel, 201)


@blueprint.patch("/guilds/<guild_id>/channels")
async def move_channels(guild_id: str) -> Response:
    principal = await current_principal()
    moves = await parse_list(PositionBody)
    await services().channels.set_positions(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        [(m.id, m.position, m.parent_id, "parent_id" in m.model_fields_set) for m in moves],
    )
    return no_content()


@blueprint.get("/channels/<channel_id>")
async def get_channel(channel_id: str) -> Response:
    principal = await current_principal()
    return json_response(
        await services().channels.get(principal.user_id, snowflake(channel_id, UnknownChannel))
    )


@blueprint.patch("/channels/<channel_id>")
async def edit_channel(channel_id: str) -> Response:
    principal = await current_principal()
    fields = _fields(await parse_body(ChannelBody))
    channel = await services().channels.update(
        principal.user_id, snowflake(channel_id, UnknownChannel), fields, audit_reason()
    )
    return json_response(channel)


@blueprint.delete("/channels/<channel_id>")
async def delete_channel(channel_id: str) -> Response:
    principal = await current_principal()
    channel = await services().channels.delete(
        principal.user_id, snowflake(channel_id, UnknownChannel), audit_reason()
    )
    return json_response(channel)


@blueprint.put("/channels/<channel_id>/permissions/<overwrite_id>")
async def put_overwrite(channel_id: str, overwrite_id: str) -> Response:
    principal = await current_principal()
    body = await parse_body(EditOverwrite)
    target = snowflake(overwrite_id, UnknownChannel)
    await services().channels.put_overwrite(
        principal.user_id,
        snowflake(channel_id, UnknownChannel),
        OverwriteSpec(target, body.type, body.allow, body.deny),
        audit_reason(),
    )
    return no_content()


@blueprint.delete("/channels/<channel_id>/permissions/<overwrite_id>")
async def delete_overwrite(channel_id: str, overwrite_id: str) -> Response:
    principal = await current_principal()
    await services().channels.delete_overwrite(
        principal.user_id,
        snowflake(channel_id, UnknownChannel),
        snowflake(overwrite_id, UnknownChannel),
        audit_reason(),
    )
    return no_content()
