"""Attachment downloads, at Discord's CDN-like path, for holders of a signed, unexpired link.

Links are handed out only inside message objects, to those who can read the channel; the
signature makes the link the capability, as on Discord."""

from __future__ import annotations

from urllib.parse import quote

from quart import Blueprint, Response, request

from api.params import snowflake
from api.services import services
from core.errors import UnknownChannel, UnknownMessage

blueprint = Blueprint("attachments", __name__)

# Shown in the browser; everything else downloads, so no upload can run as a page of ours.
_INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"})


@blueprint.get("/attachments/<channel_id>/<attachment_id>/<filename>")
async def download(channel_id: str, attachment_id: str, filename: str) -> Response:
    channel, attachment = (
        snowflake(channel_id, UnknownChannel),
        snowflake(attachment_id, UnknownMessage),
    )
    links = services().attachment_links
    valid = links.is_valid(
        channel, attachment, request.args.get("ex", ""), request.args.get("hm", "")
    )
    found = await links.attachment(channel, attachment) if valid else None
    if found is None:
        return Response(
            b"This content is no longer available.", status=404, content_type="text/plain"
        )
    stored, data = found
    response = Response(data, status=200, content_type=stored.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    disposition = "inline" if stored.content_type in _INLINE else "attachment"
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename*=UTF-8''{quote(stored.filename)}"
    )
    return response
