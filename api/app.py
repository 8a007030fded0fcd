"""Builds the Quart-Trio application: routes, rate limits, error rendering, services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart_trio import QuartTrio

from api import health, web_app
from api.errors import install_error_handlers
from api.forms import MAX_JSON_BYTES
from api.keepalive import install_body_limits
from api.metrics import install_metrics
from api.ratelimits import install_rate_limits
from api.routes import attachments, discord_api
from api.services import install

if TYPE_CHECKING:
    from core.services import Services


def create_app(found: Services) -> QuartTrio:
    app = QuartTrio("trioxide.api")
    # Uploads are the largest bodies; JSON bodies are capped lower by api.forms.
    app.config["MAX_CONTENT_LENGTH"] = max(
        MAX_JSON_BYTES, found.settings.max_upload_bytes + 1024 * 1024
    )
    install(app.extensions, found)
    install_error_handlers(app)
    install_metrics(app)  # first: a request refused by a limit still has its route
    install_body_limits(app)
    install_rate_limits(app)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(attachments.blueprint)
    app.register_blueprint(web_app.blueprint)
    routes = discord_api()
    app.register_blueprint(routes, url_prefix="/api/v10", name="v10")
    app.register_blueprint(routes, url_prefix="/api/v9", name="v9")
    return app
