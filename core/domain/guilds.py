"""Guilds, roles, channels and overwrites: their rules and Discord's wire shapes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.domain.permissions import ALL_PERMISSIONS, Permission
from core.domain.snowflakes import parse_decimal

if TYPE_CHECKING:
    from core.errors import FormCheck

P = Permission

NAME_MIN, NAME_MAX = 2, 100  # guild names
CHANNEL_NAME_MIN, CHANNEL_NAME_MAX = 1, 100
TOPIC_MAX = 1024
ROLE_NAME_MAX = 100
MAX_ROLES = 250  # Discord's per-guild limit
MAX_CHANNELS = 500  # Discord's per-guild limit
RATE_LIMIT_PER_USER_MAX = 21600  # slowmode, seconds
MAX_COLOR = 0xFFFFFF

# What @everyone may do in a new guild, as Discord sets it.
DEFAULT_EVERYONE_PERMISSIONS = int(
    P.CREATE_INSTANT_INVITE
    | P.CHANGE_NICKNAME
    | P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.SEND_MESSAGES_IN_THREADS
    | P.CREATE_PUBLIC_THREADS
    | P.CREATE_PRIVATE_THREADS
    | P.EMBED_LINKS
    | P.ATTACH_FILES
    | P.ADD_REACTIONS
    | P.USE_EXTERNAL_EMOJIS
    | P.USE_EXTERNAL_STICKERS
    | P.MENTION_EVERYONE
    | P.READ_MESSAGE_HISTORY
    | P.USE_APPLICATION_COMMANDS
    | P.SEND_VOICE_MESSAGES
    | P.SEND_POLLS
    | P.USE_EXTERNAL_APPS
    | P.CONNECT
    | P.SPEAK
    | P.STREAM
    | P.USE_EMBEDDED_ACTIVITIES
    | P.USE_SOUNDBOARD
    | P.USE_EXTERNAL_SOUNDS
    | P.USE_VAD
    | P.REQUEST_TO_SPEAK
    | P.CREATE_GUILD_EXPRESSIONS
    | P.CREATE_EVENTS
)


class ChannelType(enum.IntEnum):
    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GROUP_DM = 3
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    GUILD_STAGE_VOICE = 13


GUILD_CHANNEL_TYPES = frozenset(
    {
        ChannelType.GUILD_TEXT,
        ChannelType.GUILD_VOICE,
        ChannelType.GUILD_CATEGORY,
        ChannelType.GUILD_ANNOUNCEMENT,
        ChannelType.GUILD_STAGE_VOICE,
    }
)
# Channels whose messages follow the text-channel permission rules.
TEXT_CHANNEL_TYPES = frozenset({ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT})
VOICE_CHANNEL_TYPES = frozenset({ChannelType.GUILD_VOICE, ChannelType.GUILD_STAGE_VOICE})


def unsigned(stored: int) -> int:
    """A permission set as the wire has it (0 to 2**64 - 1) from bigint's two's complement."""
    return stored & ALL_PERMISSIONS


def signed(bits: int) -> int:
    """A permission set as PostgreSQL's bigint holds it."""
    return bits - (1 << 64) if bits >= 1 << 63 else bits


