"""Discord's rate limits as one middleware: a global limit per token, a bucket per route, and
Discord's headers on every answer. See Discord's "Rate Limits" topic for the header meanings."""

from __future__ import annotations

import hashlib
import math

from quart import Quart, Response, g, request

from api.responses import json_response
from api.services import services
from core.domain.ratelimits import Decision, Limit
from core.errors import RateLimited

# Discord's global limit: 50 requests per second per token.
GLOBAL_LIMIT = Limit(50, 1.0)
# Routes with no bucket below.
DEFAULT_LIMIT = Limit(50, 1.0)

# Buckets by endpoint (blueprint.function, without the API version). Auth routes count per
# client address: they are how credentials are guessed.
_ROUTE_LIMITS: dict[str, tuple[Limit, bool]] = {
    "auth.register": (Limit(5, 60.0), True),
    "auth.login": (Limit(20, 60.0), True),
    "auth.refresh": (Limit(30, 60.0), True),
    "auth.logout": (Limit(30, 60.0), True),
    # Discord's message bucket: 5 per 5 s per user, per channel (the channel is the major id).
    "messages.create_message": (Limit(5, 5.0), False),
    # Discord's webhook bucket: 5 per 2 s per webhook id and token (an incoming webhook's, or
    # an application's id and one interaction's token for its follow-ups), shared by whoever
    # holds the token.
    "webhooks.execute": (Limit(5, 2.0), False),
}
# Routes a token in the path authenticates (incoming webhooks, interaction callbacks and
# follow-ups) carry no Authorization, so they count against no caller's global limit:
# Discord's interaction endpoints "are not bound to the bot's Global Rate Limit". Not
# Discord's: this bound per address, far above any bot's rate, so that made-up tokens (each
# its own bucket) cannot be sent without end.
TOKEN_ROUTES_PER_ADDRESS = Limit(1000, 1.0)
# Logins per account, whatever the address, so one account cannot be guessed at from many.
LOGIN_ACCOUNT_LIMIT = Limit(5, 60.0)

# Discord's clients retry a 429 only when a proxy says it answered; discord.py checks for Via.
_VIA = "1.1 trioxide"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _caller_key() -> str:
    """Who the request counts against: its token (hashed), or its address without one."""
    authorization = request.headers.get("Authorization")
    if authorization:
        return "token:" + _digest(authorization)
    return "address:" + (request.remote_addr or "unknown")


def _path_credential() -> str | None:
    """For a route a token in its path authenticates (`/webhooks/{id}/{token}...`,
    `/interactions/{id}/{token}/callback`): a digest of the id and the token, which names
    the bucket; the token itself is never kept or logged. None for any other route."""
    args = request.view_args
    if not args or "token" not in args:
        return None
    owner = args.get("webhook_id", args.get("interaction_id", ""))
    return "credential:" + _digest(f"{owner}:{args['token']}")


async def check_login_account(login: str) -> None:
    """Counts a login attempt against the account named; RateLimited when over."""
    if not services().settings.rate_limits:
        return
    decision = await services().rate_limits.hit(
        "login:" + _digest(login.strip().lower()), LOGIN_ACCOUNT_LIMIT
    )
    if not decision.allowed:
        raise RateLimited(decision.reset_after_s, scope="user", is_global=False)


# Blueprints served without limits: /metrics is scraped by the operator's Prometheus.
# The web client's files are fetched together on every page load, by people not yet signed in.
_UNLIMITED_BLUEPRINTS = frozenset({"metrics", "web"})


async def _before_request() -> None:
    if not services().settings.rate_limits or request.endpoint is None:
        return
    if request.blueprint in _UNLIMITED_BLUEPRINTS:
        return
    limits = services().rate_limits
    address = "address:" + (request.remote_addr or "unknown")
    credential = _path_credential()
    if credential is None:
        caller = _caller_key()
        overall = await limits.hit("global:" + caller, GLOBAL_LIMIT)
    else:  # the token's holders share the bucket, whoever and wherever they are
        caller = credential
        overall = await limits.hit("token-routes:" + address, TOKEN_ROUTES_PER_ADDRESS)
    if not overall.allowed:
        raise RateLimited(overall.reset_after_s, scope="global", is_global=True)
    route = request.endpoint.split(".", 1)[-1]
    limit, by_address = _ROUTE_LIMITS.get(route, (DEFAULT_LIMIT, False))
    if by_address:
        caller = address
    # Discord scopes buckets by their major parameter (guild, channel or webhook id; a path
    # token's credential stands for its webhook id).
    major = next(
        (
            str(request.view_args[name])
            for name in ("guild_id", "channel_id", "webhook_id")
            if credential is None and request.view_args and name in request.view_args
        ),
        "",
    )
    decision = await limits.hit(f"route:{route}:{major}:{caller}", limit)
    g.rate_limit = (route, decision)
    if not decision.allowed:
        raise RateLimited(decision.reset_after_s, scope="user", is_global=False)


async def rate_limit_headers(response: Response) -> Response:
    """Adds the route bucket's X-RateLimit-* headers, when the request had one. (Async on
    purpose: Quart-Trio runs a sync hook on a worker thread, a thread hop per request.)"""
    found: tuple[str, Decision] | None = g.get("rate_limit")
    if found is None:
        return response
    route, decision = found
    response.headers["X-RateLimit-Limit"] = str(decision.limit)
    response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
    response.headers["X-RateLimit-Reset"] = f"{decision.reset_s:.3f}"
    response.headers["X-RateLimit-Reset-After"] = f"{decision.reset_after_s:.3f}"
    response.headers["X-RateLimit-Bucket"] = _digest("bucket:" + route)[:16]
    return response


def too_many_requests(error: RateLimited) -> Response:
    """Discord's 429: its body, Retry-After, scope headers, and Via."""
    response = json_response(
        {
            "message": "You are being rate limited.",
            "retry_after": round(error.retry_after_s, 3),
            "global": error.is_global,
        },
        429,
    )
    response.headers["Retry-After"] = str(max(1, math.ceil(error.retry_after_s)))
    response.headers["X-RateLimit-Scope"] = error.scope
    response.headers["Via"] = _VIA
    if error.is_global:
        response.headers["X-RateLimit-Global"] = "true"
    return response


def install_rate_limits(app: Quart) -> None:
    app.before_request(_before_request)
    app.after_request(rate_limit_headers)
