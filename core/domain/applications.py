"""Bot applications: their rules and Discord's application object."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.domain.users import User
    from core.errors import FormCheck

NAME_MIN, NAME_MAX = 2, 32
DESCRIPTION_MAX = 400

# The application flags an owner may set: the privileged-intent switches (Discord's
# GATEWAY_PRESENCE, GATEWAY_GUILD_MEMBERS, GATEWAY_MESSAGE_CONTENT and their _LIMITED forms).
SETTABLE_FLAGS = (1 << 12) | (1 << 13) | (1 << 14) | (1 << 15) | (1 << 18) | (1 << 19)

# Which flags (full or limited) grant each privileged intent: GUILD_PRESENCES (1 << 8),
# GUILD_MEMBERS (1 << 1), MESSAGE_CONTENT (1 << 15).
_INTENT_FLAGS = {
    1 << 8: (1 << 12) | (1 << 13),
    1 << 1: (1 << 14) | (1 << 15),
    1 << 15: (1 << 18) | (1 << 19),
}


def granted_privileged_intents(flags: int) -> int:
    """The privileged intents an application's flags let its bot ask for."""
    return sum(intent for intent, granting in _INTENT_FLAGS.items() if flags & granting)


@dataclass(frozen=True, slots=True)
class Application:
    id: int
    owner_id: int
    name: str
    description: str
    icon: str | None
    bot_public: bool
    bot_require_code_grant: bool
    flags: int
    verify_key: str

    def to_wire(self, owner: User, bot: User) -> dict[str, object]:
        """Discord's application object, with the keys bot libraries read directly."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": self.icon,
            "description": self.description,
            "summary": "",
            "type": None,
            "rpc_origins": [],
            "bot_public": self.bot_public,
            "bot_require_code_grant": self.bot_require_code_grant,
            "bot": bot.to_wire(),
            "owner": owner.to_wire(),
            "team": None,
            "verify_key": self.verify_key,
            "flags": self.flags,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": 0,
        }


def check_name(check: FormCheck, name: str) -> None:
    if not NAME_MIN <= len(name.strip()) <= NAME_MAX:
        check.fail(
            "name", "BASE_TYPE_BAD_LENGTH", f"Must be between {NAME_MIN} and {NAME_MAX} in length."
        )


def check_description(check: FormCheck, description: str) -> None:
    if len(description) > DESCRIPTION_MAX:
        check.fail(
            "description", "BASE_TYPE_MAX_LENGTH", f"Must be {DESCRIPTION_MAX} or fewer in length."
        )


def check_flags(check: FormCheck, flags: int) -> None:
    if flags < 0 or flags & ~SETTABLE_FLAGS:
        check.fail(
            "flags",
            "APPLICATION_FLAGS_INVALID",
            "Only the privileged-intent flags (1<<12 to 1<<15, 1<<18, 1<<19) can be set.",
        )


def bot_usernames(name: str, bot_id: int) -> tuple[str, str, str]:
    """Usernames for the bot of an application called `name`, to try in turn: its name in
    username characters; with part of its id when that is taken; with all of it (unique, as
    the id is) when that is taken too — part of an id repeats among a few thousand bots."""
    base = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_") or "bot"
    base = base[:32] if len(base) >= 2 else f"{base}_bot"
    return (
        base,
        f"{base[:25]}_{bot_id % 1_000_000:06d}",
        f"{base[: 31 - len(str(bot_id))]}_{bot_id}",
    )
