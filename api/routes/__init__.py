"""Discord API v10 routes, mounted at /api/v10 and (as an alias) /api/v9."""

from __future__ import annotations

from quart import Blueprint

from api.routes import applications, auth, channels, guilds, invites, members, roles, users


def discord_api() -> Blueprint:
    routes = Blueprint("discord", __name__)
    for module in (auth, users, applications, guilds, channels, roles, members, invites):
        routes.register_blueprint(module.blueprint)
    return routes
