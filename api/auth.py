"""Who is calling: `Authorization: Bot <token>` for bots; `Bearer <jwt>` or the bare JWT for
people. A bot token presented as a JWT, or a JWT as a bot token, is simply not valid."""

from __future__ import annotations

from dataclasses import dataclass

from quart import g, request

from api.services import services
from core.errors import Unauthorized


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    session_id: int | None  # the login an access token came from; None for bots
    bot: bool


async def current_principal() -> Principal:
    """The caller, resolved once per request; Unauthorized if the credentials are not valid."""
    found: Principal | None = g.get("principal")
    if found is not None:
        return found
    header = request.headers.get("Authorization", "").strip()
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme == "Bot" and credential:
        bot_id = await services().applications.bot_for_token(credential)
        if bot_id is None:
            raise Unauthorized("unknown bot token")
        found = Principal(bot_id, None, bot=True)
    else:
        token = credential if scheme == "Bearer" else header
        if not token or " " in token:
            raise Unauthorized("no credentials")
        claims = await services().accounts.verify_access(token)
        found = Principal(claims.user_id, claims.session_id, bot=False)
    g.principal = found
    return found


async def current_person() -> Principal:
    """The caller, who must be a person (logged in with a password), not a bot."""
    principal = await current_principal()
    if principal.bot:
        raise Unauthorized("bots cannot use this route")
    return principal
