"""Bot applications: create, edit, reset the bot's token, and the bot's own view."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_person, current_principal
from api.forms import Form, parse_body
from api.responses import json_response
from api.services import services
from core.errors import Unauthorized, UnknownApplication

blueprint = Blueprint("applications", __name__)

_MAX_SNOWFLAKE = 2**63 - 1


class CreateApplication(Form):
    name: str


class EditApplication(Form):
    name: str | None = None
    description: str | None = None
    flags: int | None = None


def _application_id(raw: str) -> int:
    if not raw.isdigit() or int(raw) > _MAX_SNOWFLAKE:
        raise UnknownApplication(raw)
    return int(raw)


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
        _application_id(application_id),
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
        _application_id(application_id), principal.user_id
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
