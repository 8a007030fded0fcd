"""The yardstick for the API: a bare Quart-Trio handler on hypercorn, nothing behind it.

Usage: python -m bench.bare_quart PORT   (serves POST /echo until killed)
"""

from __future__ import annotations

import sys

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import Response, request
from quart_trio import QuartTrio

app = QuartTrio("bare")


@app.post("/echo")
async def echo() -> Response:
    body = await request.get_json()
    return Response(b'{"ok": true, "size": %d}' % len(str(body)), content_type="application/json")


def main() -> None:
    config = Config()
    config.bind = [f"127.0.0.1:{sys.argv[1]}"]
    config.accesslog = None
    trio.run(serve, app, config)


if __name__ == "__main__":
    main()
