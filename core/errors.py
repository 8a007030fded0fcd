"""The one hierarchy of Trioxide's errors. Each wire renders them in exactly one place."""

from __future__ import annotations

from typing import TypeAlias

# Where a field sits in a body: keys and list indexes from the top, `()` for the body itself.
FieldPath: TypeAlias = tuple[str | int, ...]


class TrioxideError(Exception):
    """Base of every error Trioxide raises on purpose."""


class ConfigError(TrioxideError):
    """A setting is missing or out of range. Raised before anything is started."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class MigrationError(TrioxideError):
    """The migrations on disk and the ones recorded in the database disagree, or one failed."""


class ShardingRequired(TrioxideError):
    """A bot identified on a shard that would hold more guilds than one shard may. Only the
    gateway raises it (close 4011); GET /gateway/bot recommends enough shards."""


# Errors a client causes. Each wire maps them in one place (api/errors.py, gateway/close.py).


class ClientError(TrioxideError):
    """The request was wrong or not allowed; nothing was changed."""


class Unauthorized(ClientError):
    """No valid credentials: a missing, malformed, expired or revoked token."""


class MissingAccess(ClientError):
    """Valid credentials, but not for this object (e.g. someone else's application)."""


class UnknownUser(ClientError):
    pass


class UnknownGuild(ClientError):
    """No such guild, or not one the caller is a member of: the same answer, so membership
    of other guilds never leaks."""


class UnknownChannel(ClientError):
    pass


class UnknownRole(ClientError):
    pass


class UnknownMember(ClientError):
    pass


class UnknownInvite(ClientError):
    """No such invite, or it expired or was used up: the same answer for all three."""


class UnknownBan(ClientError):
    pass


class UnknownVoiceState(ClientError):
    """The user is in no voice channel of the guild."""


class NotInVoice(ClientError):
    """A voice move or disconnect of a member who is in no voice channel."""


class WrongChannelType(ClientError):
    """An action that the channel's type does not allow (a stage's, on a voice channel)."""


class UnknownMessage(ClientError):
    pass


class UnknownEmoji(ClientError):
    """A custom emoji this server does not have."""


class NotATextChannel(ClientError):
    """Messages go to text, announcement and voice channels; not to categories."""


class NotTheAuthor(ClientError):
    """Only its author edits a message's content."""


class CannotMessageUser(ClientError):
    """No DM with this user: a block either way, or no guild or friendship in common."""


class MaxPins(ClientError):
    pass


class TooOldToBulkDelete(ClientError):
    pass


class BannedFromGuild(ClientError):
    """A banned user cannot rejoin, through any invite."""


class MissingPermissions(ClientError):
    """A permission the caller lacks, or a role or permission above their own."""


class InvalidGuildAction(ClientError):
    """Something the guild's own rules forbid, such as its owner leaving it."""


class InvalidRole(ClientError):
    """An action @everyone cannot take part in (it cannot be deleted or moved)."""


class UnknownApplication(ClientError):
    pass


class UnknownInteraction(ClientError):
    """No such interaction, a wrong token, or one past its deadline: the same answer for
    all, so a token's answer never tells what exists."""


class InteractionAlreadyAcknowledged(ClientError):
    """An interaction takes one callback."""


class UnknownCommand(ClientError):
    """No such application command in the scope asked about."""


class MaxCommands(ClientError):
    """An application has as many commands of one type in one scope as Discord allows."""


class UnknownWebhook(ClientError):
    pass


class InvalidWebhookToken(ClientError):
    """A webhook's token that is not its token (Discord's 50027, whatever was wrong)."""


class MaxWebhooks(ClientError):
    """A channel with Discord's most webhooks (15) already."""


class InvalidJson(ClientError):
    """The body is not UTF-8 JSON."""


class PayloadTooLarge(ClientError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"request body over {max_bytes} bytes")
        self.max_bytes = max_bytes


class FieldError:
    """One problem with one field: Discord's `{code, message}` pair."""

    __slots__ = ("code", "message")

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"FieldError({self.code!r}, {self.message!r})"


class InvalidForm(ClientError):
    """Fields that are missing, mistyped or break a rule, keyed by their path
    (`("recipients", 0)`; the empty path is the body itself)."""

    def __init__(self, errors: dict[tuple[str | int, ...], list[FieldError]]) -> None:
        super().__init__(", ".join(".".join(map(str, path)) or "body" for path in errors))
        self.errors = errors

    @classmethod
    def one(cls, field: str, code: str, message: str) -> InvalidForm:
        return cls({(field,): [FieldError(code, message)]})


class FormCheck:
    """Collects every field error of a form, so a client learns them all at once: the one way
    to build Discord's 50035 tree."""

    def __init__(self) -> None:
        self.errors: dict[FieldPath, list[FieldError]] = {}

    def fail(self, field: str, code: str, message: str) -> None:
        self.fail_at((field,), code, message)

    def fail_at(self, path: FieldPath, code: str, message: str) -> None:
        """A problem with the field at `path`, however deep (`("options", 0, "name")`)."""
        self.errors.setdefault(path, []).append(FieldError(code, message))

    def done(self) -> None:
        """Raises InvalidForm if any check failed."""
        if self.errors:
            raise InvalidForm(self.errors)


class RateLimited(ClientError):
    """Over a rate limit. `scope` is Discord's X-RateLimit-Scope: user, global or shared."""

    def __init__(self, retry_after_s: float, *, scope: str, is_global: bool) -> None:
        super().__init__(f"rate limited for {retry_after_s:.3f} s ({scope})")
        self.retry_after_s = retry_after_s
        self.scope = scope
        self.is_global = is_global
