"""Guilds, the caller's guild list, leaving, and the audit log."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_person, current_principal
from api.forms import Form, Snowflake, parse_body
from api.params import audit_reason, query_flag, query_int, query_snowflake, snowflake
from api.responses import json_response, no_content
from api.services import services
from core.errors import UnknownGuild
from core.guilds import GuildChanges

blueprint = Blueprint("guilds", __name__)


class CreateGuild(Form):
    name: str
    icon: str | None = None  # accepted; guild icons arrive with the object store (#5)


class EditGuild(Form):
    name: str | None = None
    description: str | None = None
    verification_level: int | None = None
    default_message_notifications: int | None = None
    explicit_content_filter: int | None = None
    afk_timeout: int | None = None
    afk_channel_id: Snowflake | None = None
    system_channel_id: Snowflake | None = None
    preferred_locale: str | None = None


@blueprint.post("/guilds")
async def create_guild() -> Response:
    principal = await current_person()
    body = await parse_body(CreateGuild)
    return json_response(await services().guilds.create(principal.user_id, body.name), 201)


@blueprint.get("/guilds/<guild_id>")
async def get_guild(guild_id: str) -> Response:
    principal = await current_principal()
    guild = await services().guilds.get(
        principal.user_id, snowflake(guild_id, UnknownGuild), with_counts=query_flag("with_counts")
    )
    return json_response(guild)


@blueprint.patch("/guilds/<guild_id>")
async def edit_guild(guild_id: str) -> Response:
    principal = await current_principal()
    body = await parse_body(EditGuild)
    edit = GuildChanges(given=frozenset(body.model_fields_set), **body.model_dump())
    guild = await services().guilds.update(
        principal.user_id, snowflake(guild_id, UnknownGuild), edit, audit_reason()
    )
    return json_response(guild)


@blueprint.delete("/guilds/<guild_id>")
async def delete_guild(guild_id: str) -> Response:
    principal = await current_principal()
    await services().guilds.delete(principal.user_id, snowflake(guild_id, UnknownGuild))
    return no_content()


@blueprint.get("/users/@me/guilds")
async def my_guilds() -> Response:
    principal = await current_principal()
    guilds = await services().guilds.of_user(
        principal.user_id,
        before=query_snowflake("before"),
        after=query_snowflake("after"),
        limit=query_int("limit", 200, 1, 200),
    )
    return json_response(guilds)


@blueprint.delete("/users/@me/guilds/<guild_id>")
async def leave_guild(guild_id: str) -> Response:
    principal = await current_principal()
    await services().guilds.leave(principal.user_id, snowflake(guild_id, UnknownGuild))
    return no_content()


@blueprint.get("/guilds/<guild_id>/audit-logs")
async def audit_log(guild_id: str) -> Response:
    principal = await current_principal()
    log = await services().guilds.audit_log(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        actor_id=query_snowflake("user_id"),
        action_type=query_int("action_type", 0, 0, 255) or None,
        before=query_snowflake("before"),
        after=query_snowflake("after"),
        limit=query_int("limit", 50, 1, 100),
    )
    return json_response(log)
