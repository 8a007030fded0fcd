"""The web client's files (api/web/), served at /app as any third-party client's would be.

The client is plain ES modules: no build step, so `make run` on a fresh machine serves it as
committed. Files are read and gzipped once at start-up (they are small and fixed while the
process lives); every answer carries a Content-Security-Policy that forbids inline script and
every third-party origin, so injected markup could neither run nor call out."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from quart import Blueprint, Response, redirect, request

from api.services import services

if TYPE_CHECKING:
    from werkzeug.wrappers import Response as WerkzeugResponse

    from core.config import Settings

WEB_DIR = Path(__file__).parent / "web"
INDEX = "index.html"

blueprint = Blueprint("web", __name__)

# Each answer's type by extension; the client only uses these.
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


@dataclasses.dataclass(frozen=True)
class WebFile:
    body: bytes
    gzipped: bytes
    content_type: str
    etag: str


def load_web_files(root: Path = WEB_DIR) -> dict[str, WebFile]:
    """Every file under `root` by its path relative to it ("main.js", "views/x.js")."""
    found: dict[str, WebFile] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        body = path.read_bytes()
        kind = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        found[path.relative_to(root).as_posix()] = WebFile(
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0),
            content_type=kind or "application/octet-stream",
            etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"',
        )
    return found


def content_security_policy(settings: Settings) -> str:
    """Same-origin only, plus the two other origins the client must reach: the gateway's
    WebSocket (its own port) and the public URL that attachment links are signed for."""
    gateway = settings.public_gateway_url or f"ws://{settings.gateway_addr}"
    connect = ["'self'", _origin(gateway)]
    images = ["'self'", "blob:", "data:", _origin(settings.public_url)]
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {' '.join(images)}",
            f"media-src {' '.join(images)}",
            f"connect-src {' '.join(connect)}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


_files: dict[str, WebFile] | None = None


def _web_files() -> dict[str, WebFile]:
    global _files  # read once per process: the files do not change while it serves
    if _files is None:
        _files = load_web_files()
    return _files


@blueprint.get("/")
async def root() -> WerkzeugResponse:
    return redirect("/app", 302)


@blueprint.get("/app")
@blueprint.get("/app/")
@blueprint.get("/app/<path:path>")
async def app_file(path: str = "") -> Response:
    files = _web_files()
    found = files.get(path)
    if found is None:
        # Client-side routes (/app/invite/<code>, /app/channels/…) are the page itself; a
        # missing file (it has an extension) is a plain 404.
        if "." in path.rsplit("/", 1)[-1]:
            return Response("404: Not Found", 404, content_type="text/plain; charset=utf-8")
        found = files[INDEX]
    return _answer(found)


def _answer(found: WebFile) -> Response:
    headers = {
        "Content-Security-Policy": content_security_policy(services().settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # Revalidated on each load (a 304 costs no body): an upgrade shows at once.
        "Cache-Control": "no-cache",
        "ETag": found.etag,
        "Vary": "Accept-Encoding",
    }
    if found.etag.strip('"') in request.if_none_match:
        return Response(b"", 304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(found.gzipped, 200, headers=headers, content_type=found.content_type)
    return Response(found.body, 200, headers=headers, content_type=found.content_type)
