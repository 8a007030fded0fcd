"""Guild voice states: read one, and a stage channel's speakers (suppress, request to speak)."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_principal
from api.forms import Form, Snowflake, Timestamp, parse_body
from api.params import snowflake
from api.responses import json_response, no_content
from api.services import services
from core.domain.timestamps import iso
from core.errors import UnknownGuild, UnknownUser
from core.voice import KEEP

blueprint = Blueprint("voice_states", __name__)


class EditCurrentVoiceState(Form):
    channel_id: Snowflake | None = None
    suppress: bool | None = None
    request_to_speak_timestamp: Timestamp | None = None


class EditVoiceState(Form):
    channel_id: Snowflake  # the channel the user is in, for another user
    suppress: bool | None = None


@blueprint.get("/guilds/<guild_id>/voice-states/@me")
async def get_current_voice_state(guild_id: str) -> Response:
    principal = await current_principal()
    state = await services().voice_moderation.state(
        principal.user_id, snowflake(guild_id, UnknownGuild), principal.user_id
    )
    return json_response(state)


@blueprint.get("/guilds/<guild_id>/voice-states/<user_id>")
async def get_voice_state(guild_id: str, user_id: str) -> Response:
    principal = await current_principal()
    state = await services().voice_moderation.state(
        principal.user_id, snowflake(guild_id, UnknownGuild), snowflake(user_id, UnknownUser)
    )
    return json_response(state)


@blueprint.patch("/guilds/<guild_id>/voice-states/@me")
async def edit_current_voice_state(guild_id: str) -> Response:
    principal = await current_principal()
    body = await parse_body(EditCurrentVoiceState)
    stamp = body.request_to_speak_timestamp
    await services().voice_moderation.edit_state(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        principal.user_id,
        channel_id=body.channel_id,
        suppress=body.suppress,
        request_to_speak_timestamp=(
            KEEP
            if "request_to_speak_timestamp" not in body.model_fields_set
            else None
            if stamp is None
            else iso(stamp)
        ),
    )
    return no_content()


@blueprint.patch("/guilds/<guild_id>/voice-states/<user_id>")
async def edit_voice_state(guild_id: str, user_id: str) -> Response:
    principal = await current_principal()
    body = await parse_body(EditVoiceState)
    await services().voice_moderation.edit_state(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        snowflake(user_id, UnknownUser),
        channel_id=body.channel_id,
        suppress=body.suppress,
    )
    return no_content()
