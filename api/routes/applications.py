"""Bot applications: create, edit, reset the bot's token, and the bot's own view."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_person, current_principal
from api.forms import Form, NotYet, not_yet, parse_body
from api.params import snowflake
from api.responses import json_response
from api.services import services
from core.errors import Unauthorized, UnknownApplication

blueprint = Blueprint("applications", __name__)


_IMAGES = NotYet("Application images are not supported yet.")
_INSTALL = NotYet("Install settings are not supported yet.")
_EVENT_WEBHOOKS = NotYet("Event webhooks are not supported yet.")


class CreateApplication(Form):
    name: str


class EditCurrentApplication(Form):
    """Discord's Edit Current Application body: what Trioxide stores is honoured; the rest is
    refused unless it asks for what every application here has."""

    description: str | None = None
    flags: int | None = None
    not_yet = not_yet(
        icon=_IMAGES,
        cover_image=_IMAGES,
        # Interactions reach bots over the gateway here; there is no outgoing HTTP.
        interactions_endpoint_url=NotYet("Interaction endpoint URLs are not supported yet."),
        tags=NotYet("Application tags are not supported yet.", inert=(None, [])),
        custom_install_url=_INSTALL,
        install_params=_INSTALL,
        integration_types_config=_INSTALL,
        role_connections_verification_url=NotYet("Linked roles are not supported yet."),
        event_webhooks_url=_EVENT_WEBHOOKS,
        event_webhooks_status=NotYet(_EVENT_WEBHOOKS.message, inert=(None, 1)),
        event_webhooks_types=NotYet(_EVENT_WEBHOOKS.message, inert=(None, [])),
    )


class EditApplication(EditCurrentApplication):
    name: str | None = None


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


async def _current_bot() -> int:
    principal = await current_principal()
    if not principal.bot:
        raise Unauthorized("only a bot has a current application")
    return principal.user_id


@blueprint.get("/oauth2/applications/@me")
@blueprint.get("/applications/@me")
async def current_application() -> Response:
    view = await services().applications.of_bot(await _current_bot())
    return json_response(view.to_wire())


@blueprint.patch("/applications/@me")
async def edit_current_application() -> Response:
    bot_id = await _current_bot()
    body = await parse_body(EditCurrentApplication)
    view = await services().applications.update_own(
        bot_id, description=body.description, flags=body.flags
    )
    return json_response(view.to_wire())
