"""Attachments' signed links: made for every message view, checked when a file is fetched."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from core.domain.attachments import Attachment, link_is_valid, signed_url
from core.store import messages as store

if TYPE_CHECKING:
    from core.domain.tokens import JwtKeys
    from core.store.database import Database
    from core.store.objects import ObjectStore


class AttachmentLinks:
    def __init__(self, db: Database, objects: ObjectStore, keys: JwtKeys, public_url: str) -> None:
        self._db = db
        self._objects = objects
        self._keys = keys
        self._public_url = public_url

    def link(self, attachment: Attachment) -> str:
        """A signed link to an attachment's file."""
        secret = self._keys.get(self._keys.signing_kid)
        assert secret is not None  # the signing key is always listed
        return signed_url(self._public_url, secret, attachment, int(time.time()))

    def is_valid(self, channel_id: int, attachment_id: int, ex: str, hm: str) -> bool:
        """Whether a link to an attachment is one this server signed and has not expired."""
        secrets = [secret for _, secret in self._keys.keys]
        return link_is_valid(secrets, channel_id, attachment_id, ex, hm, int(time.time()))

    async def attachment(
        self, channel_id: int, attachment_id: int
    ) -> tuple[Attachment, bytes] | None:
        """The attachment and its bytes, for a link already checked with is_valid."""
        found = await self._db.run(lambda c: store.attachment_in(c, channel_id, attachment_id))
        if found is None:
            return None
        data = await self._objects.get(found.object_key)
        return None if data is None else (found, data)
