"""People and bots: the rules their fields follow, and their Discord wire shape."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.errors import FormCheck

USERNAME_MIN, USERNAME_MAX = 2, 32
GLOBAL_NAME_MAX = 32
PASSWORD_MIN, PASSWORD_MAX = 8, 128
EMAIL_MAX = 254  # RFC 5321's limit on a forward path
BIO_MAX = 190  # Discord's "About me" limit
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # decoded avatar or banner; the JSON body limit covers base64

# Discord's current usernames: lower case letters, digits, "_" and ".", never "..".
_USERNAME = re.compile(r"^[a-z0-9_.]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_DATA_URI = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,(.*)$", re.DOTALL)

# The first bytes each accepted image type starts with, so a data URI cannot lie about its type.
_IMAGE_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    global_name: str | None
    avatar: str | None
    banner: str | None
    accent_color: int | None
    bio: str
    locale: str
    flags: int
    public_flags: int
    bot: bool
    system: bool
    mfa_enabled: bool
    verified: bool
    email: str | None

    def to_wire(self, *, private: bool = False) -> dict[str, object]:
        """Discord's user object. `private` (the user's own view) adds email and verified."""
        wire: dict[str, object] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "bot": self.bot,
            "system": self.system,
            "mfa_enabled": self.mfa_enabled,
            "banner": self.banner,
            "accent_color": self.accent_color,
            "locale": self.locale,
            "flags": self.flags,
            "public_flags": self.public_flags,
            "bio": self.bio,
        }
        if private:
            wire["email"] = self.email
            wire["verified"] = self.verified
        return wire


def normalise_username(username: str) -> str:
    return username.strip().lower()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_username(check: FormCheck, username: str, field: str = "username") -> None:
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        check.fail(
            field,
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between {USERNAME_MIN} and {USERNAME_MAX} in length.",
        )
    elif not _USERNAME.match(username):
        check.fail(
            field,
            "USERNAME_INVALID_CHARACTERS",
            "Please only use numbers, letters, underscores _ , or periods.",
        )
    elif ".." in username:
        check.fail(field, "USERNAME_INVALID_CHARACTERS", "Usernames cannot contain '..'.")


def check_email(check: FormCheck, email: str) -> None:
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        check.fail("email", "EMAIL_TYPE_INVALID_EMAIL", "Not a well formed email address.")


def check_password(check: FormCheck, password: str, field: str = "password") -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        check.fail(
            field,
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between {PASSWORD_MIN} and {PASSWORD_MAX} in length.",
        )


def check_global_name(check: FormCheck, global_name: str | None) -> None:
    if global_name is not None and not 1 <= len(global_name.strip()) <= GLOBAL_NAME_MAX:
        check.fail(
            "global_name",
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {GLOBAL_NAME_MAX} in length.",
        )


def check_bio(check: FormCheck, bio: str) -> None:
    if len(bio) > BIO_MAX:
        check.fail("bio", "BASE_TYPE_MAX_LENGTH", f"Must be {BIO_MAX} or fewer in length.")


@dataclass(frozen=True, slots=True)
class Image:
    content_type: str
    data: bytes

    @property
    def hash(self) -> str:
        """32 hex digits like Discord's image hashes; animated GIFs start with `a_`."""
        digest = hashlib.blake2b(self.data, digest_size=16).hexdigest()
        return f"a_{digest}" if self.content_type == "image/gif" else digest


def image_type_of(data: bytes) -> str | None:
    """The image type `data` starts like, by its magic bytes; None when it is no image we take."""
    kind = next((kind for kind, starts in _IMAGE_MAGIC.items() if data.startswith(starts)), None)
    # RIFF starts WAV and AVI files too; a WebP says so at bytes 8 to 11.
    if kind == "image/webp" and data[8:12] != b"WEBP":
        return None
    return kind


def parse_image(check: FormCheck, field: str, data_uri: str) -> Image | None:
    """The image in a `data:image/…;base64,…` URI, or None after recording why it is not one."""
    match = _DATA_URI.match(data_uri)
    if match is None:
        check.fail(
            field, "IMAGE_INVALID", "Invalid image data: use a PNG, JPEG, GIF or WebP data URI."
        )
        return None
    content_type, encoded = match[1], match[2]
    if len(encoded) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        check.fail(
            field, "BINARY_TYPE_MAX_SIZE", f"File cannot be larger than {MAX_IMAGE_BYTES} bytes."
        )
        return None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        check.fail(field, "IMAGE_INVALID", "Invalid image data: the base64 is malformed.")
        return None
    if image_type_of(data) != content_type:
        check.fail(field, "IMAGE_INVALID", f"Invalid image data: the data is not {content_type}.")
        return None
    return Image(content_type, data)
