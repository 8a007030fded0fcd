"""Guild members and bans: their rules and Discord's wire shapes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.domain.timestamps import iso, iso_or_none

if TYPE_CHECKING:
    from core.domain.users import User

NICK_MAX = 32
MAX_TIMEOUT = dt.timedelta(days=28)  # Discord's longest timeout
DELETE_MESSAGE_SECONDS_MAX = 7 * 24 * 3600  # a ban deletes at most a week of messages
BULK_BAN_MAX = 200
INVITE_MAX_AGE_S = 7 * 24 * 3600
INVITE_MAX_USES = 100


@dataclass(frozen=True, slots=True)
class Member:
    guild_id: int
    user: User
    nick: str | None
    role_ids: list[int]
    joined_at: dt.datetime
    deaf: bool
    mute: bool
    flags: int
    communication_disabled_until: dt.datetime | None

    def to_wire(self) -> dict[str, object]:
        """Discord's guild member object."""
        return {
            "user": self.user.to_wire(),
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(role_id) for role_id in self.role_ids],
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": self.deaf,
            "mute": self.mute,
            "flags": self.flags,
            "pending": False,
            "communication_disabled_until": iso_or_none(self.communication_disabled_until),
        }

    def to_event(self) -> dict[str, object]:
        return self.to_wire() | {"guild_id": str(self.guild_id)}


def ban_wire(user: User, reason: str | None) -> dict[str, object]:
    return {"reason": reason, "user": user.to_wire()}
