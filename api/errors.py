"""The one place errors become HTTP responses, in Discord's shape `{code, message[, errors]}`."""

from __future__ import annotations

import logging

from quart import Quart, Response, jsonify
from werkzeug.exceptions import HTTPException

_log = logging.getLogger(__name__)


def _error(status: int, message: str, code: int = 0) -> Response:
    response = jsonify({"message": message, "code": code})
    response.status_code = status
    return response


def install_error_handlers(app: Quart) -> None:
    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        # Discord answers unknown routes and methods as `{"message": "404: Not Found", "code": 0}`.
        status = error.code or 500
        return _error(status, f"{status}: {error.name}")

    @app.errorhandler(Exception)
    async def internal_error(error: Exception) -> Response:
        # Logged once here, at the boundary; nothing of the exception reaches the wire.
        _log.exception("unhandled error in request", extra={"error_type": type(error).__name__})
        return _error(500, "500: Internal Server Error")
