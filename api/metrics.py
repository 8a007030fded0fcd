"""Metrics over HTTP: `GET /metrics` for Prometheus, and the REST latency histogram, timed by
an ASGI middleware from a request's arrival to the end of its answer.

The route label is the matched URL rule's template (`/api/v10/channels/<channel_id>`), never
the concrete path, so no id reaches a label; a request that matched no route is `unmatched`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from quart import Blueprint, Response, request

from core.metrics import CONTENT_TYPE, HTTP_REQUEST_DURATION, REGISTRY, HistogramChild

if TYPE_CHECKING:
    from hypercorn.typing import (
        ASGIFramework,
        ASGIReceiveCallable,
        ASGISendCallable,
        ASGISendEvent,
        Scope,
    )
    from quart import Quart

blueprint = Blueprint("metrics", __name__)

# Where the matched route's template is left in the ASGI scope for the middleware to read.
_ROUTE_KEY = "trioxide.route"
_UNMATCHED = "unmatched"
# Only these methods become label values; anything else a client sends is "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@blueprint.get("/metrics")
async def metrics() -> Response:
    """Every metric of this process, in Prometheus's text format. Unauthenticated, like
    /healthz: keep the API port private or filter /metrics at the proxy."""
    return Response(REGISTRY.render(), content_type=CONTENT_TYPE)


async def _note_route() -> None:
    # Runs first among the before-request hooks, after routing: url_rule is the match, if any.
    rule = request.url_rule
    if rule is not None:
        request.scope[_ROUTE_KEY] = rule.rule  # type: ignore[literal-required]  # (our own key)


class _Timed:
    """ASGI middleware observing each HTTP request's duration, route, method and status."""

    def __init__(self, app: ASGIFramework) -> None:
        self._app = app
        # (route, method, status) → histogram child: one dict lookup per request.
        self._children: dict[tuple[str, str, int], HistogramChild] = {}

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_noting_status(event: ASGISendEvent) -> None:
            nonlocal status
            if event["type"] == "http.response.start":
                status = event["status"]
            await send(event)

        try:
            await self._app(scope, receive, send_noting_status)
        except Exception:
            status = status or 500  # hypercorn answers 500 for an app that raised
            raise
        finally:
            # A request cut off before it was answered (client gone, shutdown) is not counted.
            if status:
                route = cast("str", scope.get(_ROUTE_KEY, _UNMATCHED))
                method = scope["method"]
                key = (route, method if method in _METHODS else "other", status)
                child = self._children.get(key)
                if child is None:
                    child = HTTP_REQUEST_DURATION.labels(key[0], key[1], str(status))
                    self._children[key] = child
                child.observe(time.perf_counter() - started)


def install_metrics(app: Quart) -> None:
    """Serves /metrics and times every request. Install before other before-request hooks,
    so a request they refuse (a 429) is still labelled with its route."""
    app.before_request(_note_route)
    app.register_blueprint(blueprint)
    app.asgi_app = _Timed(app.asgi_app)  # type: ignore[method-assign]  # (Quart's documented way)
