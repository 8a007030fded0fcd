"""Request bodies and keep-alive: a body over the limit is refused before a byte of it is read,
and a body the route answered without reading is read to its end before the answer goes out.

Hypercorn keeps a connection for the next request only if the request's body was wholly
received when the response ended; otherwise it closes the connection, with the rest of the body
unread, and the client (still sending) finds it reset with no answer (issue #18: a 1 MB POST
answered 401). So the rest of a body within the limit is drained first, bounded in time; one
that cannot be (too large, too slow) is answered with `Connection: close`, said out loud.
Hypercorn also stops reading a connection for good once ten chunks wait for an application that
has returned; `DrainUnread` goes on reading them, so that connection's task can end, and
shields the application's sends (see there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
from quart import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from core.errors import PayloadTooLarge

if TYPE_CHECKING:
    from hypercorn.typing import (
        ASGIReceiveCallable,
        ASGIReceiveEvent,
        ASGISendCallable,
        ASGISendEvent,
        Scope,
    )
    from quart import Quart, Response

# Reading the rest of a body this size costs less than the client's next connection; a larger
# one (a route's limit is 8 MiB for JSON, more for uploads) is not worth receiving only to drop.
DRAIN_MAX_BYTES = 2 * 1024 * 1024
# A client sends the body it declared without pausing; one that takes longer than this for the
# rest of it after the answer is ready is stalling, and loses the connection instead.
DRAIN_TIMEOUT_S = 10.0


def install_body_limits(app: Quart) -> None:
    @app.before_request
    async def refuse_oversized() -> None:
        limit: int = current_app.config["MAX_CONTENT_LENGTH"]
        if (request.content_length or 0) > limit:
            raise PayloadTooLarge(limit)

    @app.after_request
    async def drain_unread(response: Response) -> Response:
        drained = False
        # A chunked body declares no length: it is drained up to the app's limit (past it,
        # Quart raises RequestEntityTooLarge), and within the time all the same.
        declared = request.content_length
        if declared is None or declared <= DRAIN_MAX_BYTES:
            with trio.move_on_after(DRAIN_TIMEOUT_S):
                try:
                    await request.body  # at once if already read
                    drained = True
                except RequestEntityTooLarge:
                    pass
        if not drained:
            response.headers["Connection"] = "close"
        return response


class DrainUnread:
    """The ASGI application, wrapped so that the request's events are read to the end (its
    last body chunk, or the disconnect that follows a closed connection) after it returns."""

    def __init__(self, app: Quart) -> None:
        self._app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        ended = False

        async def tracked() -> ASGIReceiveEvent:
            nonlocal ended
            event = await receive()
            if event["type"] == "http.disconnect" or (
                event["type"] == "http.request" and not event.get("more_body", False)
            ):
                ended = True
            return event

        async def shielded(event: ASGISendEvent) -> None:
            # When the answer ends a connection, hypercorn closes it from inside this send,
            # after handing the app http.disconnect; Quart-Trio then cancels the request's
            # nursery, and unshielded that cancellation lands in hypercorn's close: the socket
            # stayed open and the client waited forever. Hypercorn shields its writes too.
            with trio.CancelScope(shield=True):
                await send(event)

        await self._app(scope, tracked, shielded)
        while not ended:
            await tracked()
