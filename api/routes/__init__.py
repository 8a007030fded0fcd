"""Discord API v10 routes, mounted at /api/v10 and (as an alias) /api/v9."""

from __future__ import annotations

from quart import Blueprint

from api.routes import (
    applications,
    auth,
    channels,
    commands,
    direct,
    gateway,
    guilds,
    interactions,
    invites,
    members,
    messages,
    roles,
    users,
    voice_states,
    webhooks,
)


def discord_api() -> Blueprint:
    routes = Blueprint("discord", __name__)
    modules = (
        auth,
        users,
        applications,
        commands,
        guilds,
        channels,
        roles,
        members,
        voice_states,
        invites,
        messages,
        interactions,
        direct,
        webhooks,
        gateway,
    )
    for module in modules:
        routes.register_blueprint(module.blueprint)
    return routes
