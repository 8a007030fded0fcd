"""Builds the Quart-Trio application: routes, error rendering, services."""

from __future__ import annotations

from quart_trio import QuartTrio

from api import health
from api.errors import install_error_handlers
from api.services import Services, install


def create_app(found: Services) -> QuartTrio:
    app = QuartTrio("trioxide.api")
    install(app.extensions, found)
    install_error_handlers(app)
    app.register_blueprint(health.blueprint)
    return app
