"""Serves the API over HTTP with hypercorn's Trio worker."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from api.app import create_app
from api.keepalive import DrainUnread

if TYPE_CHECKING:
    from core.services import Services

_log = logging.getLogger(__name__)


async def serve_api(
    found: Services,
    shutdown: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serves until `shutdown` is set, then lets in-flight requests finish within the grace
    period. Reports the bound URLs through `task_status` once it is listening."""
    config = Config()
    config.bind = [str(found.settings.api_addr)]
    config.graceful_timeout = found.settings.shutdown_grace_s
    config.accesslog = None  # access lines would carry client addresses
    config.errorlog = logging.getLogger("hypercorn.error")
    app = DrainUnread(create_app(found))

    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(
            partial(serve, app, config, shutdown_trigger=shutdown.wait)
        )
        _log.info("api listening", extra={"urls": urls})
        task_status.started(urls)
