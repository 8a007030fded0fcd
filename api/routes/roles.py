"""Guild roles."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_principal
from api.forms import Form, PermissionBits, Snowflake, parse_body, parse_list
from api.params import audit_reason, snowflake
from api.responses import json_response, no_content
from api.services import services
from core.errors import InvalidForm, UnknownGuild, UnknownRole
from core.roles import RoleFields

blueprint = Blueprint("roles", __name__)


class RoleColors(Form):
    primary_color: int = 0
    secondary_color: int | None = None
    tertiary_color: int | None = None


class RoleBody(Form):
    name: str | None = None
    permissions: PermissionBits | None = None
    color: int | None = None
    hoist: bool | None = None
    unicode_emoji: str | None = None
    mentionable: bool | None = None
    colors: RoleColors | None = None  # Discord's newer form of `color`
    icon: str | None = None  # sent as null by some clients; a real icon is refused
    # (Its own code, ROLE_ICONS_UNSUPPORTED, predates `not_yet`; clients may test for it.)


class RolePosition(Form):
    id: Snowflake
    position: int


def _fields(body: RoleBody) -> RoleFields:
    if body.icon is not None:
        raise InvalidForm.one("icon", "ROLE_ICONS_UNSUPPORTED", "Role icons are not supported yet.")
    given = frozenset(body.model_fields_set) - {"icon", "colors"}
    values = body.model_dump(exclude={"icon", "colors"})
    if body.colors is not None:
        if body.colors.secondary_color is not None or body.colors.tertiary_color is not None:
            raise InvalidForm.one(
                "colors", "ROLE_COLORS_UNSUPPORTED", "Gradient role colours are not supported."
            )
        given |= {"color"}
        values["color"] = body.colors.primary_color
    return RoleFields(given=given, **values)


@blueprint.get("/guilds/<guild_id>/roles")
async def list_roles(guild_id: str) -> Response:
    principal = await current_principal()
    return json_response(
        await services().roles.in_guild(principal.user_id, snowflake(guild_id, UnknownGuild))
    )


@blueprint.get("/guilds/<guild_id>/roles/<role_id>")
async def get_role(guild_id: str, role_id: str) -> Response:
    principal = await current_principal()
    wanted = str(snowflake(role_id, UnknownRole))
    # A guild has at most a few hundred roles, already loaded with its access.
    roles = await services().roles.in_guild(principal.user_id, snowflake(guild_id, UnknownGuild))
    for role in roles:
        if role["id"] == wanted:
            return json_response(role)
    raise UnknownRole(role_id)


@blueprint.post("/guilds/<guild_id>/roles")
async def create_role(guild_id: str) -> Response:
    principal = await current_principal()
    fields = _fields(await parse_body(RoleBody))
    role = await services().roles.create(
        principal.user_id, snowflake(guild_id, UnknownGuild), fields, audit_reason()
    )
    return json_response(role)


@blueprint.patch("/guilds/<guild_id>/roles")
async def move_roles(guild_id: str) -> Response:
    principal = await current_principal()
    moves = await parse_list(RolePosition)
    roles = await services().roles.set_positions(
        principal.user_id, snowflake(guild_id, UnknownGuild), [(m.id, m.position) for m in moves]
    )
    return json_response(roles)


@blueprint.patch("/guilds/<guild_id>/roles/<role_id>")
async def edit_role(guild_id: str, role_id: str) -> Response:
    principal = await current_principal()
    fields = _fields(await parse_body(RoleBody))
    role = await services().roles.update(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        snowflake(role_id, UnknownRole),
        fields,
        audit_reason(),
    )
    return json_response(role)


@blueprint.delete("/guilds/<guild_id>/roles/<role_id>")
async def delete_role(guild_id: str, role_id: str) -> Response:
    principal = await current_principal()
    await services().roles.delete(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        snowflake(role_id, UnknownRole),
        audit_reason(),
    )
    return no_content()
