"""Where the gateway is: `GET /gateway` for anyone, `GET /gateway/bot` for bots."""

from __future__ import annotations

from quart import Blueprint, Response

from api.auth import current_principal
from api.responses import json_response
from api.services import services
from core.errors import Unauthorized

blueprint = Blueprint("gateway", __name__)

# Our IDENTIFY budget, in Discord's shape: as many starts as Discord's default.
_SESSION_STARTS = 1000
_DAY_MS = 86_400_000


def _url() -> str:
    settings = services().settings
    return settings.public_gateway_url or f"ws://{settings.gateway_addr}"


@blueprint.get("/gateway")
async def gateway() -> Response:
    return json_response({"url": _url()})


@blueprint.get("/gateway/bot")
async def gateway_bot() -> Response:
    principal = await current_principal()
    if not principal.bot:
        raise Unauthorized("a bot route")
    return json_response(
        {
            "url": _url(),
            "shards": await services().sessions.recommended_shards(principal.user_id),
            "session_start_limit": {
                "total": _SESSION_STARTS,
                "remaining": _SESSION_STARTS,
                "reset_after": _DAY_MS,
                "max_concurrency": 1,
            },
        }
    )
