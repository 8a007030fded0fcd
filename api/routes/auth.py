"""Registration, login and token refresh for people."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify

from api.auth import current_person
from api.forms import Form, parse_body
from api.ratelimits import check_login_account
from api.services import services

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


def _tokens(status: int, body: dict[str, object]) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


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
    return _tokens(
        201,
        {
            "token": pair.token,
            "refresh_token": pair.refresh_token,
            "expires_in": pair.expires_in,
            "user": user.to_wire(private=True),
        },
    )


@blueprint.post("/login")
async def login() -> Response:
    body = await parse_body(Login)
    await check_login_account(body.login)
    pair = await services().accounts.login(body.login, body.password)
    return _tokens(
        200,
        {
            "token": pair.token,
            "refresh_token": pair.refresh_token,
            "expires_in": pair.expires_in,
            "user_id": str(pair.user_id),
        },
    )


@blueprint.post("/refresh")
async def refresh() -> Response:
    body = await parse_body(RefreshToken)
    pair = await services().accounts.refresh(body.refresh_token)
    return _tokens(
        200,
        {
            "token": pair.token,
            "refresh_token": pair.refresh_token,
            "expires_in": pair.expires_in,
            "user_id": str(pair.user_id),
        },
    )


@blueprint.post("/logout")
async def logout() -> Response:
    body = await parse_body(RefreshToken)
    await services().accounts.logout(body.refresh_token)
    return Response(status=204)


@blueprint.post("/logout-all")
async def logout_all() -> Response:
    principal = await current_person()
    await services().accounts.logout_all(principal.user_id)
    return Response(status=204)
