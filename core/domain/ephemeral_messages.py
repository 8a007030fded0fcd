"""Ephemeral messages (flag 64): an interaction's answer that only its invoker sees. They are
never in a channel's history, search, pins or reactions, so they are kept apart from messages,
and shown only through the invoker's gateway sessions and the interaction's token. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.domain.messages import created_at
from core.domain.timestamps import iso, iso_or_none

if TYPE_CHECKING:
    import datetime as dt


@dataclass(slots=True)
class EphemeralMessage:
    id: int
    interaction_id: int
    viewer_id: int
    channel_id: int
    guild_id: int | None
    author_id: int  # the application's bot user (its id is the application's)
    type: int
    content: str
    flags: int
    embeds: list[dict[str, object]]
    components: list[dict[str, object]]
    interaction_metadata: dict[str, object]
    edited_at: dt.datetime | None

    def to_wire(self, author: dict[str, object]) -> dict[str, object]:
        """Discord's message object, as the interaction's webhook shows it."""
        wire: dict[str, object] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": author,
            "content": self.content,
            "timestamp": iso(created_at(self.id)),
            "edited_timestamp": iso_or_none(self.edited_at),
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": self.embeds,
            "pinned": False,
            "type": self.type,
            "flags": self.flags,
            "components": self.components,
            "webhook_id": str(self.author_id),
            "application_id": str(self.author_id),
            "interaction_metadata": self.interaction_metadata,
        }
        if self.guild_id is not None:
            wire["guild_id"] = str(self.guild_id)
        return wire
