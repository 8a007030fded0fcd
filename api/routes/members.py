"""Guild members and bans."""

from __future__ import annotations

from quart import Blueprint, Response, request

from api.auth import current_principal
from api.forms import Form, NotYet, Snowflake, Timestamp, not_yet, parse_body
from api.params import audit_reason, query_int, query_snowflake, snowflake
from api.responses import json_response, no_content
from api.services import services
from core.errors import InvalidForm, UnknownGuild, UnknownMember, UnknownRole, UnknownUser
from core.members import MemberChanges

blueprint = Blueprint("members", __name__)


class EditMember(Form):
    nick: str | None = None
    roles: list[Snowflake] | None = None
    mute: bool | None = None
    deaf: bool | None = None
    communication_disabled_until: Timestamp | None = None
    channel_id: Snowflake | None = None  # a voice move; null disconnects
    # BYPASSES_VERIFICATION, the one flag a moderator sets, means nothing without verification.
    not_yet = not_yet(flags=NotYet("Member flags are not supported yet.", inert=(None, 0)))


_PROFILE = NotYet("Guild profiles are not supported yet.")


class EditCurrentMember(Form):
    nick: str | None = None
    not_yet = not_yet(
        avatar=_PROFILE, banner=_PROFILE, bio=NotYet(_PROFILE.message, inert=(None, ""))
    )


_AFTERWARDS = "Not supported when adding a member yet: set it with PATCH afterwards."


class AddMember(Form):
    # Discord's body carries an OAuth2 access token; bots are added without one here.
    access_token: str | None = None
    not_yet = not_yet(
        nick=NotYet(_AFTERWARDS),
        roles=NotYet(_AFTERWARDS, inert=(None, [])),
        mute=NotYet(_AFTERWARDS, inert=(None, False)),
        deaf=NotYet(_AFTERWARDS, inert=(None, False)),
    )


class CreateBan(Form):
    delete_message_seconds: int = 0
    delete_message_days: int | None = None  # deprecated by Discord; still sent by old clients


class BulkBan(Form):
    user_ids: list[Snowflake]
    delete_message_seconds: int = 0


def _changes(body: EditMember | EditCurrentMember) -> MemberChanges:
    given = frozenset(body.model_fields_set) & frozenset(MemberChanges.__dataclass_fields__)
    values = {field: getattr(body, field) for field in given}
    if "roles" in values and values["roles"] is not None:
        values["roles"] = tuple(values["roles"])
    return MemberChanges(given=given, **values)


@blueprint.get("/guilds/<guild_id>/members")
async def list_members(guild_id: str) -> Response:
    principal = await current_principal()
    members = await services().members.page(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        after=query_snowflake("after") or 0,
        limit=query_int("limit", 1, 1, 1000),
    )
    return json_response(members)


@blueprint.get("/guilds/<guild_id>/members/search")
async def search_members(guild_id: str) -> Response:
    principal = await current_principal()
    query = request.args.get("query")
    if query is None or not 1 <= len(query) <= 100 or "\x00" in query:
        raise InvalidForm.one(
            "query", "BASE_TYPE_REQUIRED", "A query of 1 to 100 characters is required."
        )
    members = await services().members.search(
        principal.user_id, snowflake(guild_id, UnknownGuild), query, query_int("limit", 1, 1, 1000)
    )
    return json_response(members)


@blueprint.get("/guilds/<guild_id>/members/<user_id>")
async def get_member(guild_id: str, user_id: str) -> Response:
    principal = await current_principal()
    member = await services().members.get(
        principal.user_id, snowflake(guild_id, UnknownGuild), snowflake(user_id, UnknownMember)
    )
    return json_response(member)


@blueprint.patch("/guilds/<guild_id>/members/@me")
async def edit_current_member(guild_id: str) -> Response:
    principal = await current_principal()
    changes = _changes(await parse_body(EditCurrentMember))
    member = await services().members.update(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        principal.user_id,
        changes,
        audit_reason(),
    )
    return json_response(member)


@blueprint.patch("/guilds/<guild_id>/members/<user_id>")
async def edit_member(guild_id: str, user_id: str) -> Response:
    principal = await current_principal()
    changes = _changes(await parse_body(EditMember))
    member = await services().members.update(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        snowflake(user_id, UnknownMember),
        changes,
        audit_reason(),
    )
    return json_response(member)


@blueprint.put("/guilds/<guild_id>/members/<user_id>")
async def add_member(guild_id: str, user_id: str) -> Response:
    principal = await current_principal()
    await parse_body(AddMember)
    member = await services().members.add_bot(
        principal.user_id, snowflake(guild_id, UnknownGuild), snowflake(user_id, UnknownUser)
    )
    return no_content() if member is None else json_response(member, 201)


@blueprint.delete("/guilds/<guild_id>/members/<user_id>")
async def kick_member(guild_id: str, user_id: str) -> Response:
    principal = await current_principal()
    await services().members.kick(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        snowflake(user_id, UnknownMember),
        audit_reason(),
    )
    return no_content()


@blueprint.put("/guilds/<guild_id>/members/<user_id>/roles/<role_id>")
@blueprint.delete("/guilds/<guild_id>/members/<user_id>/roles/<role_id>")
async def member_role(guild_id: str, user_id: str, role_id: str) -> Response:
    principal = await current_principal()
    await services().members.set_role(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        snowflake(user_id, UnknownMember),
        snowflake(role_id, UnknownRole),
        add=request.method == "PUT",
        reason=audit_reason(),
    )
    return no_content()


@blueprint.get("/guilds/<guild_id>/bans")
async def list_bans(guild_id: str) -> Response:
    principal = await current_principal()
    bans = await services().members.bans(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        before=query_snowflake("before"),
        after=query_snowflake("after"),
        limit=query_int("limit", 1000, 1, 1000),
    )
    return json_response(bans)


@blueprint.get("/guilds/<guild_id>/bans/<user_id>")
async def get_ban(guild_id: str, user_id: str) -> Response:
    principal = await current_principal()
    ban = await services().members.ban(
        principal.user_id, snowflake(guild_id, UnknownGuild), snowflake(user_id, UnknownUser)
    )
    return json_response(ban)


@blueprint.put("/guilds/<guild_id>/bans/<user_id>")
async def create_ban(guild_id: str, user_id: str) -> Response:
    principal = await current_principal()
    body = await parse_body(CreateBan)
    seconds = body.delete_message_seconds
    if body.delete_message_days is not None:
        seconds = body.delete_message_days * 86400
    await services().members.add_bans(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        [snowflake(user_id, UnknownUser)],
        seconds,
        audit_reason(),
    )
    return no_content()


@blueprint.post("/guilds/<guild_id>/bulk-ban")
async def bulk_ban(guild_id: str) -> Response:
    principal = await current_principal()
    body = await parse_body(BulkBan)
    banned, failed = await services().members.add_bans(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        body.user_ids,
        body.delete_message_seconds,
        audit_reason(),
        bulk=True,
    )
    return json_response(
        {"banned_users": [str(u) for u in banned], "failed_users": [str(u) for u in failed]}
    )


@blueprint.delete("/guilds/<guild_id>/bans/<user_id>")
async def remove_ban(guild_id: str, user_id: str) -> Response:
    principal = await current_principal()
    await services().members.remove_ban(
        principal.user_id,
        snowflake(guild_id, UnknownGuild),
        snowflake(user_id, UnknownUser),
        audit_reason(),
    )
    return no_content()
