"""Bot applications: create, edit, reset the bot's token, and the bot's own view."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_person, current_principal
from api.forms import Form, parse_body
from api.params import snowflake
from api.responses import json_response
from api.services import services
from core.errors import Unauthorized, UnknownApplication

blueprint = Blueprint("applications", __name__)


class CreateApplication(Form):
    name: str


class EditApplication(Form):
    name: str | None = None
    description: str | None = None
    flags: int | None = None


@blueprint.post("/applications")
async def create_application() -> Response:
    principal = await current_person()
    body = await parse_body(CreateApplication)
    view = await services().applications.create(principal.user_id, body.name)
    return json_response(view.to_wire(), 201)


@blueprint.patch("/applications/<application_id>")
async def edit_application(application_id: str) -> Response:
    principal = await current_person()
    body = await parse_body(EditApplication)
    view = await services().applications.update(
        snowflake(application_id, UnknownApplication),
        principal.user_id,
        name=body.name,
        description=body.description,
        flags=body.flags,
    )
    return json_response(view.to_wire())


@blueprint.post("/applications/<application_id>/bot/reset")
async def reset_bot_token(application_id: str) -> Response:
    principal = await current_person()
    token = await services().applications.reset_bot_token(
        snowflake(application_id, UnknownApplication), principal.user_id
    )
    return json_response({"token": token})


@blueprint.get("/oauth2/applications/@me")
@blueprint.get("/applications/@me")
async def current_application() -> Response:
    principal = await current_principal()
    if not principal.bot:
        raise Unauthorized("only a bot has a current application")
    view = await services().applications.of_bot(principal.user_id)
    return json_response(view.to_wire())
