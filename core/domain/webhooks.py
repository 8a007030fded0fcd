"""Incoming webhooks: their rules, their tokens, and Discord's webhook object. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.errors import FormCheck

INCOMING = 1  # Discord's webhook type 1; followers (2) and applications' (3) are not stored
NAME_MAX = 80
MAX_PER_CHANNEL = 15  # Discord's limit (30007)
SALT_BYTES = 16
# Discord refuses these in a webhook's name, so nobody impersonates the platform.
_FORBIDDEN_NAMES = ("clyde", "discord")
TOKEN_MAX = 100  # a longer path segment is no token of ours: refused before any work


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    type: int
    guild_id: int
    channel_id: int
    user_id: int | None  # who created it
    application_id: int | None  # the creating bot's application: its executes may be interactive
    name: str
    avatar: str | None
    token_salt: bytes
    token_kid: str

    def to_wire(
        self, *, token: str | None, user: dict[str, object] | None, public_url: str
    ) -> dict[str, object]:
        """Discord's webhook object. `token` and `url` only for those who may see them;
        `user` (its creator) only with authentication, as Discord does."""
        wire: dict[str, object] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "channel_id": str(self.channel_id),
            "name": self.name,
            "avatar": self.avatar,
            "application_id": None if self.application_id is None else str(self.application_id),
        }
        if user is not None:
            wire["user"] = user
        if token is not None:
            wire["token"] = token
            wire["url"] = f"{public_url.rstrip('/')}/api/v10/webhooks/{self.id}/{token}"
        return wire

    def audited(self) -> dict[str, object]:
        """The keys Discord's audit log records of a webhook."""
        return {
            "name": self.name,
            "type": self.type,
            "channel_id": str(self.channel_id),
            "avatar_hash": self.avatar,
        }


def token_for(secret: bytes, webhook_id: int, salt: bytes) -> str:
    """The webhook's token: an HMAC of its id and salt under the server's secret, so it need
    not be stored and can still be shown again. 68 URL-safe characters, like Discord's."""
    digest = hmac.new(secret, f"webhook:{webhook_id}:".encode() + salt, hashlib.sha512).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:68]


def token_matches(secret: bytes, webhook_id: int, salt: bytes, given: str) -> bool:
    """Whether `given` is the webhook's token, compared in constant time."""
    return hmac.compare_digest(token_for(secret, webhook_id, salt).encode(), given.encode())


def check_name(check: FormCheck, name: str, field: str = "name") -> str:
    """The name as stored; Discord's rules: 1 to 80 characters, no "clyde" or "discord"."""
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        check.fail(field, "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {NAME_MAX} in length.")
    elif any(word in name.lower() for word in _FORBIDDEN_NAMES):
        check.fail(
            field,
            "WEBHOOK_INVALID_NAME",
            'Webhook names cannot contain "clyde" or "discord".',
        )
    return name


def image_hash(data: bytes) -> str:
    """An avatar's hash: the name clients build its CDN path from."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
