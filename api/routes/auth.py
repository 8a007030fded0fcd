"""Registration, login and token refresh for people."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart import Blueprint, Response

from api.auth import current_person
from api.forms import Form, parse_body
from api.ratelimits import check_login_account
from api.responses import json_response, no_content
from api.services import services

if TYPE_CHECKING:
    from core.accounts import TokenPair

blueprint = Blueprint("auth", __name__, url_prefix="/auth")


class Register(Form):
    username: str
    email: str
    password: str
    global_name: str | None = None
    invite: str | None = None


class Login(Form):
    login: str
    password: str
    # Sent by Discord's own client; accepted and ignored.
    undelete: bool | None = None
    gift_code_sku_id: str | None = None
    login_source: str | None = None


class RefreshToken(Form):
    refresh_token: str


def _pair(pair: TokenPair) -> dict[str, object]:
    return {"token": pair.token, "refresh_token": pair.refresh_token, "expires_in": pair.expires_in}


@blueprint.post("/register")
async def register() -> Response:
    body = await parse_body(Register)
    user, pair = await services().accounts.register(
        username=body.username,
        email=body.email,
        password=body.password,
        global_name=body.global_name,
        invite=body.invite,
    )
    return json_response({**_pair(pair), "user": user.to_wire(private=True)}, 201)


@blueprint.post("/login")
async def login() -> Response:
    body = await parse_body(Login)
    await check_login_account(body.login)
    pair = await services().accounts.login(body.login, body.password)
    return json_response({**_pair(pair), "user_id": str(pair.user_id)})


@blueprint.post("/refresh")
async def refresh() -> Response:
    body = await parse_body(RefreshToken)
    pair = await services().accounts.refresh(body.refresh_token)
    return json_response({**_pair(pair), "user_id": str(pair.user_id)})


@blueprint.post("/logout")
async def logout() -> Response:
    body = await parse_body(RefreshToken)
    await services().accounts.logout(body.refresh_token)
    return no_content()


@blueprint.post("/logout-all")
async def logout_all() -> Response:
    principal = await current_person()
    await services().accounts.logout_all(principal.user_id)
    return no_content()
