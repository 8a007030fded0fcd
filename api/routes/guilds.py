"""Guilds, the caller's guild list, leaving, and the audit log."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_person, current_principal
from api.forms import Form, NotYet, Snowflake, not_yet, parse_body
from api.params import audit_reason, query_flag, query_int, query_snowflake, snowflake
from api.responses import json_response, no_content
from api.services import services
from core.errors import UnknownGuild
from core.guilds import GuildChanges

blueprint = Blueprint("guilds", __name__)


_IMAGES = NotYet("Guild images are not supported yet.")
_SET_LATER = NotYet("Not supported when creating a guild yet: set it with PATCH /guilds/{id}.")


class CreateGuild(Form):
    name: str
    # Discord's template for the new guild: refused unless it asks for what a new guild here
    # has anyway. (`region` is deprecated by Discord and ignored.)
    not_yet = not_yet(
        icon=_IMAGES,
        verification_level=_SET_LATER,
        default_message_notifications=_SET_LATER,
        explicit_content_filter=_SET_LATER,
        afk_timeout=_SET_LATER,
        afk_channel_id=_SET_LATER,
        system_channel_id=_SET_LATER,
        system_channel_flags=NotYet("System channel flags are not supported yet.", inert=(None, 0)),
        roles=NotYet("Roles in a new guild's body are not supported yet.", inert=(None, [])),
        channels=NotYet("Channels in a new guild's body are not supported yet.", inert=(None, [])),
    )


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
    # Inert values are what every guild here has. (`region` is deprecated and ignored.)
    not_yet = not_yet(
        icon=_IMAGES,
        splash=_IMAGES,
        discovery_splash=_IMAGES,
        banner=_IMAGES,
        owner_id=NotYet("Transferring a guild is not supported yet."),
        system_channel_flags=NotYet("System channel flags are not supported yet.", inert=(None, 0)),
        rules_channel_id=NotYet("Community guilds are not supported yet."),
        public_updates_channel_id=NotYet("Community guilds are not supported yet."),
        safety_alerts_channel_id=NotYet("Community guilds are not supported yet."),
        features=NotYet("Guild features are not supported yet.", inert=(None, [])),
        premium_progress_bar_enabled=NotYet("Boosts do not exist here.", inert=(None, False)),
    )


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
