"""DMs, group DMs and relationships."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_person, current_principal
from api.forms import Form, Snowflake, parse_body
from api.params import snowflake
from api.responses import json_response, no_content
from api.services import services
from core.errors import InvalidForm, UnknownUser

blueprint = Blueprint("direct", __name__)


class CreateDM(Form):
    recipient_id: Snowflake | None = None
    recipients: list[Snowflake] | None = None
    name: str | None = None


class Relate(Form):
    type: int | None = None


class RelateByName(Form):
    username: str
    discriminator: str | int | None = None  # legacy clients send one; names are unique now


@blueprint.post("/users/@me/channels")
async def open_dm() -> Response:
    principal = await current_principal()
    body = await parse_body(CreateDM)
    if body.recipient_id is not None:
        return json_response(await services().direct.open_dm(principal.user_id, body.recipient_id))
    if body.recipients is not None:
        if principal.bot:
            raise InvalidForm.one("recipients", "BOTS_NO_GROUP_DMS", "Bots cannot make group DMs.")
        return json_response(
            await services().direct.open_group(principal.user_id, body.recipients, body.name)
        )
    raise InvalidForm.one("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")


@blueprint.get("/users/@me/channels")
async def my_dms() -> Response:
    principal = await current_principal()
    return json_response(await services().direct.channels(principal.user_id))


@blueprint.get("/users/@me/relationships")
async def relationships() -> Response:
    principal = await current_person()
    return json_response(await services().direct.relationships(principal.user_id))


@blueprint.post("/users/@me/relationships")
async def relate_by_username() -> Response:
    principal = await current_person()
    body = await parse_body(RelateByName)
    await services().direct.relate_by_username(principal.user_id, body.username)
    return no_content()


@blueprint.put("/users/@me/relationships/<user_id>")
async def relate(user_id: str) -> Response:
    principal = await current_person()
    body = await parse_body(Relate)
    await services().direct.relate(principal.user_id, snowflake(user_id, UnknownUser), body.type)
    return no_content()


@blueprint.delete("/users/@me/relationships/<user_id>")
async def unrelate(user_id: str) -> Response:
    principal = await current_person()
    await services().direct.unrelate(principal.user_id, snowflake(user_id, UnknownUser))
    return no_content()
