"""The one map from what went wrong on a connection to the close code it ends with.

Handlers raise; only `close_for` chooses a code. Discord's close codes (Gateway docs, "Gateway
Close Event Codes") say which a client may resume after: 4000 (and 1011) it resumes, 4004 and
4010-4014 it must not retry. A fault of ours, or a store that is down, ends only this
connection, with a code that lets the client come back: 4000 when it has a session to resume,
1011 before it has one.
"""

from __future__ import annotations

import enum

from core.errors import ShardingRequired, Unauthorized
from core.faults import is_outage
from gateway.websocket import ProtocolError


class Close(enum.IntEnum):
    """Discord's gateway close codes, and the two RFC 6455 codes we send."""

    NORMAL = 1000
    INTERNAL_ERROR = 1011  # RFC 6455: the server met a condition it did not expect
    UNKNOWN_ERROR = 4000  # Discord: "reconnect and resume"
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011
    INVALID_API_VERSION = 4012
    INVALID_INTENTS = 4013
    DISALLOWED_INTENTS = 4014


class Closing(Exception):
    """Ends the conversation with `code`. Raised by the handlers, for close_for to read."""

    code: Close = Close.UNKNOWN_ERROR
    reason: str = "reconnect and resume"

    def __init__(self, reason: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        super().__init__(self.reason)


class Resumable(Closing):
    """Reconnect and resume: a missed heartbeat, a slow consumer, a drain, an outage."""


class UnknownOpcode(Closing):
    code, reason = Close.UNKNOWN_OPCODE, "Unknown opcode"


class DecodeError(Closing):
    code, reason = Close.DECODE_ERROR, "Error while decoding payload"


class NotAuthenticated(Closing):
    code, reason = Close.NOT_AUTHENTICATED, "Not authenticated"


class AuthenticationFailed(Closing):
    code, reason = Close.AUTHENTICATION_FAILED, "Authentication failed"


class AlreadyAuthenticated(Closing):
    code, reason = Close.ALREADY_AUTHENTICATED, "Already authenticated"


class InvalidSeq(Closing):
    code, reason = Close.INVALID_SEQ, "Invalid seq"


class RateLimited(Closing):
    code, reason = Close.RATE_LIMITED, "You are being rate limited."


class SessionTimedOut(Closing):
    code, reason = Close.SESSION_TIMED_OUT, "Session timed out"


class InvalidShard(Closing):
    code, reason = Close.INVALID_SHARD, "Invalid shard"


class InvalidApiVersion(Closing):
    code, reason = Close.INVALID_API_VERSION, "Invalid API version"


class InvalidIntents(Closing):
    code, reason = Close.INVALID_INTENTS, "Invalid intent(s)"


class DisallowedIntents(Closing):
    code, reason = Close.DISALLOWED_INTENTS, "Disallowed intent(s)"


class ClientClosed(Exception):
    """The client sent a close frame: echoed back with its code (RFC 6455, 5.5.1)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code

    @property
    def echo(self) -> int:
        """The code to answer with: the client's, unless no endpoint may send it (RFC 6455,
        7.4: 1005, 1006 and 1015 are never sent; below 1000 and past 4999 are not codes),
        which is a protocol error (1002)."""
        if 1000 <= self.code < 5000 and self.code not in (1004, 1005, 1006, 1015):
            return self.code
        return 1002


def close_for(error: Exception, *, has_session: bool) -> tuple[int, str]:
    """The close code and reason a connection ends with after `error`."""
    if isinstance(error, Closing):
        return error.code, error.reason
    if isinstance(error, ProtocolError):  # RFC 6455's own; a message too large is Discord's
        return (Close.DECODE_ERROR if error.code == 1009 else error.code), error.reason
    if isinstance(error, Unauthorized):
        return AuthenticationFailed.code, AuthenticationFailed.reason
    if isinstance(error, ShardingRequired):
        return Close.SHARDING_REQUIRED, "Sharding required"
    if is_outage(error) or has_session:
        return Close.UNKNOWN_ERROR, "reconnect and resume"
    return Close.INTERNAL_ERROR, "internal error: reconnect"
