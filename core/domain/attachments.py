"""Attachments: what may be uploaded, and Discord-style signed, expiring links to them."""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from core.domain.users import image_type_of

if TYPE_CHECKING:
    from core.errors import FormCheck

MAX_FILES = 10
FILENAME_MAX = 1024
LINK_TTL_S = 24 * 3600  # Discord's attachment links last a day
DESCRIPTION_MAX = 1024
# Types whose bytes are checked: clients render these inline, so a lie matters.
_CHECKED_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as received: its part index (the `id` in payload_json's attachments)."""

    index: int
    filename: str
    declared_type: str | None
    data: bytes
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    id: int
    message_id: int
    channel_id: int
    filename: str
    description: str | None
    content_type: str
    size: int
    object_key: str

    def to_wire(self, url: str) -> dict[str, object]:
        wire: dict[str, object] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": url,
            "proxy_url": url,
            "content_type": self.content_type,
        }
        if self.description is not None:
            wire["description"] = self.description
        return wire


def content_type(upload: Upload) -> str:
    """What the file is: the declared type unless generic, else what its name says."""
    declared = (upload.declared_type or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream":
        return declared
    guessed, _ = mimetypes.guess_type(upload.filename)
    return guessed or "application/octet-stream"


def check_uploads(check: FormCheck, uploads: list[Upload], max_bytes: int) -> None:
    """Count, names, total size, and images that are what they say they are."""
    if len(uploads) > MAX_FILES:
        check.fail("files", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length.")
    if sum(len(u.data) for u in uploads) > max_bytes:
        check.fail(
            "files",
            "BINARY_TYPE_MAX_SIZE",
            f"Files cannot be larger than {max_bytes} bytes in all.",
        )
    for upload in uploads:
        field = f"files[{upload.index}]"
        name = upload.filename
        if not name or len(name) > FILENAME_MAX or "/" in name or "\\" in name or "\x00" in name:
            check.fail(
                field, "FILENAME_INVALID", "A file needs a plain name of at most 1024 characters."
            )
        if upload.description is not None and len(upload.description) > DESCRIPTION_MAX:
            check.fail(
                field,
                "BASE_TYPE_MAX_LENGTH",
                f"Descriptions are {DESCRIPTION_MAX} characters at most.",
            )
        kind = content_type(upload)
        if kind in _CHECKED_IMAGES and image_type_of(upload.data) != kind:
            check.fail(
                field,
                "CONTENT_TYPE_INVALID",
                f"The file is not the {kind} its name or type says.",
            )


def signature(secret: bytes, channel_id: int, attachment_id: int, expires: int) -> str:
    message = f"{channel_id}/{attachment_id}/{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def signed_url(base: str, secret: bytes, attachment: Attachment, now_s: int) -> str:
    """Discord's link shape: …/attachments/{channel}/{id}/{name}?ex=…&is=…&hm=… (hex times)."""
    expires = now_s + LINK_TTL_S
    mac = signature(secret, attachment.channel_id, attachment.id, expires)
    name = quote(attachment.filename, safe="")
    path = f"{base}/attachments/{attachment.channel_id}/{attachment.id}/{name}"
    return f"{path}?ex={expires:x}&is={now_s:x}&hm={mac}"


def link_is_valid(
    secrets: list[bytes], channel_id: int, attachment_id: int, ex: str, hm: str, now_s: int
) -> bool:
    try:
        expires = int(ex, 16)
    except ValueError:
        return False
    if expires < now_s or expires > now_s + LINK_TTL_S + 60:
        return False
    return any(
        hmac.compare_digest(signature(s, channel_id, attachment_id, expires), hm) for s in secrets
    )
