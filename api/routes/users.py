"""The current user and other users."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_principal
from api.forms import Form, NotYet, not_yet, parse_body
from api.params import snowflake
from api.responses import json_response
from api.services import services
from core.accounts import ProfileChanges
from core.errors import UnknownUser

blueprint = Blueprint("users", __name__, url_prefix="/users")


class EditCurrentUser(Form):
    username: str | None = None
    global_name: str | None = None
    avatar: str | None = None
    bio: str | None = None
    banner: str | None = None
    password: str | None = None
    new_password: str | None = None
    not_yet = not_yet(
        email=NotYet("Changing the email address is not supported yet."),
        accent_color=NotYet("Profile accent colours are not supported yet."),
        pronouns=NotYet("Pronouns are not supported yet.", inert=(None, "")),
    )


@blueprint.get("/@me")
async def get_current_user() -> Response:
    principal = await current_principal()
    user = await services().accounts.user(principal.user_id)
    return json_response(user.to_wire(private=True))


@blueprint.patch("/@me")
async def edit_current_user() -> Response:
    principal = await current_principal()
    body = await parse_body(EditCurrentUser)
    changes = ProfileChanges(given=frozenset(body.model_fields_set), **body.model_dump())
    user = await services().accounts.update_profile(
        principal.user_id, principal.session_id, changes
    )
    return json_response(user.to_wire(private=True))


@blueprint.get("/<user_id>")
async def get_user(user_id: str) -> Response:
    await current_principal()
    user = await services().accounts.user(snowflake(user_id, UnknownUser))
    return json_response(user.to_wire())
