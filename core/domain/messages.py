"""Messages: their limits, mentions, emoji, and Discord's message object. Pure."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.domain.components import check_components, is_interactive
from core.domain.snowflakes import MAX_STORED_SNOWFLAKE
from core.domain.timestamps import iso, iso_or_none
from core.errors import FieldError, FormCheck, InvalidForm
from core.snowflakes import decode_snowflake

if TYPE_CHECKING:
    from core.domain.attachments import Upload
    from core.domain.guilds import Role

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_CHARS = 6000  # title, description, field names and values, footer and author, in all
NONCE_MAX = 25
NONCE_WINDOW = dt.timedelta(minutes=5)  # how long enforce_nonce remembers a message
MAX_PINS = 50
BULK_DELETE_MIN, BULK_DELETE_MAX = 2, 100
BULK_DELETE_MAX_AGE = dt.timedelta(days=14)
HISTORY_MAX = 100

# ASCII digits only: re's \d also matches "٣", which int() would take.
_USER_MENTION = re.compile(r"<@!?([0-9]{1,20})>")
_ROLE_MENTION = re.compile(r"<@&([0-9]{1,20})>")
_EVERYONE = re.compile(r"@(everyone|here)\b")
_CUSTOM_EMOJI = re.compile(r"^(?:a:)?([A-Za-z0-9_]{2,32}):([0-9]{1,20})$")


class MessageType:
    DEFAULT = 0
    REPLY = 19
    CHAT_INPUT_COMMAND = 20


class MessageFlag:
    # The flags a message may be posted with; each entry point says which it accepts.
    SUPPRESS_EMBEDS = 1 << 2
    EPHEMERAL = 1 << 6  # interaction responses only
    SUPPRESS_NOTIFICATIONS = 1 << 12


# What a user may set on their messages; what those posting for others may (without EPHEMERAL,
# which only an interaction's response can carry: its caller adds it).
USER_FLAGS = MessageFlag.SUPPRESS_EMBEDS | MessageFlag.SUPPRESS_NOTIFICATIONS
POSTED_FLAGS = USER_FLAGS
_FLAG_NAMES = {
    MessageFlag.SUPPRESS_EMBEDS: "SUPPRESS_EMBEDS (1 << 2)",
    MessageFlag.EPHEMERAL: "EPHEMERAL (1 << 6)",
    MessageFlag.SUPPRESS_NOTIFICATIONS: "SUPPRESS_NOTIFICATIONS (1 << 12)",
}


def check_flags(check: FormCheck, flags: int, allowed: int) -> None:
    if flags & ~allowed:
        names = ", ".join(name for bit, name in _FLAG_NAMES.items() if bit & allowed)
        check.fail("flags", "MESSAGE_FLAGS_INVALID", f"Only these flags can be set: {names}.")


def check_interactive(components: list[dict[str, object]], *, allowed: bool) -> None:
    """Refuses components a person could click or choose from an author who may not send
    them (a person, a webhook no application owns): Discord allows them link buttons only."""
    if not allowed and is_interactive(components):
        raise InvalidForm.one(
            "components",
            "COMPONENT_INTERACTIVE_NOT_ALLOWED",
            "Interactive components can only be sent by applications; link buttons are allowed.",
        )


@dataclass(frozen=True, slots=True)
class Author:
    """Who a message is from: a user (a person or a bot) by id; or a webhook, by its id, with
    the `name` and `avatar` its message shows (Discord's webhook author)."""

    id: int
    name: str | None = None
    avatar: str | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """A message as a client sends it."""

    content: str | None = None
    embeds: list[dict[str, object]] | None = None
    tts: bool = False
    nonce: str | int | None = None
    enforce_nonce: bool = False
    reply_to: int | None = None
    reply_channel_id: int | None = None
    fail_if_not_exists: bool = True
    allowed_mentions: AllowedMentions | None = None
    flags: int = 0
    uploads: tuple[Upload, ...] = ()
    components: list[dict[str, object]] | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """What a message posted for someone else records of who posted it."""

    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict[str, object] | None = None
    message_type: int | None = None  # None: a reply or a default message


@dataclass(frozen=True, slots=True)
class Place:
    """Where a message goes and what its author may do there, decided before writing."""

    guild_id: int | None
    roles: list[Role] | None  # the guild's; None: read only if a role is mentioned
    may_mention_everyone: bool
    interactive: bool  # may post components a person interacts with
    sender: tuple[tuple[object, ...], ...] = ()  # the author's PEOPLE_SELECT row, if read


@dataclass(frozen=True, slots=True)
class Change:
    """An edit: the keys the body gave (`given`) and their values."""

    given: frozenset[str]
    content: str | None = None
    embeds: list[dict[str, object]] | None = None
    flags: int | None = None
    allowed_mentions: AllowedMentions | None = None
    components: list[dict[str, object]] | None = None

    def checked(self, flags_allowed: int) -> Change:
        """This edit with its components normalized; InvalidForm for every problem."""
        check = FormCheck()
        check_message(check, self.content, self.embeds, needs_body=False)
        if self.flags is not None:
            check_flags(check, self.flags, flags_allowed)
        components = None if self.components is None else check_components(check, self.components)
        if self.allowed_mentions is not None:
            check_allowed_mentions(check, self.allowed_mentions)
        check.done()
        return Change(
            self.given, self.content, self.embeds, self.flags, self.allowed_mentions, components
        )


def created_at(snowflake: int) -> dt.datetime:
    """When a snowflake was issued: a message's timestamp."""
    unix_ms = decode_snowflake(snowflake)[0]
    return dt.datetime.fromtimestamp(unix_ms / 1000, dt.UTC)


@dataclass(frozen=True, slots=True)
class AllowedMentions:
    """Discord's `allowed_mentions`; None fields mean "not given"."""

    parse: tuple[str, ...] | None = None
    users: tuple[int, ...] | None = None
    roles: tuple[int, ...] | None = None
    replied_user: bool = False


@dataclass(frozen=True, slots=True)
class Mentions:
    user_ids: tuple[int, ...]
    role_ids: tuple[int, ...]
    everyone: bool


def parse_mentions(
    content: str, allowed: AllowedMentions | None, *, may_mention_everyone: bool
) -> Mentions:
    """Who `content` mentions, as `allowed_mentions` permits (absent: everything parses).
    @everyone and @here count only for those with MENTION_EVERYONE."""
    # An id no stored object can have (above bigint) mentions nobody.
    users = list(dict.fromkeys(_stored_ids(_USER_MENTION.findall(content))))
    roles = list(dict.fromkeys(_stored_ids(_ROLE_MENTION.findall(content))))
    everyone = bool(_EVERYONE.search(content))
    if allowed is not None:
        parse = set(allowed.parse or ())
        users = [u for u in users if "users" in parse or u in (allowed.users or ())]
        roles = [r for r in roles if "roles" in parse or r in (allowed.roles or ())]
        everyone = everyone and "everyone" in parse
    return Mentions(tuple(users), tuple(roles), everyone and may_mention_everyone)


def _stored_ids(found: list[str]) -> list[int]:
    return [int(text) for text in found if int(text) <= MAX_STORED_SNOWFLAKE]


def check_allowed_mentions(check: FormCheck, allowed: AllowedMentions) -> None:
    parse = set(allowed.parse or ())
    if not parse <= {"users", "roles", "everyone"}:
        check.fail(
            "allowed_mentions",
            "MESSAGE_ALLOWED_MENTIONS_PARSE_INVALID",
            "parse takes users, roles and everyone.",
        )
    if "users" in parse and allowed.users:
        check.fail(
            "allowed_mentions",
            "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
            'parse:["users"] and users are mutually exclusive.',
        )
    if "roles" in parse and allowed.roles:
        check.fail(
            "allowed_mentions",
            "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
            'parse:["roles"] and roles are mutually exclusive.',
        )
    if len(allowed.users or ()) > 100 or len(allowed.roles or ()) > 100:
        check.fail("allowed_mentions", "BASE_TYPE_MAX_LENGTH", "At most 100 users and 100 roles.")


def embed_chars(embed: dict[str, object]) -> int:
    """The characters Discord counts against an embed's total."""
    total = 0
    for key in ("title", "description"):
        value = embed.get(key)
        total += len(value) if isinstance(value, str) else 0
    for part, key in (("footer", "text"), ("author", "name")):
        value = embed.get(part)
        if isinstance(value, dict) and isinstance(value.get(key), str):
            total += len(value[key])
    fields = embed.get("fields")
    if isinstance(fields, list):
        for item in fields:
            if isinstance(item, dict):
                total += sum(
                    len(item[k]) for k in ("name", "value") if isinstance(item.get(k), str)
                )
    return total


def check_message(
    check: FormCheck,
    content: str | None,
    embeds: list[dict[str, object]] | None,
    *,
    needs_body: bool,
) -> None:
    if content is not None and len(content) > MAX_CONTENT:
        check.fail("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
    if embeds is not None:
        if len(embeds) > MAX_EMBEDS:
            check.fail(
                "embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."
            )
        elif sum(embed_chars(e) for e in embeds) > MAX_EMBED_CHARS:
            check.fail(
                "embeds",
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {MAX_EMBED_CHARS}",
            )
    if needs_body and not (content or "").strip() and not embeds:
        check.errors.setdefault((), []).append(
            FieldError("MESSAGE_EMPTY", "Cannot send an empty message")
        )


def check_nonce(check: FormCheck, nonce: str | int | None) -> str | None:
    """The nonce as text; Discord takes an integer or a string of at most 25 characters."""
    if nonce is None:
        return None
    text = str(nonce)
    if isinstance(nonce, int) and not -(2**63) <= nonce < 2**63:
        check.fail("nonce", "NUMBER_TYPE_MAX", "Must be a 64-bit integer or a string.")
    elif len(text) > NONCE_MAX:
        check.fail("nonce", "BASE_TYPE_MAX_LENGTH", f"Must be {NONCE_MAX} or fewer in length.")
    return text


def emoji_key(raw: str) -> str:
    """The emoji of a reaction route: a Unicode emoji, or `name:id` for a custom one.
    InvalidForm for anything else (Discord answers 10014 for custom emoji it lacks)."""
    text = raw.strip()
    custom = _CUSTOM_EMOJI.match(text)
    if custom:
        return f"{custom[1]}:{custom[2]}"
    if 0 < len(text) <= 32 and all(_emoji_char(c) for c in text):
        return text
    raise InvalidForm.one("emoji", "EMOJI_INVALID", "Use a Unicode emoji or name:id.")


def _emoji_char(char: str) -> bool:
    # Emoji are symbols (So), plus the joiners, selectors and modifiers that build sequences.
    return (
        unicodedata.category(char) in ("So", "Sk", "Mn", "Me", "Cf")
        or char in "\u200d\ufe0f#*0123456789"
        or 0x1F1E6 <= ord(char) <= 0x1F1FF
    )


def emoji_wire(key: str) -> dict[str, object]:
    custom = _CUSTOM_EMOJI.match(key)
    if custom:
        return {"id": custom[2], "name": custom[1]}
    return {"id": None, "name": key}


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made
# building a 50-message page's rows cost 2.5 times as much (230 µs against 130).
@dataclass(slots=True)
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    type: int
    content: str
    flags: int
    tts: bool
    mention_everyone: bool
    mention_ids: list[int]
    mention_role_ids: list[int]
    embeds: list[dict[str, object]]
    nonce: str | None
    referenced_message_id: int | None
    pinned_at: dt.datetime | None
    edited_at: dt.datetime | None
    # Posted by someone other than a connected user (migrations/0011_webhooks.sql).
    components: list[dict[str, object]] = field(default_factory=list)
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict[str, object] | None = None
    author_name: str | None = None  # set: a webhook's message, shown with this name
    author_avatar: str | None = None


def webhook_author(message: Message) -> dict[str, object]:
    """The author Discord shows on a webhook's message: the webhook, as a bot user, with the
    name and avatar it posted with."""
    return {
        "id": str(message.author_id),
        "username": message.author_name,
        "avatar": message.author_avatar,
        "discriminator": "0000",
        "global_name": None,
        "bot": True,
        "public_flags": 0,
        "flags": 0,
    }


@dataclass(frozen=True, slots=True)
class Reaction:
    emoji: str
    count: int
    me: bool


@dataclass(slots=True)
class MessageView:
    """A message with what its wire object embeds, loaded by the store."""

    message: Message
    author: dict[str, object]
    member: dict[str, object] | None
    mentions: list[dict[str, object]] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    attachments: list[dict[str, object]] = field(default_factory=list)
    referenced: MessageView | None = None
    referenced_missing: bool = False

    def to_wire(self, *, nonce: bool = False) -> dict[str, object]:
        """Discord's message object, with the keys client libraries index directly."""
        message = self.message
        wire: dict[str, object] = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": self.author,
            "content": message.content,
            "timestamp": iso(created_at(message.id)),
            "edited_timestamp": iso_or_none(message.edited_at),
            "tts": message.tts,
            "mention_everyone": message.mention_everyone,
            "mentions": self.mentions,
            "mention_roles": [str(r) for r in message.mention_role_ids]
            if message.mention_role_ids
            else [],
            "attachments": self.attachments,
            "embeds": message.embeds,
            "pinned": message.pinned_at is not None,
            "type": message.type,
            "flags": message.flags,
            "components": message.components,
        }
        # Absent unless set, as on Discord's messages.
        if message.webhook_id is not None:
            wire["webhook_id"] = str(message.webhook_id)
        if message.application_id is not None:
            wire["application_id"] = str(message.application_id)
        if message.interaction_metadata is not None:
            wire["interaction_metadata"] = message.interaction_metadata
        if message.guild_id is not None:
            wire["guild_id"] = str(message.guild_id)
        if self.member is not None:
            wire["member"] = self.member
        if self.reactions:
            wire["reactions"] = [
                {
                    "count": r.count,
                    "count_details": {"burst": 0, "normal": r.count},
                    "me": r.me,
                    "me_burst": False,
                    "burst_colors": [],
                    "emoji": emoji_wire(r.emoji),
                }
                for r in self.reactions
            ]
        if nonce and message.nonce is not None:
            wire["nonce"] = message.nonce
        if message.referenced_message_id is not None:
            wire["message_reference"] = {
                "type": 0,
                "message_id": str(message.referenced_message_id),
                "channel_id": str(message.channel_id),
                **({"guild_id": str(message.guild_id)} if message.guild_id else {}),
            }
            wire["referenced_message"] = (
                None if self.referenced is None else self.referenced.to_wire()
            )
        return wire
