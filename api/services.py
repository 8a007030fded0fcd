"""What a request handler may use, set once when the app is built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from quart import current_app

if TYPE_CHECKING:
    from core.config import Settings
    from core.store.database import Database
    from core.store.migrations import Migration


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    migrations: list[Migration]


_KEY = "trioxide"


def services() -> Services:
    """The services of the app handling the current request."""
    found: Services = current_app.extensions[_KEY]
    return found


def install(extensions: dict[str, object], found: Services) -> None:
    extensions[_KEY] = found