@dataclass(frozen=True, slots=True)
class Guild:
    id: int
    name: str
    icon: str | None
    description: str | None
    owner_id: int
    afk_channel_id: int | None
    afk_timeout: int
    system_channel_id: int | None
    verification_level: int
    default_message_notifications: int
    explicit_content_filter: int
    preferred_locale: str

    def to_wire(self, roles: list[Role]) -> dict[str, object]:
        """Discord's guild object, with the keys bot libraries read directly."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": self.icon,
            "icon_hash": self.icon,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": self.description,
            "owner_id": str(self.owner_id),
            "afk_channel_id": _id(self.afk_channel_id),
            "afk_timeout": self.afk_timeout,
            "widget_enabled": False,
            "widget_channel_id": None,
            "verification_level": self.verification_level,
            "default_message_notifications": self.default_message_notifications,
            "explicit_content_filter": self.explicit_content_filter,
            "roles": [role.to_wire() for role in roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": _id(self.system_channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_presences": None,
            "max_members": 500_000,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.preferred_locale,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "incidents_data": None,  # no raid or DM-spam alerts: nothing paused
            "hub_type": None,  # not a Student Hub
        }


@dataclass(frozen=True, slots=True)
class Role:
    id: int
    guild_id: int
    name: str
    color: int
    hoist: bool
    unicode_emoji: str | None
    position: int
    permissions: int  # unsigned
    managed: bool
    mentionable: bool

    def to_wire(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": self.unicode_emoji,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }


@dataclass(frozen=True, slots=True)
class Overwrite:
    channel_id: int
    target_id: int
    type: int
    allow: int  # unsigned
    deny: int  # unsigned

    def to_wire(self) -> dict[str, object]:
        return {
            "id": str(self.target_id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }

    def as_native(self) -> tuple[int, int, int, int]:
        return (self.target_id, self.type, self.allow, self.deny)


@dataclass(frozen=True, slots=True)
class Channel:
    id: int
    guild_id: int | None
    type: int
    name: str | None
    topic: str | None
    position: int
    parent_id: int | None
    nsfw: bool
    rate_limit_per_user: int
    bitrate: int | None
    user_limit: int | None
    last_message_id: int | None

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_CHANNEL_TYPES

    def to_wire(self, overwrites: list[Overwrite]) -> dict[str, object]:
        wire: dict[str, object] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": _id(self.guild_id),
            "position": self.position,
            "permission_overwrites": [overwrite.to_wire() for overwrite in overwrites],
            "name": self.name,
            "parent_id": _id(self.parent_id),
            "nsfw": self.nsfw,
            "flags": 0,
        }
        if self.type in VOICE_CHANNEL_TYPES:
            wire.update(bitrate=self.bitrate, user_limit=self.user_limit, rtc_region=None)
        if self.type != ChannelType.GUILD_CATEGORY:
            wire.update(
                topic=self.topic,
                last_message_id=_id(self.last_message_id),
                rate_limit_per_user=self.rate_limit_per_user,
            )
        return wire


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


# Rules.


def check_guild_name(check: FormCheck, name: str) -> None:
    if not NAME_MIN <= len(name.strip()) <= NAME_MAX:
        check.fail(
            "name", "BASE_TYPE_BAD_LENGTH", f"Must be between {NAME_MIN} and {NAME_MAX} in length."
        )


def check_channel_name(check: FormCheck, name: str) -> None:
    if not CHANNEL_NAME_MIN <= len(name.strip()) <= CHANNEL_NAME_MAX:
        check.fail(
            "name",
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between {CHANNEL_NAME_MIN} and {CHANNEL_NAME_MAX} in length.",
        )


def check_role_name(check: FormCheck, name: str) -> None:
    if not 1 <= len(name.strip()) <= ROLE_NAME_MAX:
        check.fail(
            "name", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {ROLE_NAME_MAX} in length."
        )


def check_permission_bits(check: FormCheck, field: str, bits: int) -> None:
    if not 0 <= bits <= ALL_PERMISSIONS:
        check.fail(field, "NUMBER_TYPE_MAX", "Must be a permission set of at most 64 bits.")


def check_color(check: FormCheck, color: int) -> None:
    if not 0 <= color <= MAX_COLOR:
        check.fail(
            "color", "NUMBER_TYPE_MAX", f"int value should be less than or equal to {MAX_COLOR}."
        )


def parse_permissions(raw: str | int) -> int | None:
    """Discord sends permission sets as decimal strings (ints are accepted too)."""
    if isinstance(raw, int):
        return raw if 0 <= raw <= ALL_PERMISSIONS else None
    value = parse_decimal(raw.strip())
    return value if value is not None and 0 <= value <= ALL_PERMISSIONS else None


def highest_position(roles: list[Role], role_ids: list[int]) -> int:
    """The position of the member's highest role; @everyone (0) when they have none."""
    held = set(role_ids)
    return max((role.position for role in roles if role.id in held), default=0)


def new_guild_layout(
    text_category: str = "Text Channels", voice_category: str = "Voice Channels"
) -> list[tuple[str, ChannelType, int, int | None]]:
    """The channels a new guild starts with, as (name, type, position, parent index)."""
    return [
        (text_category, ChannelType.GUILD_CATEGORY, 0, None),
        (voice_category, ChannelType.GUILD_CATEGORY, 1, None),
        ("general", ChannelType.GUILD_TEXT, 0, 0),
        ("General", ChannelType.GUILD_VOICE, 0, 1),
    ]
