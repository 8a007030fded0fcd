"""The one map from what went wrong on a voice connection to the close code it ends with.

Handlers raise; only `close_for` chooses a code. The codes are Discord's "Voice Close Event
Codes" (Opcodes and Status Codes docs). What the two libraries do with them decided the
choices that the docs leave open:

- discord.py (voice_state.py, _poll_voice_ws) resumes after 4015, gives up after 1000, 4014,
  4021 and 4022, and after any other code leaves and joins the channel again (op 4) with a
  fresh IDENTIFY.
- @discordjs/voice (Networking.onWsClose, VoiceConnection.onNetworkingClose) resumes after
  4015 and any code under 4000, gives up after 4014, and after any other code joins again
  (op 4).

So a drain closes with 1001 (RFC 6455 "going away"): this node is leaving and a RESUME to it
cannot succeed, and 1001 sends both libraries through a fresh join, which names a node that
is still there (discord.js first tries its RESUME, which fails fast on a closed listener).
4015 is kept for our own faults, where the node lives on and the session is still here.

Closes the client starts. A session outlives its socket only if a RESUME can follow:
- @discordjs/voice closes with no status code (1005 as received) after three unanswered
  heartbeats, and resumes; it closes 1000 when it is done (Networking.destroy, having
  stopped listening for the close), and joins again for anything else.
- discord.py closes 1000 when it leaves, 4014 when a VOICE_SERVER_UPDATE moves it (then
  IDENTIFYs afresh), 4000 when heartbeats go unanswered (then leaves and joins again); it
  never resumes after a close of its own.
So a close frame from the client ends the session at once (out of the SFU, CLIENT_DISCONNECT
to the call), unless it carries no status code; a socket that just went away (no close frame,
1006 as trio-websocket reports it) keeps it, as does our own 4015 or 4009.
"""

from __future__ import annotations

import enum


class VoiceClose(enum.IntEnum):
    """Discord's voice close event codes, and the RFC 6455 ones we send."""

    NORMAL = 1000
    GOING_AWAY = 1001  # RFC 6455: the server is going down (a drain)
    UNKNOWN_OPCODE = 4001
    FAILED_TO_DECODE = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    SESSION_NO_LONGER_VALID = 4006
    SESSION_TIMEOUT = 4009
    SERVER_NOT_FOUND = 4011
    UNKNOWN_PROTOCOL = 4012
    DISCONNECTED = 4014
    VOICE_SERVER_CRASHED = 4015
    UNKNOWN_ENCRYPTION_MODE = 4016
    BAD_REQUEST = 4020
    RATE_LIMITED = 4021
    CALL_TERMINATED = 4022


# After these closes of ours the session is kept for the resume window, as after a socket
# that just went away: a fault or a slow socket of ours (4015, which both libraries resume
# after), and a missed heartbeat (a network that lapsed is what resuming is for). After any
# other code of ours the session leaves its call.
KEEPS_SESSION = frozenset({VoiceClose.VOICE_SERVER_CRASHED, VoiceClose.SESSION_TIMEOUT})

# The client's ends after which the session is kept: a close frame without a status code
# (@discordjs/voice's after missed heartbeats, which it follows with a RESUME), and no close
# frame at all (a reset or an EOF: the network, not the client, ended it).
NO_STATUS = 1005
ABNORMAL = 1006
CLIENT_ENDS_KEEPING_SESSION = frozenset({NO_STATUS, ABNORMAL})


class Closing(Exception):
    """Ends the conversation with `code`. Raised by the handlers, for close_for to read."""

    code: VoiceClose = VoiceClose.VOICE_SERVER_CRASHED
    reason: str = "Voice server crashed: resume"

    def __init__(self, reason: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        super().__init__(self.reason)


class UnknownOpcode(Closing):
    code, reason = VoiceClose.UNKNOWN_OPCODE, "Unknown opcode"


class FailedToDecode(Closing):
    code, reason = VoiceClose.FAILED_TO_DECODE, "Failed to decode payload"


class NotAuthenticated(Closing):
    code, reason = VoiceClose.NOT_AUTHENTICATED, "Not authenticated"


class AuthenticationFailed(Closing):
    code, reason = VoiceClose.AUTHENTICATION_FAILED, "Authentication failed"


class AlreadyAuthenticated(Closing):
    code, reason = VoiceClose.ALREADY_AUTHENTICATED, "Already authenticated"


class SessionNoLongerValid(Closing):
    code, reason = VoiceClose.SESSION_NO_LONGER_VALID, "Session no longer valid"


class SessionTimeout(Closing):
    code, reason = VoiceClose.SESSION_TIMEOUT, "Session timeout"


class ServerNotFound(Closing):
    code, reason = VoiceClose.SERVER_NOT_FOUND, "Server not found"


class UnknownProtocol(Closing):
    code, reason = VoiceClose.UNKNOWN_PROTOCOL, "Unknown protocol"


class UnknownEncryptionMode(Closing):
    code, reason = VoiceClose.UNKNOWN_ENCRYPTION_MODE, "Unknown encryption mode"


class BadRequest(Closing):
    code, reason = VoiceClose.BAD_REQUEST, "Bad request"


class RateLimited(Closing):
    # Documented ("Disconnect due to rate limit exceeded. Should not reconnect"): discord.py
    # gives up after it; @discordjs/voice joins again (op 4), through the main gateway's own
    # rate limit.
    code, reason = VoiceClose.RATE_LIMITED, "Disconnected: rate limited"


class Draining(Closing):
    code, reason = VoiceClose.GOING_AWAY, "Voice server going away: join again"


# The node's own closes (moderation, a deleted channel, a drain): told to a session's task.
DISCONNECTED = (VoiceClose.DISCONNECTED, "Disconnected")
CALL_TERMINATED = (VoiceClose.CALL_TERMINATED, "Disconnected: call terminated")
DRAINING = (Draining.code, Draining.reason)
SUPERSEDED = (VoiceClose.SESSION_NO_LONGER_VALID, "Session no longer valid: identified again")
SLOW = (VoiceClose.VOICE_SERVER_CRASHED, "Voice server crashed: resume")


def close_for(error: Exception) -> tuple[int, str]:
    """The close code and reason a connection ends with after `error` (a fault of ours is
    4015: the session stays for a RESUME, which both libraries attempt)."""
    if isinstance(error, Closing):
        return error.code, error.reason
    return VoiceClose.VOICE_SERVER_CRASHED, "Voice server crashed: resume"
