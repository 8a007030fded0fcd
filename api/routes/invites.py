"""Invites: create and list them, look one up (public), revoke one, accept one."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_person, current_principal
from api.forms import Form, NotYet, not_yet, parse_body
from api.params import audit_reason, query_flag, snowflake
from api.responses import json_response
from api.services import services
from core.errors import UnknownChannel, UnknownGuild, UnknownInvite
from core.invites import InviteSettings

blueprint = Blueprint("invites", __name__)

_CODE_MAX = 32


class CreateInvite(Form):
    max_age: int = 86400
    max_uses: int = 0
    temporary: bool = False
    unique: bool = False  # every invite here is unique
    # Stream and activity invites arrive with voice: refused until then, not made ordinary.
    not_yet = not_yet(
        target_type=NotYet("Stream and activity invites are not supported yet."),
        target_user_id=NotYet("Stream invites are not supported yet."),
        target_application_id=NotYet("Activity invites are not supported yet."),
    )


def _code(raw: str) -> str:
    if not raw.isalnum() or len(raw) > _CODE_MAX:
        raise UnknownInvite(raw)
    return raw


@blueprint.post("/channels/<channel_id>/invites")
async def create_invite(channel_id: str) -> Response:
    principal = await current_principal()
    body = await parse_body(CreateInvite)
    settings = InviteSettings(
        max_age=body.max_age, max_uses=body.max_uses, temporary=body.temporary
    )
    invite = await services().invites.create(
        principal.user_id, snowflake(channel_id, UnknownChannel), settings, audit_reason()
    )
    return json_response(invite)


@blueprint.get("/channels/<channel_id>/invites")
async def channel_invites(channel_id: str) -> Response:
    principal = await current_principal()
    return json_response(
        await services().invites.of_channel(
            principal.user_id, snowflake(channel_id, UnknownChannel)
        )
    )


@blueprint.get("/guilds/<guild_id>/invites")
async def guild_invites(guild_id: str) -> Response:
    principal = await current_principal()
    return json_response(
        await services().invites.of_guild(principal.user_id, snowflake(guild_id, UnknownGuild))
    )


@blueprint.get("/invites/<code>")
async def look_up_invite(code: str) -> Response:
    invite = await services().invites.look_up(_code(code), with_counts=query_flag("with_counts"))
    return json_response(invite)


@blueprint.delete("/invites/<code>")
async def delete_invite(code: str) -> Response:
    principal = await current_principal()
    return json_response(
        await services().invites.delete(principal.user_id, _code(code), audit_reason())
    )


@blueprint.post("/invites/<code>")
async def accept_invite(code: str) -> Response:
    principal = await current_person()
    return json_response(await services().invites.accept(principal.user_id, _code(code)))
