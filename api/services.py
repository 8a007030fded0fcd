"""The services a request handler uses, installed once when the app is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart import current_app

if TYPE_CHECKING:
    from core.services import Services

_KEY = "trioxide"


def services() -> Services:
    """The services of the app handling the current request."""
    found: Services = current_app.extensions[_KEY]
    return found


def install(extensions: dict[str, object], found: Services) -> None:
    extensions[_KEY] = found
